# Two commands for a fresh machine: `make site` and `make test`. Each sets up .venv first.
PYTHON ?= python3
TORCH  ?= torch==2.13.0
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PRESET ?=

.PHONY: site test test-all bench setup clean

setup: $(STAMP)

# torch is installed on its own first so the pinned build is used (an unpinned one pulls a
# multi-GB CUDA build); the package's own `torch>=...` is then already satisfied.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

site: $(STAMP)
	$(BIN)/writeup run all $(if $(PRESET),--preset $(PRESET))
	$(BIN)/writeup build

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q --runslow

bench: $(STAMP)
	$(BIN)/python -m generator.bench

clean:
	rm -rf site artifacts
