# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test test-fast check lint typecheck bench regen compat clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## The real agent, offline, against the built-in scripted model.
demo: install
	$(BIN)/codexkit demo

## Lint, type-check, then the whole test suite (real codex binary, scripted model).
test: check
	$(BIN)/python -m pytest

## The same without the slow end-to-end tests (marked `slow`): for quick rounds.
test-fast: check
	$(BIN)/python -m pytest -m "not slow"

check: lint typecheck

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

## Side-by-side benchmarks against openai-codex (see docs/benchmarks.md).
bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

## Regenerate the protocol models from the pinned binary.
regen: install
	$(BIN)/python scripts/generate_protocol.py

## The real-binary suite against another runtime: make compat CODEX_BIN=/path/to/codex
compat: install
	CODEXKIT_CODEX_BIN=$(CODEX_BIN) $(BIN)/python -m pytest -m real

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
