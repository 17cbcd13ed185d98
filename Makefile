# The two commands a newcomer needs: `make serve` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
NODE_STAMP := bench/node_modules/.installed
BROWSER_STAMP := tests/browser/node_modules/.installed
CLIENTS_STAMP := tests/clients/node_modules/.installed

.PHONY: serve test lint schema clean bench bench-quick chromium replication

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	touch $(STAMP)

$(BENCH_STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev,bench]"
	touch $(BENCH_STAMP)

$(NODE_STAMP): bench/package.json bench/package-lock.json bench/.npmrc
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

## serve: migrate, seed an empty SQLite store, serve GraphQL with GraphiQL
serve: $(STAMP)
	$(BIN)/impact-graph serve

$(BROWSER_STAMP): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $(BROWSER_STAMP)

$(CLIENTS_STAMP): tests/clients/package.json tests/clients/package-lock.json
	cd tests/clients && npm ci --no-audit --no-fund --loglevel=error
	touch $(CLIENTS_STAMP)

# tests/test_replica.py builds a streaming replica of the local PostgreSQL: let 127.0.0.1
# replicate (idempotent; one pg_hba.conf line and a reload)
replication:
	scripts/allow_replication.sh

# Debian's chromium for the browser test (playwright-core drives it; it downloads no browser)
chromium:
	@command -v chromium >/dev/null || apt-get install -y -q chromium >/dev/null || \
		(apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)

## test: static checks, then the whole suite against SQLite and PostgreSQL, real clients
## (Apollo, urql, gql, codegen), and GraphiQL and the explorer in chromium
# On two processes where there are two cores (pytest-xdist): most of the suite waits on the
# servers, stores and browsers it starts. A file's tests run in one, beside its fixtures.
TEST_PROCESSES ?= $(shell [ "$$(nproc)" -ge 2 ] && echo 2 || echo 0)
test: lint $(BROWSER_STAMP) $(CLIENTS_STAMP) chromium replication
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

## bench: ours vs a floor and PostGraphile 4/5 on the seed and a generated large store (~15 min)
bench: $(BENCH_STAMP) $(NODE_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## bench-quick: the same, short runs (a smoke test of the harness, not figures to quote)
bench-quick: $(BENCH_STAMP) $(NODE_STAMP)
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

## schema: regenerate the committed SDL after changing the schema
schema: $(STAMP)
	$(BIN)/impact-graph export-schema

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis test-output tests/browser/node_modules \
		tests/clients/node_modules tests/clients/generated
