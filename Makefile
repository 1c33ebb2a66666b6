# Two commands do all the set-up on a fresh machine:
#   make run    install the daemon and serve the preview world on 127.0.0.1:47800
#   make test   install everything (system packages too) and run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run client test bench install install-test system-deps clean

run: $(VENV)/.installed
	$(BIN)/yume-bridge serve $(ARGS)

# A second terminal, while `make run` serves: a scripted walk, frames into out/frames/.
client: $(VENV)/.installed
	$(BIN)/yume-bridge client --out out/frames --force $(ARGS)

# Two test processes (a file's tests stay together), the slowest ten listed at the end.
test: system-deps $(VENV)/.installed-test
	$(BIN)/ruff check yume_bridge tests benchmarks protocol examples
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=10 $(PYTEST_ARGS)

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

# TORCH_INDEX: a wheel index to take torch from, e.g. PyTorch's CPU-only index on a Linux box without a GPU
# (otherwise pip may fetch the multi-gigabyte CUDA build).
$(VENV)/.installed-test: $(VENV)/bin/python setup.cfg pyproject.toml
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet --index-url $(TORCH_INDEX) "torch==2.13.0")
	$(BIN)/python -m pip install --quiet -e ".[model,test]"
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build plugins/unity/build plugins/unreal/tests/build .pytest_cache
