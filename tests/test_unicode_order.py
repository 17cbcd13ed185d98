"""Names outside ASCII sort and match alike on SQLite and PostgreSQL (casefolded keys)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from seeds.read import SeedDocument, build_plan
from seeds.spec import DocumentMeta
from seeds.write import write_seeds
from tests.conftest import Store, make_client

NAMES = ["STRASSE", "Zeta", "eagle", "straße", "Ärzte ohne Grenzen", "Émile", "éclair", "İstanbul"]
TEXT = "Names, by Tests. Partners: " + "; ".join(NAMES) + "."


def _plan():
    meta = DocumentMeta(slug="names", title="Names", publisher="Tests", source_file="names.txt")
    partners = [
        {
            "slug": f"partner-{n}",
            "name": name,
            "citations": [{"document": "names", "quote": name}],
        }
        for n, name in enumerate(NAMES)
    ]
    return build_plan({"names": SeedDocument(meta, TEXT)}, {"partners": partners}, "test graph")


@pytest.fixture
async def unicode_store(empty_store: Store) -> Store:
    await write_seeds(empty_store.engine, _plan())
    return empty_store


async def _names(store: Store, arguments: str) -> list[str]:
    call = f"partners({arguments})" if arguments else "partners"
    query = f"{{ {call} {{ nodes {{ name }} }} }}"
    async with make_client(store.engine) as http:
        body = (await http.post("/graphql", json={"query": query})).json()
    assert "errors" not in body, body
    return [node["name"] for node in body["data"]["partners"]["nodes"]]


def _expected_order(descending: bool = False) -> list[str]:
    ranked = sorted(enumerate(NAMES), key=lambda pair: (pair[1].casefold(), f"partner-{pair[0]}"))
    if descending:  # ties stay in ascending slug order
        ranked = sorted(ranked, key=lambda pair: pair[1].casefold(), reverse=True)
    return [name for _, name in ranked]


async def test_names_sort_casefolded_and_code_point_ordered(unicode_store):
    assert await _names(unicode_store, "") == _expected_order()
    assert await _names(unicode_store, "orderBy: {field: NAME, direction: DESC}") == (
        _expected_order(descending=True)
    )


@pytest.mark.postgres
async def test_order_is_code_point_order_whatever_the_column_collation(unicode_store):
    """A database created with a linguistic collation (ICU puts "émile" before "zeta") still
    sorts as SQLite does, so cursors and differential tests see one order."""
    async with unicode_store.engine.begin() as connection:
        for column in ("sort_key", "slug"):
            await connection.execute(
                text(f'ALTER TABLE partners ALTER COLUMN {column} TYPE varchar COLLATE "und-x-icu"')
            )
    assert await _names(unicode_store, "") == _expected_order()
    assert await _names(unicode_store, "orderBy: {field: NAME, direction: DESC}") == (
        _expected_order(descending=True)
    )


@pytest.mark.parametrize(
    ("needle", "matches"),
    [
        ("émile", ["Émile"]),
        ("ÉCLAIR", ["éclair"]),
        ("ärzte", ["Ärzte ohne Grenzen"]),
        ("strasse", ["STRASSE", "straße"]),
        ("STRAẞE", ["STRASSE", "straße"]),
        ("e", ["Ärzte ohne Grenzen", "eagle", "Émile", "STRASSE", "straße", "Zeta"]),
    ],
)
async def test_search_folds_case_beyond_ascii(unicode_store, needle, matches):
    found = await _names(unicode_store, f'filter: {{nameContains: "{needle}"}}')
    assert sorted(found) == sorted(matches)
