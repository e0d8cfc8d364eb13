# The two front-door commands: `make demo` and `make test` (and `make lab` for the notebooks).
# Each creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
# The CPU wheel of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test lab bench clean app

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) "$(TORCH_SPEC)"
	$(PIP) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) -e ".[dev]"
	touch $@

demo: $(VENV)/.core
	$(PY) -m fairdd demo

test: $(VENV)/.dev
	$(PY) -m pytest -q

lab: $(VENV)/.dev
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: $(VENV)/.core
	$(PY) benchmarks/dm_step.py

clean:
	rm -rf $(VENV) results .pytest_cache

# The live dashboard as an app for a workshop room (no network needed): notebook 03 under Voila.
app: $(VENV)/.dev
	JUPYTER_PATH=$(CURDIR)/fairdd/widgets/jupyter FAIRDD_WORKSHOP=1 $(VENV)/bin/voila \
		notebooks/03_live_distillation.ipynb --template=fairdd
