# Everyday commands. `make run` and `make test` are the two set-up-and-go commands of the README.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Where the browser tests find axe-core (installed from npm by `make browser-deps`).
AXE    := .cache/npm/node_modules/axe-core/axe.min.js

.PHONY: setup run index serve test test-fast test-reliability browser-deps lint eval bench bench-large clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: a bare `torch` requirement would pull several GB of CUDA wheels.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

index: setup
	$(BIN)/coiassist index

serve: setup
	$(BIN)/coiassist serve

## The main job: install, index the bundled corpus, serve the chat on 127.0.0.1:7860.
run: setup
	$(BIN)/coiassist index
	$(BIN)/coiassist serve

# Debian's chromium for the browser tests and axe-core for the accessibility check.
browser-deps:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@test -f $(AXE) || npm install --silent --no-save --no-audit --no-fund --prefix .cache/npm axe-core@4

## Install everything and run the whole test suite (what CI runs).
test: setup browser-deps
	$(BIN)/python -m pytest -q tests

# The suite without the browser and chroma-server tests, for a quick loop.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not e2e and not server and not reliability" tests

test-reliability: setup browser-deps
	$(BIN)/python -m pytest -q -m reliability tests

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

eval: setup
	$(BIN)/coiassist eval --out eval-out

bench: setup
	$(BIN)/python bench/run.py

bench-large: setup
	$(BIN)/python bench/run.py --large

clean:
	rm -rf .coiassist eval-out bench/out .pytest_cache .mypy_cache .ruff_cache
