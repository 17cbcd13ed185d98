"""N+1 guard: a nested query's SQL statement count depends on its depth, not on the rows."""

from __future__ import annotations

import asyncio

import pytest

from seeds.write import write_seeds
from tests.conftest import (
    NO_STORE_CHECK,
    StatementCounter,
    Store,
    close_store,
    make_client,
    open_store,
    reads_the_store_state,
)
from tests.factories import scaled_plan

SCALE = 50

DEEP_TRAVERSAL = """
{
  companies(first: 100) {
    totalCount
    nodes {
      name
      citations { quote document { title } }
      programs(first: 100) {
        totalCount
        edges {
          cursor
          citations { quote }
          node {
            name
            kind
            citations { quote start end }
            company { name }
            parent { slug }
            partners(first: 100) {
              totalCount
              edges {
                citations { quote document { slug } }
                node {
                  name
                  citations { quote }
                  locations(first: 100) {
                    totalCount
                    edges {
                      citations { quote }
                      node { name countryCode parent { name } citations { quote } }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""


async def _run(store: Store, executor: str) -> tuple[int, dict]:
    # Pages of 100 four levels deep, on purpose: far over the default cost budget.
    # Counted from the app's start: the connection the compiled executor holds is checked out
    # (and watched) then. The store's state is read at start-up and then not for an hour.
    settings = {
        "max_cost": 10**10,
        "max_response_bytes": 2**40,
        "execution_timeout": 300,  # the reference executor on the 50x store, a machine busy
        "executor": executor,
        **NO_STORE_CHECK,
    }
    with StatementCounter(store.engine) as counter:
        async with make_client(store.engine, **settings) as http:
            response = await http.post("/graphql", json={"query": DEEP_TRAVERSAL})
            await asyncio.sleep(0.05)  # asyncpg calls its query loggers once a query is done
    assert response.status_code == 200
    assert response.headers["x-executor"] == executor
    body = response.json()
    assert "errors" not in body, body["errors"][:3]
    answering = [s for s in counter.statements if not reads_the_store_state(s)]
    return len(answering), body["data"]


def _programs(data: dict) -> int:
    return sum(c["programs"]["totalCount"] for c in data["companies"]["nodes"])


def _partner_edges(data: dict) -> int:
    return sum(
        len(p["node"]["partners"]["edges"])
        for c in data["companies"]["nodes"]
        for p in c["programs"]["edges"]
    )


@pytest.fixture(scope="module")
async def scaled_store(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """Read only: both executors' tests count on the one built for their backend."""
    opened = await open_store(backend, tmp_path_factory.mktemp(f"{backend}-scaled"))
    await write_seeds(opened.engine, scaled_plan(SCALE))
    yield opened
    await close_store(opened)


@pytest.fixture(scope="module")
async def seeded_store(backend: str, tmp_path_factory: pytest.TempPathFactory, seed_plan):
    """The seed data in a store of this module's own: no app of another module's tests holds
    its connections (the driver's query loggers, which count, are attached as connections are
    checked out; each test's app gives its own back as it stops)."""
    opened = await open_store(backend, tmp_path_factory.mktemp(f"{backend}-seeded"))
    await write_seeds(opened.engine, seed_plan)
    yield opened
    await close_store(opened)


# The reference executor reads one batch per list or link level; the compiled one sends one
# statement for the whole request.
MOST_STATEMENTS = {"reference": 16, "compiled": 1}


@pytest.mark.parametrize("executor", MOST_STATEMENTS)
async def test_statement_count_is_independent_of_row_count(
    seeded_store: Store, scaled_store: Store, executor: str
):
    seed_count, seed_data = await _run(seeded_store, executor)
    scaled_count, scaled_data = await _run(scaled_store, executor)

    # The scaled store really is 50x bigger along the whole path...
    assert scaled_data["companies"]["totalCount"] == SCALE * seed_data["companies"]["totalCount"]
    assert _programs(scaled_data) == SCALE * _programs(seed_data)
    assert _partner_edges(scaled_data) == SCALE * _partner_edges(seed_data)
    # ...yet costs exactly as many statements, and few.
    assert scaled_count == seed_count
    assert seed_count <= MOST_STATEMENTS[executor], f"{seed_count} statements for a depth-4 query"
    if executor == "compiled":
        assert seed_count == 1
