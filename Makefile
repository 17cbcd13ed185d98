# The two commands a newcomer needs: `make serve` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint schema clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	touch $(STAMP)

## serve: migrate, seed an empty SQLite store, serve GraphQL with GraphiQL
serve: $(STAMP)
	$(BIN)/impact-graph serve

## test: static checks, then the whole suite against SQLite and PostgreSQL
test: lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

## schema: regenerate the committed SDL after changing the schema
schema: $(STAMP)
	$(BIN)/impact-graph export-schema

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
