# Two commands do everything on a fresh machine with only Python and make:
#   make demo   create .venv, install arrayrt, run the demo model on every available device
#   make test   create .venv, install the test extras, run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JOBS ?= auto

.PHONY: demo test test-quick bench gpu-check venv clean

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

bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/compare_openvino.py

# on a machine with an NVIDIA GPU and the gpu extra installed; needs no network
gpu-check:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -m arrayrt.tools.gpu_check

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
