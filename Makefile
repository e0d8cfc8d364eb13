# The front-door commands: `make demo`, `make test`, `make lab` (notebooks) and `make docs` (the site).
# Each creates .venv on first use and installs what it needs, at the versions of requirements/lock.txt
# (pip's -c: the lock constrains versions, pyproject.toml says what is needed). `make lock` refreshes the
# lock; `make test-latest` runs the suite on the newest releases instead (.venv-latest, no lock).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCK := requirements/lock.txt
# Every install into .venv goes through the lock (-c: versions only; pyproject.toml says what is needed).
PIP := $(PY) -m pip install -q --disable-pip-version-check -c $(LOCK)
# torch is installed first, from PyPI by default: on Linux that is the CUDA build, which also runs on a
# CPU. For the smaller CPU-only build: make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
# (an extra index: pip takes its 2.13.0+cpu over PyPI's 2.13.0; read when the venv is built: `make clean`
# first to switch). `pip install -e .` then keeps that torch.
TORCH_INDEX ?=
TORCH_FIRST = $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) torch
# make docs FULL=1 executes the notebooks at the demo preset (publishing); otherwise small (SMOKE), as CI.
FULL ?=
SPHINXOPTS ?= -W --keep-going
# The resolver `make lock` runs (uv: one universal lock for every Python >= 3.10 and platform).
UV_SPEC ?= uv==0.13.9
# make lock UPGRADE=1: every pin to its newest release; plain `make lock` keeps the pins it can.
UPGRADE ?=
# make test-latest PYTEST_ARGS="tests/viz": a part of the suite only.
PYTEST_ARGS ?=

.PHONY: demo test test-latest lab docs doc-tables bench clean app lock

# The lock is a prerequisite: a changed lock reinstalls (pip moves each package to its pin).
$(VENV)/.core: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) $(TORCH_FIRST)
	$(PIP) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) -e ".[dev]"
	touch $@

$(VENV)/.docs: $(VENV)/.core
	$(PIP) -e ".[docs]"
	touch $@

demo: $(VENV)/.core
	$(PY) -m fairdd demo --dataset colored-mnist-5k

test: $(VENV)/.dev
	$(PY) -m pytest -q

# Drift check (not in CI's run): a separate venv, every dependency at its newest release (no lock),
# upgraded on each call. Green here and red with `make test` (or the reverse) means: refresh the lock.
test-latest: LATEST := .venv-latest/bin/python -m pip install -q --disable-pip-version-check
test-latest:
	$(PYTHON) -m venv .venv-latest
	$(LATEST) --upgrade pip
	$(LATEST) --upgrade --upgrade-strategy eager $(TORCH_FIRST)
	$(LATEST) --upgrade --upgrade-strategy eager -e ".[dev]"
	.venv-latest/bin/python -m pip list --format=freeze | grep -iE '^(torch|numpy|scipy|scikit-learn|umap-learn|numba|pandas)=' || true
	.venv-latest/bin/python -m pytest -q $(PYTEST_ARGS)

# Refresh requirements/lock.txt from pyproject.toml (every extra) and requirements/lock.in (pins).
# Run it after changing a dependency or an extra, and commit the lock with the change.
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q --disable-pip-version-check "$(UV_SPEC)"
	.venv-lock/bin/uv pip compile pyproject.toml --all-extras --universal --python-version 3.10 \
		-c requirements/lock.in $(if $(UPGRADE),--upgrade) --custom-compile-command "make lock" -o $(LOCK)

lab: $(VENV)/.dev
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

# -E: a fresh build every time, so every notebook is executed with this run's settings
docs: $(VENV)/.docs
	FAIRDD_SMOKE=$(if $(FULL),0,1) $(PY) -m sphinx -E $(SPHINXOPTS) -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# The preset tables of docs/method.md and docs/protocol.md, rewritten from fairdd.config (the site fills them itself).
doc-tables: $(VENV)/.core
	$(PY) docs/_ext/generated_tables.py

bench: $(VENV)/.core
	$(PY) benchmarks/dm_step.py

clean:
	rm -rf $(VENV) .venv-latest .venv-lock results .pytest_cache docs/_build docs/notebooks

# The live dashboard as an app for a workshop room (no network needed): notebook 03 under Voila.
app: $(VENV)/.dev
	JUPYTER_PATH=$(CURDIR)/fairdd/widgets/jupyter FAIRDD_WORKSHOP=1 $(VENV)/bin/voila \
		notebooks/03_live_distillation.ipynb --template=fairdd \
		--MappingKernelManager.cull_idle_timeout=600 --MappingKernelManager.cull_interval=60
