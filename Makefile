# Two commands do everything on a fresh machine with only Python and make:
#   make demo   create .venv, install arrayrt, run the demo model on every available device
#   make test   create .venv, install the test extras, run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JOBS ?= auto

.PHONY: demo test test-quick bench bench-openvino gpu-check venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,npu]"
	touch $@ $(VENV)/.installed-base

venv: $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/arrayrt demo

test: $(VENV)/.installed-test
	$(BIN)/pytest -n $(JOBS) tests

test-quick: $(VENV)/.installed-test
	$(BIN)/pytest -n $(JOBS) -m "not slow" tests

$(VENV)/.installed-bench: pyproject.toml setup.py $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[test,npu,bench]"
	touch $@

# the asv suite (benchmarks/asv_suite) once on every backend present, in this environment; the
# HTML goes to .asv/html (asv preview serves it). Compare two commits: asv continuous main HEAD
bench: $(VENV)/.installed-bench
	$(BIN)/asv machine --yes
	$(BIN)/asv run --python=same --quick --show-stderr $(ASV_ARGS)
	$(BIN)/asv publish
	@echo "asv HTML written to .asv/html/index.html; serve it with: $(BIN)/asv preview"

# arrayrt against the installed OpenVINO on the same models
bench-openvino: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/compare_openvino.py

# on a machine with an NVIDIA GPU and the gpu extra installed; needs no network
gpu-check:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -m arrayrt.tools.gpu_check

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
