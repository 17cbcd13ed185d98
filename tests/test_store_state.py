"""What the seed records: a data version that moves exactly when rows change, the size of
the longest list of each kind, checked against what the API itself counts, and what it writes
(its format), by which `serve` knows to seed an older store again."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import httpx

from db import state, widths
from db.mapping import LISTS, SEARCHABLE, TYPES
from seeds.read import read_seeds
from seeds.search_rows import passage_spans
from seeds.write import write_seeds
from tests.conftest import Store
from tests.factories import graph_data, without_program, write_seed_tree
from tests.serving import served
from tests.test_cli import run
from tests.test_nodes import ENTITIES


async def snapshot(store: Store) -> state.StoreSnapshot:
    async with store.engine.connect() as connection:
        return await state.read(connection)


async def test_the_data_version_moves_only_when_a_seed_changes_rows(
    empty_store: Store, seed_plan, tmp_path
):
    assert (await snapshot(empty_store)).version == 0  # never seeded
    await write_seeds(empty_store.engine, seed_plan, dry_run=True)
    assert (await snapshot(empty_store)).version == 0
    await write_seeds(empty_store.engine, seed_plan)
    versions = [(await snapshot(empty_store)).version]
    await write_seeds(empty_store.engine, seed_plan)  # nothing to change
    assert (await snapshot(empty_store)).version == versions[-1]
    edited = graph_data()
    edited["partners"][0]["description"] = "Edited description."
    removed = without_program(graph_data(), "impact-fellows-program")  # it only deletes rows
    requoted = graph_data()  # a seed that changes only a citation
    requoted["companies"][0]["citations"] = requoted["companies"][0]["citations"][:1]
    for number, data in enumerate((edited, removed, requoted)):
        plan = read_seeds(write_seed_tree(tmp_path / str(number), data))
        await write_seeds(empty_store.engine, plan)
        versions.append((await snapshot(empty_store)).version)
        assert versions[-1] > versions[-2]


def test_versions_never_repeat_across_stores():
    """A store made anew starts past every version an older store had handed out (the clock),
    and a clock set back still moves the version on."""
    first = state.next_version(None, changed=True)
    assert state.next_version(None, changed=True) >= first
    assert state.next_version(first, changed=False) == first
    future = first + 10**12
    behind = [state.next_version(future, changed=True) for _ in range(20)]
    assert all(future < version <= future + state.RANDOM_STEP for version in behind)
    # two copies of a store seeded behind the clock reach different versions (a step of one
    # gave both `future + 1`, and a shared cache one's answers for the other's)
    assert len(set(behind)) == len(behind)


def _root_list(type_name: str) -> str:
    return ENTITIES[type_name][0]


PAGE = 30  # more than any list of the seed holds (checked): pages of it stay within budget


async def _largest(graphql: Any, type_name: str, selection: str, count: Any) -> int:
    field = _root_list(type_name)
    body = await graphql(f"{{ {field}(first: {PAGE}) {{ totalCount nodes {{ {selection} }} }} }}")
    assert "errors" not in body, body
    assert body["data"][field]["totalCount"] <= PAGE
    return max((count(node) for node in body["data"][field]["nodes"]), default=0)


async def _searchable(graphql: Any) -> int:
    """Objects search can find: those with a searchable value, and every passage."""
    found = 0
    for name, node in SEARCHABLE.items():
        if name == "Passage":
            body = await graphql(f"{{ documents(first: {PAGE}) {{ nodes {{ text }} }} }}")
            found += sum(len(passage_spans(d["text"])) for d in body["data"]["documents"]["nodes"])
            continue
        fields = [searched.field for searched in node.searched]
        field = _root_list(name)
        body = await graphql(f"{{ {field}(first: {PAGE}) {{ nodes {{ {' '.join(fields)} }} }} }}")
        found += sum(any(n[f] for f in fields) for n in body["data"][field]["nodes"])
    return found


async def test_recorded_sizes_are_the_longest_lists_the_api_serves(store: Store, graphql):
    texts = {key for key, _ in widths.measures()}  # the widths: tests/test_response_size.py
    recorded = {k: v for k, v in (await snapshot(store)).sizes.items() if k not in texts}
    served: dict[str, int] = {}
    for key, spec in LISTS.items():
        owner, field = key.split(".")
        if spec.is_root:
            body = await graphql(f"{{ {field}(first: 0) {{ totalCount }} }}")
            served[key] = body["data"][field]["totalCount"]
            continue
        served[key] = await _largest(
            graphql,
            owner,
            f"{field}(first: 0) {{ totalCount }}",
            lambda n, f=field: n[f]["totalCount"],
        )
        if spec.link is not None:
            edges = f"{field}(first: {PAGE}) {{ edges {{ citations {{ id }} }} }}"
            most = await _largest(
                graphql,
                owner,
                edges,
                lambda n, f=field: max((len(e["citations"]) for e in n[f]["edges"]), default=0),
            )
            relation = state.relation_citations_key(spec.target)
            served[relation] = max(served.get(relation, 0), most)
    for name, node in TYPES.items():
        if node.cited:
            served[state.citations_key(name)] = await _largest(
                graphql, name, "citations { id }", lambda n: len(n["citations"])
            )
    served["Query.search"] = await _searchable(graphql)
    assert recorded == served
    assert recorded["Query.programs"] == 23
    assert recorded["Program.partners"] == 3


def test_serve_seeds_again_a_store_an_older_version_seeded(tmp_path):
    """A store seeded before provenance and search existed has their columns (migrations add
    them, with defaults) but not their data: `serve` seeds it again rather than serve every
    item as STATED and find nothing."""
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'older.db'}"}
    assert run("seed", env={**os.environ, **settings}).returncode == 0
    with sqlite3.connect(tmp_path / "older.db") as db:  # as an older seed left it
        db.execute("DELETE FROM store_state WHERE key = 'seed_format'")
        db.execute("UPDATE program_partners SET basis = 'STATED', unstated = ''")
        db.execute("DELETE FROM search_entries")
    query = """{ program(slug: "global-social-justice-fund") {
        partners(filter: {statedOnly: true}) { nodes { slug } } }
        search(query: "refugees") { totalCount } }"""
    with served(tmp_path, settings) as base:
        body = httpx.post(f"{base}/graphql", json={"query": query}, timeout=30).json()
    assert "seeded the store" in (tmp_path / "served.log").read_text()
    assert body["data"]["program"]["partners"]["nodes"] == [{"slug": "apia-vote"}]
    assert body["data"]["search"]["totalCount"] > 0
