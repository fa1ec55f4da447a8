# Toonbank developer commands. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test test-fast lint format bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Serve the demo shop on http://127.0.0.1:8000 (SQLite, in-process worker).
run: install
	$(BIN)/toonbank serve --demo

## The whole suite, against SQLite and PostgreSQL (127.0.0.1:5432), plus the browser tests.
test: install
	$(BIN)/python -m ruff check src tests bench
	$(BIN)/python -m ruff format --check src tests bench
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not browser and not slow" -x

lint: install
	$(BIN)/python -m ruff check src tests bench
	$(BIN)/python -m ruff format --check src tests bench
	$(BIN)/python -m mypy

format: install
	$(BIN)/python -m ruff format src tests bench
	$(BIN)/python -m ruff check --fix src tests bench

## Benchmarks; results are written to docs/benchmarks.md.
bench: install
	$(BIN)/python -m bench
	$(BIN)/python -m bench.burst
	$(BIN)/python -m bench.assistant

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
