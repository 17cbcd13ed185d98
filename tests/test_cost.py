"""The cost estimate is an upper bound on what a query fetches, and a tight one.

A list counts its page size, but no more than the most items one parent has in that list in
the store, as the last seed recorded it (db/state.py); citations count the most one row (or
relation) has. Checked by hand on the walk's corner cases, on the queries the bound was made
for, through a reseed, and by generated queries on the seed data and on a generated store
130 times larger, on both executors: what a query fetches never exceeds its estimate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationType, parse
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries

from bench.generate import Size, generate
from core.limits import MAX_PAGE_SIZE, Limits
from db.mapping import (
    MAX_NODES,
    OWNERS,
    QUERY,
    TYPES,
    BySlug,
    Citations,
    GlobalId,
    ListEdge,
    Names,
    NodesByIds,
    ProvenanceOf,
    QuoteContext,
    Reference,
    Scalar,
    Search,
    TextPositionSelector,
    TextQuoteSelector,
    node_type,
)
from db.state import StoreSnapshot
from operation.cost import NOTHING_RECORDED, estimate_cost
from operation.prepare import DocumentCache, OperationRequest, prepare
from seeds.read import read_seeds
from seeds.write import write_seeds
from server.app import CONTRACT
from tests.assertions import without_cost
from tests.conftest import (
    Store,
    close_store,
    make_client,
    open_store,
    read_snapshot,
)
from tests.factories import graph_data, load_generated, write_seed_tree
from tests.test_fuzz import SDL, fuzz

COMPILED, REFERENCE = "compiled", "reference"


def priced(query: str, snapshot: StoreSnapshot = NOTHING_RECORDED) -> int:
    return estimate_cost(CONTRACT, parse(query), None, {}, snapshot).objects


# --- the walk, on sizes given by hand -------------------------------------------------------


def test_a_list_counts_its_page_or_the_longest_such_list_whichever_is_fewer():
    sizes = StoreSnapshot(1, {"Query.programs": 30, "Program.partners": 7})
    query = "{ programs(first: 50) { nodes { partners(first: 5) { totalCount } } } }"
    assert priced(query, sizes) == 30 * (1 + 5)
    assert priced("{ programs(first: 50) { nodes { partners { totalCount } } } }", sizes) == (
        30 * (1 + 7)
    )
    assert priced(query.replace("first: 50", "last: 10"), sizes) == 10 * (1 + 5)
    assert priced("{ programs(last: 10) { totalCount } }", sizes) == 10
    assert priced("{ programs { totalCount } }", sizes) == 20  # the default page
    assert priced("{ partners(first: 50) { totalCount } }", sizes) == 50  # not recorded
    # a page larger than the largest is priced as the largest (the resolver refuses it): not
    # refused on the budget for a size it never fetches
    assert priced("{ programs(first: 30000) { totalCount } }") == MAX_PAGE_SIZE
    assert priced("{ programs(last: 1000) { totalCount } }") == MAX_PAGE_SIZE
    # a page of none is the connection alone: one, and nothing below it
    assert priced("{ programs(first: 0) { nodes { partners { totalCount } } } }", sizes) == 1


def test_a_page_of_none_costs_one_on_each_parent_so_thousands_are_priced():
    """Each is still resolved (its count, or the error refusing `first` with `last`): 48
    refused pages under each of 100 partners under each of 100 programs were priced 10,100,
    for 480,000 field errors on a store that large (computed, not run: minutes of the event
    loop, at the ~0.4 ms a field error costs the reference executor)."""
    sizes = StoreSnapshot(1, {"Query.programs": 100, "Program.partners": 100})
    refused = " ".join(f"e{i}: programs(first: 0, last: 0) {{ totalCount }}" for i in range(48))
    partners = f"partners(first: 100) {{ nodes {{ {refused} }} }}"
    query = f"{{ programs(first: 100) {{ nodes {{ {partners} }} }} }}"
    assert priced(query, sizes) == 100 * (1 + 100 * (1 + 48))
    assert priced("{ programs(first: 0) { totalCount } }", sizes) == 1
    assert (
        priced("{ programs(first: 3) { totalCount } }", StoreSnapshot(1, {"Query.programs": 0}))
        == 1
    )


def test_citations_count_the_most_one_row_of_their_type_has_however_many():
    sizes = StoreSnapshot(1, {"Program.citations": 9, "Query.programs": 2})
    query = "{ programs { nodes { citations { id } } } }"
    assert priced(query, sizes) == 2 * (1 + 9)  # more than CITATIONS_ESTIMATE: recorded wins
    assert priced(query) == 20 * (1 + 5)
    assert priced('{ company(slug: "x") { citations { id } } }', sizes) == 1 + 5


def test_edge_citations_are_the_relations_and_none_on_a_list_without_a_link_table():
    sizes = StoreSnapshot(1, {"Program.edges.citations": 6})
    root = "programs(first: 3) { edges { citations { id } } }"  # a root list: no relation
    linked = 'partner(slug: "x") { programs(first: 3) { edges { citations { id } } } }'
    by_key = 'program(slug: "x") { subPrograms(first: 3) { edges { citations { id } } } }'
    assert priced("{ " + root + " }", sizes) == 3
    assert priced("{ " + linked + " }", sizes) == 1 + 3 * (1 + 6)
    assert priced("{ " + by_key + " }", sizes) == 1 + 3
    assert priced("{ " + linked + " }") == 1 + 3 * (1 + 5)
    assert priced("{ " + root + " }") == 3  # known from the type map, whatever the store
    # one fragment on the edge type, spread under lists with and without a link table
    edge = " fragment E on ProgramEdge { citations { id } }"
    both = (root + " " + linked).replace("citations { id }", "...E")
    assert priced("{ " + both + " }" + edge, sizes) == 3 + 1 + 3 * (1 + 6)
    reversed_order = (linked + " " + root).replace("citations { id }", "...E")
    assert priced("{ " + reversed_order + " }" + edge, sizes) == 3 + 1 + 3 * (1 + 6)
    connection = (
        '{ partner(slug: "x") { programs(first: 3) {'
        " ... on ProgramConnection { edges { ... on ProgramEdge { citations { id } } } } } } }"
    )
    assert priced(connection, sizes) == 1 + 3 * (1 + 6)


def test_a_quote_context_or_selector_costs_the_document_it_reads():
    """Its context and its TextQuoteSelector read the quoted document (one object, as the
    document itself costs); its TextPositionSelector shows its own offsets, read already."""
    sizes = StoreSnapshot(1, {"Company.citations": 4})
    query = '{ company(slug: "x") { citations { id FIELDS } } }'
    assert priced(query.replace("FIELDS", ""), sizes) == 1 + 4
    for read in (
        "document { slug }",
        "context(characters: 3) { before quote after }",
        "textQuoteSelector { id type exact prefix suffix }",
    ):
        assert priced(query.replace("FIELDS", read), sizes) == 1 + 4 * (1 + 1), read
    position = "textPositionSelector { id type start end }"
    assert priced(query.replace("FIELDS", position), sizes) == 1 + 4
    both = "textQuoteSelector { exact } textPositionSelector { start }"
    assert priced(query.replace("FIELDS", both), sizes) == 1 + 4 * (1 + 1)


def test_a_field_of_an_interface_costs_what_it_costs_on_the_dearest_type():
    cited = [name for name, node in TYPES.items() if node.cited]
    sizes = StoreSnapshot(1, {f"{name}.citations": 1 for name in cited} | {"Figure.citations": 7})
    query = '{ node(id: "x") { ... on Cited { citations { id document { slug } } } } }'
    assert priced(query, sizes) == 1 + 7 * (1 + 1)
    assert priced(query) == 1 + 5 * (1 + 1)  # unknown: the estimate
    inner = '{ node(id: "x") { ... on Node { ... on Program { partners { totalCount } } } } }'
    assert priced(inner, StoreSnapshot(1, {"Program.partners": 4})) == 1 + 4


def test_self_references_and_refetches_count_per_parent():
    sizes = StoreSnapshot(1, {"Location.children": 3, "Program.partners": 2})
    children = (
        "{ locations(first: 2) { nodes { children(first: 50) { nodes {"
        " children(first: 50) { totalCount } } } } } }"
    )
    assert priced(children, sizes) == 2 * (1 + 3 * (1 + 3))
    refetch = '{ nodes(ids: ["a", "b", "c"]) { ... on Program { partners { totalCount } } } }'
    assert priced(refetch, sizes) == 3 * (1 + 2)

    def listed(count: int) -> str:
        ids = ", ".join(f'"{n}"' for n in range(count))
        return f"{{ nodes(ids: [{ids}]) {{ ... on Program {{ partners {{ totalCount }} }} }} }}"

    # each ID up to the most `nodes` takes (100); more are refused when resolved
    assert priced(listed(MAX_NODES), sizes) == MAX_NODES * (1 + 2)
    assert priced(listed(MAX_NODES + 50), sizes) == MAX_NODES * (1 + 2)


def test_a_price_the_type_map_sets_is_what_each_object_costs(monkeypatch):
    """The estimate multiplies what a field may fetch (a page's items, a search's hits, the
    IDs `nodes` is given, a list's quotes, one linked object) by the price the map gives it
    per object: a price set in the map moves the estimate. Every shipped price is one, so no
    estimate changes (the test below holds them to that)."""
    sizes = StoreSnapshot(
        1,
        {
            "Query.programs": 30,
            "Program.partners": 7,
            "Program.citations": 4,
            "Query.search": 9,
        },
    )
    lists = "{ programs(first: 50) { nodes { partners(first: 5) { totalCount } } } }"
    cited = "{ programs(first: 50) { nodes { citations { id } } } }"
    refetch = '{ nodes(ids: ["a", "b", "c"]) { id } }'
    search = '{ search(query: "music", first: 4) { totalCount } }'
    linked = '{ program(slug: "x") { company { name } } }'
    shipped = [priced(query, sizes) for query in (lists, cited, refetch, search, linked)]
    assert shipped == [30 * (1 + 5), 30 * (1 + 4), 3, 4, 1 + 1]
    monkeypatch.setattr(ListEdge, "cost", 3)
    monkeypatch.setattr(Citations, "cost", 2)
    monkeypatch.setattr(NodesByIds, "cost", 5)
    monkeypatch.setattr(Search, "cost", 7)
    monkeypatch.setattr(Reference, "cost", 4)
    assert priced(lists, sizes) == 30 * (3 + 5 * 3)
    assert priced(cited, sizes) == 30 * (3 + 4 * 2)
    assert priced(refetch, sizes) == 3 * 5
    assert priced(search, sizes) == 4 * 7
    assert priced(linked, sizes) == 1 + 4
    # a page of none is still the connection itself: one, whatever its items' price
    assert priced("{ programs(first: 0) { totalCount } }", sizes) == 1


FETCHES_NOTHING_MORE = (Scalar, Names, GlobalId, ProvenanceOf, TextPositionSelector)


def test_every_shipped_price_is_the_one_object_the_actual_cost_counts():
    """Both executors count each object they fetch as one (`extensions.cost.actual`:
    resolvers/context.py's Usage, compiled/shape.py's Assembly), in the estimate's unit only
    while the map prices every object at one, and a field that reads nothing more at none. A
    price other than that must be counted by both executors too."""
    for owner in OWNERS:
        for name, spec in owner.fields.items():
            expected = 0 if isinstance(spec, FETCHES_NOTHING_MORE) else 1
            assert spec.cost == expected, f"{owner.name}.{name}"


# --- the queries the bound was made for, on the seed data ------------------------------------

# Every program with its citations, its partners and their places, and its own places: a
# page of 100 programs (the other lists at the default 20) is priced at 45,100 where nothing
# bounds a list, though the seed holds 23 programs with at most 4 citations, 3 partners
# (each in at most 1 place) and 8 places.
EVERY_PROGRAM = """{ programs(first: 100) { nodes { name citations { quote document { title } }
  partners { nodes { name locations { nodes { name } } } } locations { nodes { name } } } } }"""
EVERY_PROGRAM_COST = 23 * (1 + 4 * (1 + 1) + 3 * (1 + 1) + 8)  # 529

# company -> programs -> partners -> locations with the partners' citations (tests/
# test_traversal.py), at pages of 100: 1,110,102 where nothing bounds a list. The seed's
# company has 23 programs, a program at most 3 partners, a relation at most 2 citations.
TRAVERSAL = """{ company(slug: "sony-music") { name foundedIn { name countryCode }
  programs(first: 100) { totalCount nodes { name kind
    partners(first: 100) { totalCount edges {
      node { name shortName locations(first: 100) { nodes { name kind countryCode } } }
      citations { quote document { title } } } } } } } }"""
TRAVERSAL_COST = 1 * (1 + 1 + 23 * (1 + 3 * (1 + 1 + 2 * (1 + 1))))  # 439

ISSUE_QUERIES = [
    pytest.param(EVERY_PROGRAM, EVERY_PROGRAM_COST, 45_100, id="every-program"),
    pytest.param(TRAVERSAL, TRAVERSAL_COST, 1_110_102, id="traversal"),
]


@pytest.fixture(scope="module")
async def executors(store: Store) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with (
        make_client(store.engine, executor=REFERENCE) as reference,
        make_client(store.engine, executor=COMPILED) as compiled,
    ):
        yield {REFERENCE: reference, COMPILED: compiled}


async def test_the_seed_records_the_sizes_the_issue_queries_are_priced_by(store: Store):
    sizes = (await read_snapshot(store.engine)).sizes
    assert sizes["Query.programs"] == sizes["Company.programs"] == 23
    assert (sizes["Program.citations"], sizes["Program.partners"]) == (4, 3)
    assert (sizes["Partner.locations"], sizes["Program.locations"]) == (1, 8)
    assert sizes["Partner.edges.citations"] == 2


@pytest.mark.parametrize(("query", "cost", "unbounded"), ISSUE_QUERIES)
@pytest.mark.parametrize("executor", [COMPILED, REFERENCE])
async def test_the_issue_queries_are_priced_at_a_few_hundred_and_run(
    executors, executor, query, cost, unbounded
):
    response = await executors[executor].post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    assert response.headers["x-executor"] == executor
    body = response.json()
    assert "errors" not in body, body["errors"]
    assert body["data"]
    assert body["extensions"]["cost"]["estimated"] == cost
    assert body["extensions"]["cost"]["actual"] <= cost
    assert priced(query) == unbounded


@pytest.mark.parametrize("executor", [COMPILED, REFERENCE])
async def test_a_lookup_that_finds_nothing_fetched_nothing(executors, executor):
    """`actual` counts the objects a query fetched: a slug that names nothing is priced as
    one (it may), and fetched none."""
    query = '{ company(slug: "no-such-company") { name } }'
    response = await executors[executor].post("/graphql", json={"query": query})
    assert response.headers["x-executor"] == executor
    body = response.json()
    assert body["data"] == {"company": None}
    assert body["extensions"]["cost"]["estimated"] == 1
    assert body["extensions"]["cost"]["actual"] == 0


@pytest.mark.parametrize(("query", "cost", "unbounded"), ISSUE_QUERIES)
async def test_where_no_sizes_are_recorded_the_issue_queries_are_refused(
    unrecorded_store: Store, query, cost, unbounded
):
    async with make_client(unrecorded_store.engine) as http:
        body = (await http.post("/graphql", json={"query": query})).json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["extensions"]["cost"]["estimated"] == unbounded > cost


# --- a reseed ------------------------------------------------------------------------------

GROWN_LIST = "{ programs(first: 100) { nodes { partners(first: 100) { totalCount } } } }"


async def test_a_reseed_that_grows_a_list_prices_the_same_query_anew(
    empty_store: Store, seed_plan, tmp_path: Path
):
    documents = DocumentCache()  # as a server keeps it, across the reseed
    request = OperationRequest(GROWN_LIST, None, None, frozenset({OperationType.QUERY}))

    def estimated(snapshot: StoreSnapshot) -> int:
        return prepare(CONTRACT, documents, request, Limits(), snapshot=snapshot).estimated

    await write_seeds(empty_store.engine, seed_plan)
    before = await read_snapshot(empty_store.engine)
    assert estimated(before) == 23 + 23 * 3
    data = graph_data()
    fund = next(p for p in data["programs"] if p["slug"] == "global-social-justice-fund")
    achalay = next(  # a relation to copy: the fund gets a fourth partner
        link
        for program in data["programs"]
        for link in program.get("partners", [])
        if link["partner"] == "achalay-foundation"
    )
    # (its quote names another program: the copy says it rests on something else)
    fund["partners"].append({**achalay, "provenance": {"basis": "INFERRED", "note": "A test."}})
    await write_seeds(empty_store.engine, read_seeds(write_seed_tree(tmp_path / "grown", data)))
    after = await read_snapshot(empty_store.engine)
    assert after.version > before.version
    assert after.size("Program.partners") == 4
    assert estimated(after) == 23 + 23 * 4
    assert estimated(before) == 23 + 23 * 3  # each data version has its own price
    assert estimated(NOTHING_RECORDED) == 100 + 100 * 100


# --- generated queries: what a query fetches never exceeds its estimate ----------------------

LARGE = Size(programs=3_000)  # 130 times the seed's programs; ~20,000 rows in all
TARGETED_EXAMPLES = 100  # per store and backend, each sent to both executors
SCHEMA_EXAMPLES = 30
BUDGET = 5_000  # queries priced higher are refused unrun: the run stays short
PAGE_SIZES = st.sampled_from([0, 1, 2, 3, 5, 20, 50, 100]) | st.integers(0, 100)
ROOT_LISTS = {name: spec for name, spec in QUERY.fields.items() if isinstance(spec, ListEdge)}
LOOKUPS = {name: spec.target for name, spec in QUERY.fields.items() if isinstance(spec, BySlug)}
NODE_TYPES = sorted({spec.target for spec in ROOT_LISTS.values()} | {"Citation"})


class Draws:
    """What one generated document needs besides its selections: real slugs and IDs of the
    store, and the named fragments it defines (spread again where their type comes back)."""

    def __init__(self, slugs: dict[str, list[str]], ids: dict[str, list[str]]) -> None:
        self.slugs = slugs
        self.ids = ids
        self.fragments: dict[str, tuple[str, str]] = {}  # name: (type, selections)
        self.drawing: set[str] = set()  # fragments whose bodies are being drawn

    def fragment(self, draw: st.DrawFn, type_name: str, make: st.SearchStrategy[str]) -> str:
        """A spread of a fragment on `type_name`: one already defined, or a new one."""
        known = [
            name
            for name, (on, _) in self.fragments.items()
            if on == type_name and name not in self.drawing  # no fragment spreads itself
        ]
        if known and draw(st.booleans()):
            return "..." + draw(st.sampled_from(known))
        name = f"F{len(self.fragments)}"
        self.fragments[name] = (type_name, "")  # its name is taken while its body is drawn
        self.drawing.add(name)
        self.fragments[name] = (type_name, draw(make))
        self.drawing.discard(name)
        return "..." + name

    def document(self, selections: str) -> str:
        defined = " ".join(
            f"fragment {name} on {on} {{ {body} }}" for name, (on, body) in self.fragments.items()
        )
        return "{ " + selections + " } " + defined


def _page(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["", "first", "first", "last"]))
    return f"({kind}: {draw(PAGE_SIZES)})" if kind else ""


CITATION = (
    "id quote start end document { slug } context(characters: 8) { quote } "
    "textQuoteSelector { id prefix } textPositionSelector { id end }"
)


@st.composite
def objects(draw: st.DrawFn, d: Draws, type_name: str, depth: int) -> str:
    """Selections on one object of `type_name`: some of its fields, as the type map says."""
    if depth > 0 and draw(st.integers(0, 5)) == 0:
        return d.fragment(draw, type_name, objects(d, type_name, depth - 1))
    fields = node_type(type_name).fields
    picked = draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=3, unique=True))
    parts = []
    for name in picked:
        spec = fields[name]
        if isinstance(spec, Scalar | GlobalId):
            parts.append(name)
        elif isinstance(spec, Citations):
            parts.append(f"citations {{ {CITATION} }}")
        elif isinstance(spec, QuoteContext):
            parts.append("context(characters: 8) { before quote }")
        elif isinstance(spec, TextQuoteSelector):
            parts.append(f"{name} {{ type exact suffix }}")
        elif isinstance(spec, TextPositionSelector):
            parts.append(f"{name} {{ type start }}")
        elif depth <= 0:
            parts.append("__typename")
        elif isinstance(spec, Reference):
            parts.append(f"{name} {{ {draw(objects(d, spec.target, depth - 1))} }}")
        elif isinstance(spec, ListEdge):
            inner = draw(connections(d, spec.target, depth - 1))
            parts.append(f"{name}{_page(draw)} {{ {inner} }}")
    if type_name != "Citation" and type_name != "Document" and draw(st.booleans()):
        parts.append("... on Cited { citations { id quote } }")
    return " ".join(parts)


@st.composite
def connections(draw: st.DrawFn, d: Draws, target: str, depth: int) -> str:
    """Selections on a connection of `target` items: wrappers, and the items below them."""
    if draw(st.integers(0, 6)) == 0:
        return d.fragment(draw, f"{target}Connection", connections(d, target, depth))
    parts = ["totalCount"]
    if draw(st.booleans()):
        parts.append("pageInfo { hasNextPage endCursor }")
    shown = draw(st.sampled_from(["nodes", "edges", "edges", "none"]))
    if shown == "nodes":
        parts.append(f"nodes {{ {draw(objects(d, target, depth))} }}")
    elif shown == "edges":
        edge = f"cursor node {{ {draw(objects(d, target, depth))} }} citations {{ {CITATION} }}"
        if draw(st.integers(0, 3)) == 0:
            edge = d.fragment(draw, f"{target}Edge", st.just(edge))
        parts.append(f"edges {{ {edge} }}")
    return " ".join(parts)


@st.composite
def documents(draw: st.DrawFn, slugs: dict[str, list[str]], ids: dict[str, list[str]]) -> str:
    """A query of one to three root fields: lists, lookups, and refetches by ID."""
    d = Draws(slugs, ids)
    roots = []
    for alias in range(draw(st.sampled_from([1, 1, 2, 3]))):
        kind = draw(st.sampled_from(["list", "list", "lookup", "node", "nodes"]))
        depth = draw(st.integers(1, 3))
        if kind == "list":
            name = draw(st.sampled_from(sorted(ROOT_LISTS)))
            inner = draw(connections(d, ROOT_LISTS[name].target, depth))
            roots.append(f"r{alias}: {name}{_page(draw)} {{ {inner} }}")
        elif kind == "lookup":
            name = draw(st.sampled_from(sorted(LOOKUPS)))
            slug = draw(st.sampled_from([*slugs.get(LOOKUPS[name], []), "none"]))
            inner = draw(objects(d, LOOKUPS[name], depth))
            roots.append(f'r{alias}: {name}(slug: "{slug}") {{ {inner} }}')
        else:
            type_name = draw(st.sampled_from([t for t in NODE_TYPES if ids.get(t)]))
            chosen = draw(st.lists(st.sampled_from(ids[type_name]), min_size=1, max_size=5))
            on = f"... on {type_name} {{ {draw(objects(d, type_name, depth))} }}"
            if kind == "node":
                roots.append(f'r{alias}: node(id: "{chosen[0]}") {{ id {on} }}')
            else:
                listed = ", ".join(f'"{i}"' for i in chosen)
                roots.append(f"r{alias}: nodes(ids: [{listed}]) {{ id {on} }}")
    return d.document(" ".join(roots))


async def _store_keys(http: httpx.AsyncClient) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Slugs and IDs of the store's rows (the first 30 of each root list: all of the seed's),
    and some quotes."""
    slugs: dict[str, list[str]] = {}
    ids: dict[str, list[str]] = {}
    for name, spec in ROOT_LISTS.items():
        query = f"{{ {name}(first: 30) {{ nodes {{ id slug }} }} }}"
        rows = without_cost((await http.post("/graphql", json={"query": query})).json())
        found = rows["data"][name]["nodes"]
        slugs[spec.target] = [row["slug"] for row in found]
        ids[spec.target] = [row["id"] for row in found]
    quotes = "{ programs(first: 30) { nodes { citations { id } } } }"
    rows = without_cost((await http.post("/graphql", json={"query": quotes})).json())
    ids["Citation"] = [c["id"] for p in rows["data"]["programs"]["nodes"] for c in p["citations"]]
    return slugs, ids


def _generated(slugs: dict[str, list[str]], ids: dict[str, list[str]]) -> list[str]:
    """A fixed, repeatable set: targeted documents, and hypothesis-graphql's from the SDL."""
    found: list[str] = []
    every_id = [i for listed in ids.values() for i in listed]
    every_slug = [s for listed in slugs.values() for s in listed]
    from_schema = queries(
        SDL,
        custom_scalars={
            "Date": st.dates().map(nodes.String),
            "ID": st.sampled_from([*every_id, "eA=="]).map(nodes.String),
            "String": st.sampled_from([*every_slug, "a", "fund"]).map(nodes.String),
            "Int": PAGE_SIZES.map(nodes.Int),
        },
    )

    @fuzz(TARGETED_EXAMPLES)
    @given(query=documents(slugs, ids))
    def targeted(query: str) -> None:
        found.append(query)

    @fuzz(SCHEMA_EXAMPLES)
    @given(query=from_schema)
    def generic(query: str) -> None:
        found.append(query)

    targeted()
    generic()
    return found


@pytest.fixture(scope="module")
async def large_store(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """bench/generate.py's rows at a small size, loaded as bench/stores.py loads them: then
    measured as a seed measures the store."""
    opened = await open_store(backend, tmp_path_factory.mktemp(f"{backend}-large"))
    await load_generated(opened.engine, generate(7, LARGE))
    yield opened
    await close_store(opened)


async def _never_fetches_more_than_estimated(store: Store, capsys: Any) -> None:
    """Every generated query to both apps; each answer that ran fetched at most its estimate,
    and both apps priced it alike."""
    ran = {REFERENCE: 0, COMPILED: 0}  # answers with data, by the app that gave them
    compiled_answers = refused = 0
    async with (
        make_client(store.engine, executor=REFERENCE, max_cost=BUDGET) as reference,
        make_client(store.engine, executor=COMPILED, max_cost=BUDGET) as compiled,
    ):
        generated = _generated(*await _store_keys(reference))
        for query in generated:
            estimates = set()
            for app, http in ((REFERENCE, reference), (COMPILED, compiled)):
                response = await http.post("/graphql", json={"query": query})
                assert response.status_code == 200, response.text
                body = response.json()
                cost = body.get("extensions", {}).get("cost")
                if cost is None:  # refused before it was priced (validation, depth, ...)
                    continue
                estimates.add(cost["estimated"])
                if "data" not in body:
                    refused += 1
                    continue
                if "errors" in body:  # the estimate alone
                    assert "actual" not in cost, (query, cost)
                else:
                    assert cost["actual"] <= cost["estimated"], (query, cost)
                ran[app] += 1
                compiled_answers += response.headers["x-executor"] == COMPILED
            assert len(estimates) <= 1, (query, estimates)
    with capsys.disabled():
        print(
            f"\n[{store.backend}] {len(generated)} generated queries: {ran[REFERENCE]} ran, "
            f"{compiled_answers} of them compiled; {refused // 2} refused by a limit"
        )
    assert ran[REFERENCE] == ran[COMPILED] >= len(generated) * 2 // 3
    assert compiled_answers >= len(generated) // 3


async def test_generated_queries_never_fetch_more_than_estimated_on_the_seed_data(
    store: Store, capsys
):
    await _never_fetches_more_than_estimated(store, capsys)


async def test_generated_queries_never_fetch_more_than_estimated_on_a_larger_store(
    large_store: Store, capsys
):
    await _never_fetches_more_than_estimated(large_store, capsys)
