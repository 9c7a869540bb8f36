# Two commands for a fresh machine: `make site` and `make test`. Each sets up .venv first.
PYTHON ?= python3
TORCH  ?= torch==2.13.0
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install -q --disable-pip-version-check --no-compile
STAMP  := $(VENV)/.installed-stamp
DEV    := $(VENV)/.dev-stamp
PRESET ?=

.PHONY: site test test-all test-tools bench setup clean

setup: $(DEV)

# torch is installed on its own first so the pinned build is used (an unpinned one pulls a
# multi-GB CUDA build); the package's own `torch>=...` is then already satisfied. `make site`
# needs only the package; the test tools (diffusers, transformers, the HTML checker) come with
# `make test`. --no-compile: Python compiles what it imports, on first use, instead of every
# file of every package now (half the setup time).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) $(TORCH)
	$(PIP) -e .
	touch $(STAMP)

$(DEV): $(STAMP)
	$(PIP) -e '.[dev]'
	touch $(DEV)

site: $(STAMP)
	$(BIN)/writeup run all $(if $(PRESET),--preset $(PRESET))
	$(BIN)/writeup build

# The browser and HTML-validator tests need chromium and java: installed where apt can (as root),
# otherwise those tests skip and say why.
test-tools:
	@command -v chromium >/dev/null && command -v java >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium default-jre-headless >/dev/null; } || \
	  echo "note: chromium or java missing; browser and HTML-validator tests will skip, saying why"

# -n: one test process a core, at most 4 (each holds torch and a model: about 1 GB); loadgroup:
# the tests that share a smoke run (xdist_group) run in one process, so the run is made once
test: $(DEV) test-tools
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadgroup

test-all: $(DEV)
	$(BIN)/python -m pytest -q --runslow

bench: $(DEV)
	$(BIN)/python -m generator.bench

clean:
	rm -rf site artifacts
