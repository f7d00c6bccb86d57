# The README's two commands: `make demo` and `make test`. Each makes .venv when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format bench-ingest docs plotly-bundle clean

$(BIN)/lexboard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/lexboard
	$(BIN)/lexboard demo

test: $(BIN)/lexboard
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

lint: $(BIN)/lexboard
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(BIN)/lexboard
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench-ingest: $(BIN)/lexboard
	$(BIN)/python benchmarks/ingest.py

docs: $(BIN)/lexboard
	$(BIN)/python -m lexboard.docs docs

# Rebuilds src/lexboard/server/static/plotly.min.js (needs Node.js and the npm registry);
# the built file is committed, so users, CI and `make demo` need neither.
plotly-bundle:
	cd tools/plotly && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
