#!/usr/bin/env bash
# One-call GPU check for a machine with no network: it needs the repo (fairdd is pure Python),
# the GPU image's own torch/numpy/pandas, and the Fashion-MNIST IDX files carried in
# data/cache/fashion-mnist (copy them from /usr/share/datasets/fashion-mnist before the call).
# Writes everything under $OUT (default results/gpu_check).
set -uo pipefail
OUT=${OUT:-results/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
PY=${PY:-python3}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
  echo "== smoke on cuda"
  $PY -c "
import fairdd, torch
tr = fairdd.datasets.load('colored-digits', split='train', n_groups=4, size=16)
te = fairdd.datasets.load('colored-digits', split='test', n_groups=4, size=16)
for t in ('vanilla', 'uniform', 'fairdd', 'cobra'):
    r = fairdd.distill(tr, target=t, ipc=2, preset='smoke', depth=2, device='cuda')
    print(t, fairdd.evaluate(r, te, n_models=1, preset='smoke', depth=2, device='cuda').summary())
" || echo "SMOKE FAILED"
  echo "== dm_step benchmark (paper width 128, batch 256/class)"
  $PY benchmarks/dm_step.py --device cuda --ipc 10 50 100 --reps 20 || echo "BENCH FAILED"
  echo "== protocol run: C-FMNIST FG, IPC 10, paper protocol with ${ITER:-2000} DM iterations"
  $PY benchmarks/protocol_run.py --dataset colored-fashion-mnist --preset paper --iterations "${ITER:-2000}" \
      --n-models "${MODELS:-3}" --targets random vanilla fairdd cobra --device cuda --out "$OUT" \
      || echo "PROTOCOL FAILED"
} 2>&1 | tee "$OUT/log.txt"
