# Two commands do all the set-up: `make book` builds the book, `make test` runs the tests.
# Both create (or reuse) the virtual environment in .venv and install lampkit into it.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.lampkit-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: install test book clean-book

install: $(STAMP)

# torch==2.13.0 goes first: with it installed, nothing later pulls another build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0 2> >(grep -v "is ignored: it is neither" >&2)
	$(PIP) install -e ".[book,test]" 2> >(grep -v "is ignored: it is neither" >&2)
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

# the layering contract of pyproject.toml first (each stage imports only the stages below it)
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

book: $(STAMP)
	$(BIN)/python -m lampkit.store.bookcache book
	$(BIN)/jupyter-book build book/ --warningiserror --keep-going

clean-book:
	$(BIN)/jupyter-book clean book/
