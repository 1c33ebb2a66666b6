# Two commands do all the set-up on a fresh machine:
#   make run    install the daemon and serve the preview world on 127.0.0.1:47800
#   make test   install everything (system packages too) and run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench install install-test system-deps clean

run: $(VENV)/.installed
	$(BIN)/yume-bridge serve $(ARGS)

test: system-deps $(VENV)/.installed-test
	$(BIN)/ruff check yume_bridge tests benchmarks protocol examples
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/yume-bridge bench

system-deps:
	bash scripts/install-system-deps.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[model,test]"
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build plugins/unity/build plugins/unreal/tests/build .pytest_cache
