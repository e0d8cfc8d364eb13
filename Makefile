# The front-door commands: `make demo`, `make test`, `make lab` (notebooks) and `make docs` (the site).
# Each creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
# torch is installed first, from PyPI by default: on Linux that is the CUDA build, which also runs on a
# CPU. For the smaller CPU-only build: make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
# (read when .venv is created: `make clean` first to switch). `pip install -e .` then keeps that torch.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
# make docs FULL=1 executes the notebooks at the demo preset (publishing); otherwise small (SMOKE), as CI.
FULL ?=
SPHINXOPTS ?= -W --keep-going

.PHONY: demo test lab docs bench clean app

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
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

lab: $(VENV)/.dev
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

# -E: a fresh build every time, so every notebook is executed with this run's settings
docs: $(VENV)/.docs
	FAIRDD_SMOKE=$(if $(FULL),0,1) $(PY) -m sphinx -E $(SPHINXOPTS) -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

bench: $(VENV)/.core
	$(PY) benchmarks/dm_step.py

clean:
	rm -rf $(VENV) results .pytest_cache docs/_build docs/notebooks

# The live dashboard as an app for a workshop room (no network needed): notebook 03 under Voila.
app: $(VENV)/.dev
	JUPYTER_PATH=$(CURDIR)/fairdd/widgets/jupyter FAIRDD_WORKSHOP=1 $(VENV)/bin/voila \
		notebooks/03_live_distillation.ipynb --template=fairdd \
		--MappingKernelManager.cull_idle_timeout=600 --MappingKernelManager.cull_interval=60
