#!/usr/bin/env bash
# One-call GPU check for a machine with no network. It needs the repo (fairdd is pure Python), the GPU
# image's own torch/numpy/pandas/sklearn/numba, wheels of umap-learn and pynndescent carried in .whl/
# (for the dashboard timing), and the Fashion-MNIST IDX files carried in data/cache/fashion-mnist
# (copy them from /usr/share/datasets/fashion-mnist). Writes everything under $OUT.
# Knobs: ITER (DM iterations of the reproduce run), MODELS (evaluation models), DASH_STEPS, and
# REPRO_SET (extra options, e.g. REPRO_SET="--set compile=true --eval-set compile=true --set refresh_every=5").
set -uo pipefail
OUT=${OUT:-results/gpu_check}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
PY=${PY:-python3}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
  echo "== smoke on cuda (every target, batched and sequential evaluation)"
  $PY -c "
import fairdd
tr = fairdd.datasets.load('colored-digits', split='train', n_groups=4, size=16)
te = fairdd.datasets.load('colored-digits', split='test', n_groups=4, size=16)
for t in ('vanilla', 'uniform', 'fairdd', 'cobra'):
    r = fairdd.distill(tr, target=t, ipc=2, preset='smoke', depth=2, device='cuda')
    a = fairdd.evaluate(r, te, n_models=2, preset='smoke', depth=2, device='cuda', batched=True)
    b = fairdd.evaluate(r, te, n_models=2, preset='smoke', depth=2, device='cuda', batched=False)
    print(t, a.summary(), '| seq acc', round(b.accuracy, 2))
" || echo "SMOKE FAILED"
  echo "== host syncs on CUDA: a second DM/DC iteration per target under torch.cuda.set_sync_debug_mode('error')"
  $PY -c "
import torch, fairdd
from fairdd.config import distill_config
from fairdd.distill import Distiller
tr = fairdd.datasets.load('colored-digits', split='train', n_groups=4, size=16)
for m, t in (('dm', 'vanilla'), ('dm', 'uniform'), ('dm', 'fairdd'), ('dm', 'cobra'), ('dc', 'cobra')):
    d = Distiller(tr, distill_config(method=m, target=t, ipc=2, preset='smoke', depth=2), device='cuda')
    d.step()
    torch.cuda.set_sync_debug_mode('error')
    try:
        d.step(); torch.cuda.set_sync_debug_mode(0); print(m, t, 'no host sync')
    except RuntimeError as e:
        torch.cuda.set_sync_debug_mode(0); print(m, t, 'SYNC:', str(e)[:160])
" || echo "SYNC CHECK FAILED"
  echo "== dm_step: vectorised vs loop, and the bf16 / channels_last / compile levers (width 128, batch 256/class)"
  $PY benchmarks/dm_step.py --device cuda --ipc 10 50 100 --reps 20 --levers || echo "BENCH FAILED"
  echo "== COBRA-DM iteration shares (warm start / real embedding / synthetic step), eager vs compile(+bf16)"
  $PY benchmarks/iteration_shares.py --device cuda --ipc 10 50 --reps 10 || echo "SHARES FAILED"
  echo "== evaluation: models trained together vs one after another (width 128, 100 epochs)"
  $PY benchmarks/eval_batched.py --device cuda --models 5 10 --epochs 100 --levers || echo "EVAL BENCH FAILED"
  echo "== dashboard timings on the GPU (colored-fashion-mnist, demo preset)"
  $PY benchmarks/dashboard_timing.py --dataset colored-fashion-mnist --device cuda --steps ${DASH_STEPS:-20} \
      || echo "DASHBOARD FAILED"
  echo "== fairdd reproduce: C-FMNIST FG, DM, IPC 10, paper protocol with ${ITER:-1000} iterations"
  $PY -m fairdd reproduce colored-fashion-mnist --method dm --ipc 10 --n-models "${MODELS:-5}" --device cuda \
      --out "$OUT/reproduce" --set iterations="${ITER:-1000}" ${REPRO_SET:-} || echo "REPRODUCE FAILED"
} 2>&1 | tee "$OUT/log.txt"
cp "$OUT"/reproduce/*.md "$OUT"/ 2>/dev/null || true
