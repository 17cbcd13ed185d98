"""The response-size budget over HTTP: a small query asking for megabytes of text is refused
before it runs (its estimate in bytes over `IMPACT_GRAPH_MAX_RESPONSE_BYTES`), and an answer
found over the limit once built is cut off whole, on both stores and both executors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType, get_named_type, parse
from sqlalchemy import delete, insert, select, update

from bench.queries import ours_large, ours_seed
from core.config import Settings
from db import state
from db.engine import create_engine
from db.mapping import CITATION, MAX_CONTEXT, QUOTE_SELECTOR, REFETCHABLE
from db.models import Document, StoreState
from db.order import KEY_SEPARATOR
from db.search import Matched
from db.state import StoreSnapshot
from db.widths import PROVENANCE, SORT_KEYS, width_key
from operation.cost import estimate_cost
from operation.size import SMALL, UNRECORDED_TEXT, Widths, token
from seeds.write import write_seeds
from semantics.highlights import highlights
from semantics.ids import CONTEXT_TYPE, context_id
from semantics.opaque import encode_token
from semantics.pagination import CursorScope, encode_cursor, fingerprint
from semantics.search_query import parse_search
from server.app import CONTRACT
from server.cli import prepare_store
from tests.conftest import Store, make_client, read_snapshot
from tests.serving import copy_seeded_store, served

DEFAULT_LIMIT = 4 * 1024 * 1024
GRAPHQL_RESPONSE = "application/graphql-response+json"
EXECUTORS = ["compiled", "reference"]

# ~1.4 KB of query asking for ~2.8 MB: every program's quotes with wide contexts and their
# whole documents, ten times over (cost 2,990 objects, well inside the cost budget).
QUOTES = (
    "programs(first: 100) { nodes { name description citations { quote "
    "context(characters: 2000) { before after } document { title text } } } }"
)
WIDE = "{ " + " ".join(f"a{i}: {QUOTES}" for i in range(10)) + " }"
# Twenty copies of both documents' text: ~166 KB, priced exactly where widths are recorded.
DOCUMENTS = "{ " + " ".join(f"d{i}: documents {{ nodes {{ text }} }}" for i in range(20)) + " }"
# Eight copies: ~74 KB, priced ~5 KB where no widths are recorded.
TEXTS = (
    "{ " + " ".join(f"d{i}: documents(first: 2) {{ nodes {{ text }} }}" for i in range(8)) + " }"
)

# A ~437 KB answer whose compiled statement returns ~4.6 MB of JSON (text, on SQLite): each of
# the 12,167 programs' whole provenance record, where the answer shows its basis.
FANNED = (
    '{ company(slug: "sony-music") { programs(first: 23) { nodes { company { programs(first: 23)'
    " { nodes { company { programs(first: 23) { nodes { provenance { basis } } } } } } } } } } }"
)


async def post(http: httpx.AsyncClient, query: str, accept: str = "application/json") -> Any:
    return await http.post("/graphql", json={"query": query}, headers={"Accept": accept})


def assert_too_large(response: httpx.Response, limit: int, status: int = 200) -> dict[str, Any]:
    """A request error RESPONSE_TOO_LARGE: no data, the numbers in extensions, a small body."""
    assert response.status_code == status, response.text[:500]
    assert len(response.content) < 2_000
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    assert error["extensions"]["limit"] == limit
    assert error["extensions"]["bytes"] > limit
    assert f"the limit is {limit:,}" in error["message"] or f"than {limit:,}" in error["message"]
    assert "first/last" in error["message"]
    return body


def assert_refused_before_running(
    response: httpx.Response, limit: int, status: int = 200
) -> dict[str, Any]:
    """RESPONSE_TOO_LARGE from the estimate: no executor ran (an answer cut off once built
    says "took more than")."""
    body = assert_too_large(response, limit, status)
    assert "x-executor" not in response.headers
    assert body["errors"][0]["message"].startswith("The answer may take up to"), body
    return body


def test_a_small_query_for_megabytes_is_refused_by_the_real_server(tmp_path: Path):
    """The issue's case, on `impact-graph serve`: refused before it runs (no X-Executor), as
    JSON 200 and as graphql-response+json 400; an ordinary query is answered."""
    with served(tmp_path) as base, httpx.Client(base_url=base, timeout=30) as http:
        body = {"query": WIDE}
        assert len(json.dumps(body)) < 2_000
        for accept, status in (("application/json", 200), (GRAPHQL_RESPONSE, 400)):
            response = http.post("/graphql", json=body, headers={"Accept": accept})
            assert response.headers["content-type"].startswith(accept)
            refused = assert_refused_before_running(response, DEFAULT_LIMIT, status)
            assert refused["extensions"]["cost"]["estimated"] <= 25_000  # within the cost budget
        answered = http.post("/graphql", json={"query": DOCUMENTS})
        assert answered.status_code == 200
        assert "errors" not in answered.json()
        assert len(answered.content) > 100_000


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_the_estimate_refuses_before_either_executor_runs(store: Store, executor: str):
    async with make_client(store.engine, executor=executor) as http:
        assert_refused_before_running(await post(http, WIDE), DEFAULT_LIMIT)
        refused = await post(http, WIDE, GRAPHQL_RESPONSE)
        assert_refused_before_running(refused, DEFAULT_LIMIT, 400)
        answered = await post(http, DOCUMENTS)
        assert "errors" not in answered.json()
        assert answered.headers["x-executor"] == executor


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_the_limit_is_a_setting(store: Store, executor: str):
    """At 128 KiB the twenty documents' texts (~166 KB, estimated from the recorded widths)
    are refused before they run; one document list is answered."""
    limit = 128 * 1024
    async with make_client(store.engine, executor=executor, max_response_bytes=limit) as http:
        assert_refused_before_running(await post(http, DOCUMENTS), limit)
        one = await post(http, "{ documents { nodes { text } } }")
        assert "errors" not in one.json()


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_an_answer_over_the_limit_once_built_is_cut_off(
    unrecorded_store: Store, executor: str
):
    """Where the store measured no widths (seeded before they were recorded), texts are
    priced at a guess and the estimate passes; the answer, built, is over the limit: the
    client gets the same refusal and nothing of the answer, and it is not kept."""
    limit = 64 * 1024
    settings = {"executor": executor, "max_response_bytes": limit}
    async with make_client(unrecorded_store.engine, **settings) as http:
        for accept, status in (("application/json", 200), (GRAPHQL_RESPONSE, 400)):
            response = await post(http, TEXTS, accept)
            body = assert_too_large(response, limit, status)
            assert "The answer took more than" in body["errors"][0]["message"]
            assert body["extensions"]["cost"]["estimated"] == 16
        # with the response cache on (the default), the cut-off answer was not kept either
        assert_too_large(await post(http, TEXTS), limit)
        small = await post(http, "{ documents { nodes { title } } }")
        assert "errors" not in small.json()


async def test_an_answer_under_the_limit_is_answered_whatever_its_statement_returns(
    store: Store,
):
    """The compiled executor measured its statement's JSON against the limit (SQLite returns
    it as text), not the answer: FANNED, a tenth of the limit, was refused as 4.6 MB on
    SQLite. Both executors answer it, byte for byte."""
    answers = {}
    for executor in EXECUTORS:
        async with make_client(store.engine, executor=executor, cache=False) as http:
            response = await post(http, FANNED)
            assert response.status_code == 200
            assert response.headers["x-executor"] == executor
            answers[executor] = response.content
    assert answers["compiled"] == answers["reference"]
    assert 400_000 < len(answers["compiled"]) < DEFAULT_LIMIT / 8
    assert json.loads(answers["compiled"])["extensions"]["cost"]["actual"] == 13_272


async def test_the_seed_records_the_widest_text_of_each_field(store: Store):
    """As JSON writes them: the longest document's text with its escapes and quotes."""
    snapshot = await read_snapshot(store.engine)
    async with store.engine.connect() as connection:
        texts = (await connection.execute(select(Document.text))).scalars().all()  # type: ignore[call-overload]
        slugs = (await connection.execute(select(Document.slug))).scalars().all()  # type: ignore[call-overload]
    widest = max(len(json.dumps(t, ensure_ascii=False).encode()) for t in texts)
    assert snapshot.size(width_key("Document", "text")) == widest
    assert snapshot.size(width_key("Document", "id")) == max(len(s) for s in slugs)
    assert (snapshot.size(PROVENANCE) or 0) > 50


async def test_a_store_seeded_before_widths_were_recorded_is_stale(store: Store, empty_store):
    """A store this seed wrote is current; one whose seed format is 2 (provenance and search,
    no widths) or older, or never seeded, is stale, and `serve` seeds it again."""
    async with store.engine.connect() as connection:
        assert not await state.is_stale(connection)
    assert state.CURRENT_SEED_FORMAT == 3  # (the cases below are written for it)
    found = {}
    for recorded in (None, 1, 2, 3):
        async with empty_store.engine.begin() as connection:
            await connection.execute(delete(StoreState))
            if recorded is not None:
                row = {"key": state.SEED_FORMAT, "value": recorded}
                await connection.execute(insert(StoreState).values(row))
            found[recorded] = await state.is_stale(connection)
    assert found == {None: True, 1: True, 2: True, 3: False}


async def test_serve_seeds_again_a_store_seeded_by_an_older_version(tmp_path: Path):
    """What `serve` does before it listens (`prepare_store`, "if-empty"): a store an older
    seed wrote (format 2, no widths) is seeded again, not served as it is; a current one is
    left alone."""
    copy_seeded_store(tmp_path / "store.db")
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}")
    assert await prepare_store(settings, seed="if-empty") is None  # current: left alone
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            older = update(StoreState).where(StoreState.key == state.SEED_FORMAT)  # type: ignore[arg-type]
            await connection.execute(older.values(value=2))
        assert await prepare_store(settings, seed="if-empty") is not None  # seeded again
        async with engine.connect() as connection:
            assert not await state.is_stale(connection)
    finally:
        await engine.dispose()


async def test_ordinary_queries_stay_well_inside_the_default(store: Store):
    """The benchmark's queries are priced under half the default limit: the seed's on the
    seeded store, the large store's on one as large as its generated one (every list full,
    names and slugs of 48 bytes, where the generator's are ~30)."""
    seeded = await read_snapshot(store.engine)
    lists = {"Query.companies": 10_000, "Company.programs": 50, "Program.partners": 50}
    lists |= {"Partner.locations": 50, "Query.programs": 500_000}
    widths = {
        width_key(t, f): 48
        for t in ("Company", "Program", "Partner", "Location")
        for f in ("id", "name")
    }
    large = state.StoreSnapshot(1, {**seeded.sizes, **lists, **widths})
    queries = [(q, seeded) for q in ours_seed("UHJvZ3JhbTp4") if q.name != "introspection"]
    queries += [(q, large) for q in ours_large("Y3Vyc29y")]
    for query, snapshot in queries:
        estimate = estimate_cost(CONTRACT, parse(query.text), None, {}, snapshot)
        assert estimate.bytes < DEFAULT_LIMIT / 2, (query.name, estimate)


async def test_a_provenances_texts_weigh_once_not_once_an_entry(store: Store):
    """The notes and sources of a provenance's entries are all in its stored JSON, so they
    weigh its widest JSON once (per field selected), not once an entry it could hold: an
    edge's provenance was priced at its widest note times 17 entries, and a page of 100
    programs' locations with their provenance (~200 KB) was refused as 5.9 MB. The estimate
    stays at least the answer."""
    seeded = await read_snapshot(store.engine)
    widest = 2_000
    snapshot = state.StoreSnapshot(1, {**seeded.sizes, PROVENANCE: widest})
    texts = "note source fields { field basis note source }"
    bare = '{ program(slug: "miles") { slug } }'
    full = f'{{ program(slug: "miles") {{ slug provenance {{ basis {texts} }} }} }}'
    (bare_bytes, full_bytes) = (
        estimate_cost(CONTRACT, parse(query), None, {}, snapshot).bytes for query in (bare, full)
    )
    entries = widest // 50 + 1  # what a JSON of that width could hold
    structure = 2 * len("provenance") + entries * 120  # keys, braces, a basis an entry
    assert widest <= full_bytes - bare_bytes <= 4 * widest + structure  # three texts selected
    query = (
        "{ programs(first: 100) { nodes { slug locations(first: 100) { edges { "
        f"provenance {{ basis {texts} }} citations {{ quote }} node {{ slug name }} }} }} }} }} }}"
    )
    async with make_client(store.engine) as http:
        response = await post(http, query)
    assert "errors" not in response.json(), response.text[:300]
    estimate = estimate_cost(CONTRACT, parse(query), None, {}, seeded)
    assert len(response.content) <= estimate.bytes < DEFAULT_LIMIT


async def test_unmeasured_provenance_is_priced_an_entry_at_a_time(store: Store):
    """Where the seed measured no provenance (an older store), its texts weigh the unmeasured
    width each, not once for all: five aliases of every field's note answered 2,239 bytes
    under a 1,643-byte estimate."""
    seeded = await read_snapshot(store.engine)
    sizes = {key: size for key, size in seeded.sizes.items() if key != PROVENANCE}
    notes = " ".join(f"n{i}: note" for i in range(5))
    program = 'program(slug: "miles-marketing-leadership-program")'
    query = f"{{ a: {program} {{ provenance {{ fields {{ {notes} }} }} }} }}"
    async with make_client(store.engine) as http:
        answered = await post(http, query)
    estimate = estimate_cost(CONTRACT, parse(query), None, {}, state.StoreSnapshot(1, sizes))
    assert len(answered.content) <= estimate.bytes


async def test_refusals_are_not_kept_as_answers(store: Store):
    """A refused answer carries no ETag and is not to be stored."""
    async with make_client(store.engine) as http:
        response = await http.get("/graphql", params={"query": WIDE})
        assert_too_large(response, DEFAULT_LIMIT)
        assert "etag" not in response.headers
        assert response.headers["cache-control"] == "no-store"


class _EveryMeasure(dict[str, int]):
    """A store whose every measure is wide: a text the estimate prices by a measure weighs
    this much."""

    def get(self, key: str, default: Any = None) -> int:
        return 100_000


# Leaves whose values are the schema's own names (a field's, a selector type's), not texts of
# the store: the estimate weighs them SMALL, which the test below checks they fit.
NAMES_NOT_TEXTS = {
    ("FieldProvenance", "field"),
    ("Highlight", "field"),
    ("TextPositionSelector", "type"),
    ("TextQuoteSelector", "type"),
}


def test_every_text_an_answer_can_hold_is_weighed_by_its_widest_value():
    """A text field the estimate does not know weighs SMALL, silently: a new one outside the
    type map must be priced, or be a name that fits."""
    widths = Widths(StoreSnapshot(sizes=_EveryMeasure()))
    light = set()
    names: set[str] = set()
    for type_name, graphql_type in CONTRACT.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        names.update(graphql_type.fields)
        for field_name, field in graphql_type.fields.items():
            if get_named_type(field.type).name not in ("String", "ID"):
                continue
            if widths.value(type_name, field_name, 100) <= SMALL:
                light.add((type_name, field_name))
    # a highlight's text is one stride of the searched values (operation/size.py)
    assert light == NAMES_NOT_TEXTS | {("Highlight", "text")}
    longest = max([*names, "TextPositionSelector", "TextQuoteSelector"], key=len)
    assert len(json.dumps(longest)) <= SMALL, longest


async def test_a_quote_s_context_in_letters_of_four_bytes_is_within_its_estimate(
    empty_store: Store, seed_plan
):
    """A context's width is in characters, and a character may take four bytes in UTF-8:
    the estimate prices each at four, so a document in such letters is no larger than it."""
    await write_seeds(empty_store.engine, seed_plan)
    async with empty_store.engine.begin() as connection:
        documents = (await connection.execute(select(Document.id, Document.text))).all()
        for document_id, text in documents:  # every character one of four bytes
            wide = "".join("\n" if c == "\n" else "\U0001d11e" for c in text)
            await connection.execute(
                update(Document).where(Document.id == document_id).values(text=wide)
            )
    query = (
        "{ programs(first: 100) { nodes { citations { "
        "context(characters: 300) { before after } } } } }"
    )
    snapshot = await read_snapshot(empty_store.engine)
    estimate = estimate_cost(CONTRACT, parse(query), None, {}, snapshot)
    for executor in EXECUTORS:
        async with make_client(empty_store.engine, executor=executor) as http:
            response = await post(http, query)
        assert response.headers["x-executor"] == executor
        assert "\U0001d11e" * 300 in response.text
        assert len(response.content) <= estimate.bytes, executor
        sides = [
            side
            for program in response.json()["data"]["programs"]["nodes"]
            for citation in program["citations"]
            for side in citation["context"].values()
        ]
        widest = max(len(json.dumps(side, ensure_ascii=False).encode()) for side in sides)
        assert widest <= Widths(snapshot).context(300), executor  # each side within its price


@pytest.mark.parametrize("characters", range(13))
def test_an_id_or_cursor_is_priced_at_its_length_quoted(characters):
    """Its base64 (four characters for every three bytes, padded) between quotes: priced short, an
    answer of many IDs would be under its estimate by up to 4 bytes each."""
    written = json.dumps(encode_token("x" * characters))
    assert token(characters) == len(written)


@pytest.mark.parametrize("letters", [2, 3, 7])
@pytest.mark.parametrize("count", [1, 2, 9, 200])
def test_a_hit_marks_no_more_highlights_than_its_estimate_holds(letters, count):
    """The widest searched value written as words of two letters (or a few) apart by one
    space, each matching the query: its highlights are as many as a value of that width can
    hold, and the estimate's count and texts hold them. (Words of one letter hold half again
    as many: operation/size.py HIGHLIGHT_STRIDE; the measured answer bounds those.)"""
    word = "x" * letters
    value = " ".join([word] * count)
    widest = len(json.dumps(value))
    widths = Widths(StoreSnapshot(sizes={width_key("Passage", "text"): widest}))
    assert widths.searched() == max(widest, UNRECORDED_TEXT)
    matched = (Matched("text", None, value, fuzzy=False),)
    marked = highlights(parse_search(word), matched)
    assert [mark.text for mark in marked] == [word] * count
    entries = widths.entries("SearchHit", "highlights")
    assert entries is not None
    assert len(marked) <= entries
    text = widths.value("Highlight", "text", 0)
    assert sum(len(json.dumps(mark.text)) for mark in marked) <= entries * text


@pytest.mark.parametrize(("slug", "sort"), [(1, 1), (30, 24), (120, 200), (120, 4_000)])
def test_the_widest_cursor_is_priced_at_its_length_at_least(slug, sort):
    """A cursor of the widest parent and row slugs and the widest sort value the store holds,
    written by the encoder the lists use, is within the price of every cursor."""
    sizes = {width_key(name, "id"): slug for name in REFETCHABLE} | {SORT_KEYS: sort}
    widths = Widths(StoreSnapshot(sizes=sizes))
    where = CursorScope(fingerprint("Query.programs", None, "NAME"), "p" * slug)
    key = "s" * slug + KEY_SEPARATOR + "v" + "w" * max(sort, SMALL)
    assert len(json.dumps(encode_cursor(where, key))) <= widths.cursor()


@pytest.mark.parametrize("citation", [1, 40, 120])
@pytest.mark.parametrize("type_name", [CONTEXT_TYPE, QUOTE_SELECTOR.w3c_type])
def test_a_context_id_is_priced_at_its_length_at_least(citation, type_name):
    """A quote context's (or a selector's) key, of the widest citation slug and the widest
    width a context may be asked for, is within its price."""
    widths = Widths(StoreSnapshot(sizes={width_key(CITATION.name, "id"): citation}))
    written = context_id("c" * citation, MAX_CONTEXT, type_name)
    assert len(json.dumps(written)) <= widths.identifier(type_name)
