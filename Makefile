# Paperboy developer commands. `make run` and `make test` create .venv and install first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	@touch $(STAMP)

install: $(STAMP)

## Run the main job on the embedded defaults: SQLite, bundled sample data, console output.
run: $(STAMP)
	$(BIN)/paperboy cycle

## Lint, type-check and run the whole test suite.
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check bot handlers tests $(wildcard benchmarks)
	$(BIN)/ruff format --check bot handlers tests $(wildcard benchmarks)

typecheck: $(STAMP)
	$(BIN)/mypy bot handlers

unit: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
