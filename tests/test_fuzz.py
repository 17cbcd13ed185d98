"""Property-based fuzzing of the real `/graphql` endpoint, on both stores.

The app runs under uvicorn in a thread of its own (its own event loop and engine over the
seeded store), and hypothesis drives it with a plain, synchronous httpx client. Whatever
is sent, every answer must be a well-formed GraphQL-over-HTTP response: an expected status,
a JSON body (or GraphiQL's page when a browser asks for it), errors with a message and a
code, no INTERNAL_SERVER_ERROR and nothing of the server's internals. The server must still
answer an ordinary query after each fuzzed test.

Runs are derandomized and bounded by example counts, so the file is quick and repeatable.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, nodes, queries

from core.config import Settings
from db.engine import create_engine
from server.app import create_app
from tests.conftest import Store

SDL = (Path(__file__).resolve().parent.parent / "schema" / "schema.graphql").read_text()

ALLOWED_STATUSES = {200, 400, 405, 406, 413, 415, 503}
UNAVAILABLE_CODES = {"QUERY_TIMEOUT", "DATABASE_UNAVAILABLE"}
LEAK_MARKERS = (
    "Traceback",
    'File "',
    ".py",
    "/work",
    "site-packages",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "SELECT ",
    " FROM ",
    "INSERT ",
    "psycopg",
    "sqlite3",
)
ALIVE_QUERY = '{ company(slug: "sony-music") { name } }'

# Examples per strategy (each test below runs once per backend).
SCHEMA_QUERY_EXAMPLES = 150
NEGATIVE_QUERY_EXAMPLES = 100
GARBAGE_EXAMPLES = 250
MUTATED_EXAMPLES = 150
DEEP_EXAMPLES = 120
JSON_BODY_EXAMPLES = 200
BYTES_BODY_EXAMPLES = 150
HTTP_SHAPE_EXAMPLES = 200
GET_EXAMPLES = 200
LARGE_BODY_EXAMPLES = 8
VARIABLES_EXAMPLES = 300


def fuzz(max_examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Repeatable, bounded hypothesis settings that leave no example database behind."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


# --- the server under test ------------------------------------------------------------


@dataclass
class Sent:
    """What was sent, kept to explain a failure and to tell reflected input from a leak."""

    method: str
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace") + json.dumps(self.params, ensure_ascii=False)

    def __str__(self) -> str:
        return (
            f"{self.method} /graphql headers={self.headers!r} params={self.params!r} "
            f"body={self.body[:600]!r}"
        )


class LiveServer:
    """The real app on a free loopback port, with a fresh engine over the given store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say they are
        # TCP, and without it each response waits out the client's delayed ACK (~40 ms).
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server: uvicorn.Server | None = None
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="fuzz-uvicorn", daemon=True)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported by start()/stop()
            self.failure = error

    async def _serve(self) -> None:
        engine = create_engine(self.store.database_url, search_path=self.store.search_path)
        app = create_app(Settings(), engine=engine)
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        try:
            await self.server.serve(sockets=[self.socket])
        finally:
            await engine.dispose()

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not (self.server is not None and self.server.started):
            if self.failure is not None or not self.thread.is_alive():
                raise RuntimeError(f"the fuzzed server did not start: {self.failure!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("the fuzzed server did not start within 20 s")
            time.sleep(0.01)

    def stop(self) -> None:
        self.http.close()
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=20)
        self.socket.close()
        assert not self.thread.is_alive(), "the fuzzed server did not stop"
        assert self.failure is None, f"the fuzzed server crashed: {self.failure!r}"

    # -- requests ------------------------------------------------------------------------

    def send(
        self,
        method: str = "POST",
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request and check the response's invariants; returns it for more checks."""
        sent = Sent(method, dict(headers or {}), body, dict(params or {}))
        response = self.http.request(
            method,
            "/graphql",
            content=body if method not in ("GET", "HEAD") else None,
            headers=sent.headers,
            params=sent.params or None,
        )
        check_response(response, sent)
        return response

    def post_json(self, payload: Any, accept: str | None = None, **dumps: Any) -> httpx.Response:
        body = json.dumps(payload, **dumps).encode("utf-8", "surrogatepass")
        headers = {"Content-Type": "application/json"}
        if accept is not None:
            headers["Accept"] = accept
        return self.send("POST", body=body, headers=headers)

    def assert_alive(self) -> None:
        response = self.post_json({"query": ALIVE_QUERY})
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"company": {"name": "Sony Music"}}, response.text


def check_response(response: httpx.Response, sent: Sent) -> None:
    """The invariants every answer keeps, whatever was sent."""
    where = f"\nrequest: {sent}\nresponse {response.status_code}: {response.text[:800]}"
    assert response.status_code in ALLOWED_STATUSES, "unexpected status" + where
    text = response.text
    reflected = sent.text()
    leaks = [m for m in LEAK_MARKERS if m in text and m not in reflected]
    assert not leaks, f"internals in the response: {leaks}" + where
    media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "text/html":  # GraphiQL, for a browser's GET only
        assert sent.method == "GET", "HTML for a non-GET request" + where
        assert "text/html" in sent.headers.get("Accept", "").lower(), "unasked-for HTML" + where
        assert response.status_code == 200, where
        return
    assert media in ("application/json", "application/graphql-response+json"), where
    try:
        body = response.json()
    except ValueError:
        pytest.fail("the body is not JSON" + where)
    assert isinstance(body, dict), "the body is not a JSON object" + where
    assert set(body) <= {"data", "errors", "extensions"}, where
    if response.status_code != 200:
        assert body.get("errors"), "an error status without errors" + where
    else:
        assert "data" in body or body.get("errors"), "neither data nor errors" + where
    errors = body.get("errors", [])
    assert isinstance(errors, list), where
    for error in errors:
        assert isinstance(error, dict), where
        assert isinstance(error.get("message"), str), "an error without a message" + where
        extensions = error.get("extensions")
        assert isinstance(extensions, dict), "an error without extensions" + where
        code = extensions.get("code")
        assert isinstance(code, str), "an error without a code" + where
        assert code, "an empty error code" + where
        assert code != "INTERNAL_SERVER_ERROR", "the server failed" + where
    if response.status_code == 503:
        assert errors[0]["extensions"]["code"] in UNAVAILABLE_CODES, where


@pytest.fixture(scope="module")
def live(store: Store) -> Iterator[LiveServer]:
    server = LiveServer(store)
    server.start()
    try:
        server.assert_alive()
        yield server
    finally:
        server.stop()


# --- strategies ---------------------------------------------------------------------------

SCHEMA_QUERIES = queries(SDL, custom_scalars={"Date": st.dates().map(nodes.String)})
NEGATIVE_QUERIES = queries(
    SDL, custom_scalars={"Date": st.dates().map(nodes.String)}, mode=Mode.NEGATIVE
)

KNOWN_QUERIES = (
    ALIVE_QUERY,
    """query Programs($first: Int, $after: String) {
      programs(first: $first, after: $after, orderBy: {field: LAUNCHED_YEAR, direction: DESC}) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { cursor node { id slug kind company { name } citations { quote start end } } }
      }
    }""",
    """{ company(slug: "sony-music") {
      ...C  alias: programs(first: 2, filter: {kind: [FUND], countryCode: "US"}) { nodes { slug } }
    } }
    fragment C on Company { id slug foundedYear foundedIn { name } }""",
    """{ nodes(ids: ["Q29tcGFueTpzb255LW11c2lj", "x"]) { id ... on Company { name } } }""",
    """{ documents(first: 1) { nodes { slug title publishedOn text } } }""",
    """{ __typename a: company(slug: "sony-music") @include(if: true) {
      name @skip(if: false)
    } }""",
    """mutation { x }""",
    """subscription { x }""",
    graphql.get_introspection_query(),
    # Adversarial shapes: fragment cycles, fragments fanning out, nested lists, many aliases.
    "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
    "{ ...L0 } "
    + " ".join(f"fragment L{i} on Query {{ ...L{i + 1} ...L{i + 1} }}" for i in range(30))
    + " fragment L30 on Query { __typename }",
    "{ programs(first: 100) { nodes { subPrograms(first: 100) { nodes {"
    " subPrograms(first: 100) { nodes { slug citations { quote } } } } } } } }",
    "{ " + " ".join(f'c{i}: company(slug: "sony-music") {{ name }}' for i in range(60)) + " }",
)

PUNCTUATION = "{}[]()!$@:=,.|&\"'#\\\n\t ...on query fragment mutation subscription __schema"
ACCEPTS = (
    None,
    "application/json",
    "application/graphql-response+json",
    "application/graphql-response+json, application/json;q=0.9",
    "*/*",
    "application/*",
    "text/html",
    "text/html, application/json;q=0.9",
    "text/plain",
    "application/xml",
    "application/json;q=0",
    "application/json;q=abc",
    "",
)
CONTENT_TYPES = (
    None,
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/json;charset=latin-1",
    "application/graphql",
    "application/graphql-response+json",
    "text/plain",
    "text/html",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "",
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

# A header value h11 will send: visible ASCII, spaces only inside.
header_values = st.from_regex(r"[!-~]([ -~]{0,60}[!-~])?", fullmatch=True)
accepts = st.sampled_from(ACCEPTS) | header_values
content_types = st.sampled_from(CONTENT_TYPES) | header_values

# Any Unicode, lone surrogates included (they reach the server as JSON \\u escapes), and a few
# strings that break naive code more often than random ones do.
TRICKY_TEXT = ("\x00", "\ud800", "x\udfffy", "\u202e", "\ufeff", "\\", "%_", "\U0001f600", " ")
any_text = st.text(st.characters(exclude_categories=()), max_size=40) | st.sampled_from(TRICKY_TEXT)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63, 10**40, -(10**40)])
    | st.floats()  # NaN and Infinity too: Python's json reads them
    | any_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            any_text | st.sampled_from(["query", "first", "slug"]), children, max_size=5
        )
    ),
    max_leaves=25,
)


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """A valid query with random characters inserted, deleted, replaced or duplicated."""
    document = draw(st.sampled_from(KNOWN_QUERIES) | SCHEMA_QUERIES)
    for _ in range(draw(st.integers(1, 8))):
        start = draw(st.integers(0, len(document)))
        end = draw(st.integers(start, min(len(document), start + 12)))
        operation = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        noise = draw(
            st.text(st.sampled_from(PUNCTUATION) | st.characters(), min_size=1, max_size=6)
        )
        if operation == "insert":
            document = document[:start] + noise + document[start:]
        elif operation == "delete":
            document = document[:start] + document[end:]
        elif operation == "replace":
            document = document[:start] + noise + document[end:]
        else:
            document = (
                document[:end] + document[start:end] * draw(st.integers(1, 50)) + document[end:]
            )
    return document


OPENERS = (
    ("{", "}"),
    ("[", "]"),
    ("(", ")"),
    ("{a", "}"),
    ("{ a ", "} "),
    ("{a{", "}}"),
    ("[{", "}]"),
    ("{a(b:", ")}"),
    ("{a(b:[", "])}"),
    ("{a(b:{c:", "})}"),
    ("{...on Query", "}"),
    ("{a@b(c:[", "])}"),
    ("{__schema{types{fields{type{ofType", "}}}}}"),
    ('"', '"'),
)
PREFIXES = (
    "",
    "query ",
    "query Q ",
    "{ companies(filter: ",
    "query Q($v: [[Int]] = ",
    '{ nodes(ids: ["a", ',
    "fragment F on Query ",
)


@st.composite
def deep_documents(draw: st.DrawFn) -> str:
    """Brackets nested thousands deep, within a few KB, closed or not."""
    prefix = draw(st.sampled_from(PREFIXES))
    opener, closer = draw(st.sampled_from(OPENERS))
    depth = draw(st.integers(1, 8000 // len(opener)))
    ending = draw(st.sampled_from(["close", "open", "half"]))
    closing = "" if ending == "open" else closer * (depth if ending == "close" else depth // 2)
    return prefix + opener * depth + closing


def encode(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")


TYPE_NAMES = ("Company", "Program", "Partner", "Person", "Report", "Location", "Figure", "Document")
SLUGS = ("sony-music", "x", "", "a" * 300, "Sony Music", "../../etc", "%", "_", "'; --")


def global_ids() -> st.SearchStrategy[str]:
    """IDs: random text, base64 of random bytes, and forged `Type:slug` tokens."""
    forged = st.tuples(
        st.sampled_from(TYPE_NAMES) | any_text, st.sampled_from(SLUGS) | any_text
    ).map(lambda pair: encode(f"{pair[0]}:{pair[1]}"))
    raw = st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode("ascii"))
    return forged | raw | any_text


def cursors(scopes: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Cursors: forged `cursor:v1:<scope>:<position>` for real scopes, and any text."""
    positions = (
        st.integers().map(str) | st.sampled_from(["0", "-1", "2147483648", "1e3"]) | any_text
    )
    forged = st.tuples(st.sampled_from(scopes) | any_text, positions).map(
        lambda pair: encode(f"cursor:v1:{pair[0]}:{pair[1]}")
    )
    return forged | any_text


# The variables VARIABLES_QUERY declares.
DECLARED = (
    "slug",
    "first",
    "last",
    "after",
    "before",
    "filter",
    "order",
    "ids",
    "id",
    "characters",
)
VARIABLES_QUERY = """
query Fuzz($slug: String!, $first: Int, $last: Int, $after: String, $before: String,
           $filter: ProgramFilter, $order: ProgramOrder, $ids: [ID!]!, $id: ID!,
           $characters: Int!) {
  company(slug: $slug) {
    name
    programs(first: $first, last: $last, after: $after, before: $before,
             filter: $filter, orderBy: $order) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { slug citations { context(characters: $characters) { quote } } } }
    }
  }
  programs(first: $first, after: $after, filter: $filter, orderBy: $order) { totalCount }
  nodes(ids: $ids) { id }
  node(id: $id) { id }
}
"""


@dataclass(frozen=True)
class Tokens:
    """Real IDs and cursors from the store, and the list fingerprints inside the cursors."""

    ids: tuple[str, ...]
    cursors: tuple[str, ...]
    scopes: tuple[str, ...]


def real_tokens(live: LiveServer) -> Tokens:
    response = live.post_json(
        {
            "query": """{
              programs(first: 3) { edges { cursor node { id } } }
              c1: programs(first: 2, orderBy: {field: LAUNCHED_YEAR}) { edges { cursor } }
              company(slug: "sony-music") {
                id programs(first: 2) { edges { cursor node { company { id } } } }
              }
            }"""
        }
    )
    data = response.json()["data"]
    edges = data["programs"]["edges"] + data["c1"]["edges"] + data["company"]["programs"]["edges"]
    ids = {data["company"]["id"]} | {e["node"]["id"] for e in data["programs"]["edges"]}
    cursors = {edge["cursor"] for edge in edges}
    scopes = {base64.b64decode(cursor).decode().split(":")[2] for cursor in cursors}
    assert ids, response.text
    assert scopes, response.text
    return Tokens(tuple(sorted(ids)), tuple(sorted(cursors)), tuple(sorted(scopes)))


def variables(tokens: Tokens) -> st.SearchStrategy[dict[str, Any]]:
    """Variables for VARIABLES_QUERY: well typed (edge values included) with up to three
    swapped for any JSON or dropped; or a dictionary of pure noise."""
    int32 = st.integers(-(2**31), 2**31 - 1)  # wider values are in json_values
    page = st.none() | st.integers(0, 100) | st.integers(-5, 105) | int32
    ids = st.sampled_from(tokens.ids) | global_ids()
    after = st.none() | st.sampled_from(tokens.cursors) | cursors(tokens.scopes)
    kinds = st.sampled_from(["FUND", "PROGRAM", "BENEFIT", "FRAMEWORK"])
    program_filter = st.none() | st.fixed_dictionaries(
        {},
        optional={
            "nameContains": st.sampled_from(["", "fund", "%", "_", "\\"]) | any_text,
            "kind": st.none() | st.lists(kinds, max_size=5) | kinds,
            "countryCode": st.sampled_from(["US", "us", "GB", "", "USA"]) | any_text,
        },
    )
    order = st.none() | st.fixed_dictionaries(
        {"field": st.sampled_from(["NAME", "SLUG", "LAUNCHED_YEAR"])},
        optional={"direction": st.sampled_from(["ASC", "DESC"])},
    )
    well_typed = st.fixed_dictionaries(
        {
            "slug": st.just("sony-music") | st.sampled_from(SLUGS) | any_text,
            "ids": st.lists(ids, max_size=5) | st.lists(ids, max_size=110),
            "id": ids,
            "characters": st.integers(0, 2000) | int32,
        },
        optional={
            "first": page,
            "last": page,
            "after": after,
            "before": after,
            "filter": program_filter,
            "order": order,
        },
    )

    @st.composite
    def spoiled(draw: st.DrawFn) -> dict[str, Any]:
        values = draw(well_typed)
        names = st.sampled_from(DECLARED)
        for name in draw(st.lists(names, max_size=3, unique=True)):
            if draw(st.booleans()):
                values[name] = draw(json_values)
            else:
                values.pop(name, None)
        return values

    noise = st.dictionaries(any_text | st.sampled_from(DECLARED), json_values, max_size=6)
    return st.one_of(spoiled(), spoiled(), spoiled(), noise)


# --- a. schema-valid queries -------------------------------------------------------------


def test_schema_queries(live: LiveServer) -> None:
    @fuzz(SCHEMA_QUERY_EXAMPLES)
    @given(query=SCHEMA_QUERIES, accept=st.sampled_from(ACCEPTS[:4]))
    def check(query: str, accept: str | None) -> None:
        response = live.post_json({"query": query}, accept)
        if "data" not in response.json():
            # Only a document limit may refuse a query the schema allows.
            codes = {e["extensions"]["code"] for e in response.json()["errors"]}
            assert "GRAPHQL_VALIDATION_FAILED" not in codes, (query, response.text)
            assert "GRAPHQL_PARSE_FAILED" not in codes, (query, response.text)

    check()
    live.assert_alive()


def test_schema_queries_with_one_violation(live: LiveServer) -> None:
    @fuzz(NEGATIVE_QUERY_EXAMPLES)
    @given(query=NEGATIVE_QUERIES, accept=st.sampled_from(ACCEPTS[:4]))
    def check(query: str, accept: str | None) -> None:
        live.post_json({"query": query}, accept)

    check()
    live.assert_alive()


# --- b. mutated and garbage documents -----------------------------------------------------


def test_garbage_documents(live: LiveServer) -> None:
    @fuzz(GARBAGE_EXAMPLES)
    @given(
        document=st.text(st.characters(exclude_categories=()), max_size=300)
        | st.text(st.sampled_from(PUNCTUATION), max_size=500),
        accept=st.sampled_from(ACCEPTS[:4]),
    )
    def check(document: str, accept: str | None) -> None:
        live.post_json({"query": document}, accept)

    check()
    live.assert_alive()


def test_mutated_documents(live: LiveServer) -> None:
    @fuzz(MUTATED_EXAMPLES)
    @given(document=mutated_documents(), accept=st.sampled_from(ACCEPTS[:4]))
    def check(document: str, accept: str | None) -> None:
        live.post_json({"query": document}, accept, ensure_ascii=False)

    check()
    live.assert_alive()


def test_deeply_nested_documents(live: LiveServer) -> None:
    @fuzz(DEEP_EXAMPLES)
    @given(document=deep_documents(), accept=st.sampled_from(ACCEPTS[:4]))
    def check(document: str, accept: str | None) -> None:
        live.post_json({"query": document}, accept)

    check()
    live.assert_alive()


# --- c. random bodies, content types, methods and GET parameters --------------------------


def test_random_json_bodies(live: LiveServer) -> None:
    request_shaped = st.fixed_dictionaries(
        {},
        optional={
            "query": json_values | st.sampled_from(KNOWN_QUERIES),
            "variables": json_values,
            "operationName": json_values | st.sampled_from(["Programs", "Nope", ""]),
            "extensions": json_values,
        },
    )
    deep_json = st.tuples(st.sampled_from(["[", '{"a":']), st.integers(1, 3000)).map(
        lambda unit: (
            '{"query": "{ __typename }", "variables": {"v": '
            + unit[0] * unit[1]
            + "1"
            + ("]" if unit[0] == "[" else "}") * unit[1]
            + "}}"
        ).encode()
    )

    @fuzz(JSON_BODY_EXAMPLES)
    @given(
        payload=json_values | request_shaped | deep_json,
        accept=st.sampled_from(ACCEPTS[:4]),
        ascii_only=st.booleans(),
    )
    def check(payload: Any, accept: str | None, ascii_only: bool) -> None:
        if isinstance(payload, bytes):  # deep_json, already encoded
            body = payload
        else:
            body = json.dumps(payload, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
        headers = {"Content-Type": "application/json"}
        if accept is not None:
            headers["Accept"] = accept
        live.send("POST", body=body, headers=headers)

    check()
    live.assert_alive()


def test_random_byte_bodies(live: LiveServer) -> None:
    prefixes = st.sampled_from(
        [b"", b'{"query": "', b'{"query": "{ company(slug: \\"', b"\xef\xbb\xbf"]
    )
    suffixes = st.sampled_from([b"", b'"}', b'\\"){name}}"}'])

    @fuzz(BYTES_BODY_EXAMPLES)
    @given(
        parts=st.tuples(prefixes, st.binary(max_size=400), suffixes),
        content_type=st.sampled_from(CONTENT_TYPES[:5]),
    )
    def check(parts: tuple[bytes, bytes, bytes], content_type: str | None) -> None:
        headers = {} if content_type is None else {"Content-Type": content_type}
        live.send("POST", body=b"".join(parts), headers=headers)

    check()
    live.assert_alive()


def test_random_methods_content_types_and_accepts(live: LiveServer) -> None:
    bodies = st.sampled_from(
        [b"", b'{"query": "{ __typename }"}', b"query=%7B__typename%7D", b"{ __typename }"]
    ) | st.binary(max_size=200)

    @fuzz(HTTP_SHAPE_EXAMPLES)
    @given(
        method=st.sampled_from(METHODS) | st.sampled_from(["GET", "POST"]),
        content_type=content_types,
        accept=accepts,
        body=bodies,
    )
    def check(method: str, content_type: str | None, accept: str | None, body: bytes) -> None:
        headers = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if accept is not None:
            headers["Accept"] = accept
        live.send(method, body=body, headers=headers)

    check()
    live.assert_alive()


def test_random_get_parameters(live: LiveServer) -> None:
    names = st.sampled_from(["query", "variables", "operationName", "extensions"]) | any_text
    values = (
        st.sampled_from(KNOWN_QUERIES[:6])
        | json_values.map(lambda v: json.dumps(v, ensure_ascii=False))
        | st.text(st.characters(), max_size=200)
    )

    @fuzz(GET_EXAMPLES)
    @given(params=st.dictionaries(names, values, max_size=4), accept=st.sampled_from(ACCEPTS))
    def check(params: dict[str, str], accept: str | None) -> None:
        # A lone surrogate cannot be put in a URL; the server never sees one there.
        params = {
            k.encode("utf-8", "replace").decode(): v.encode("utf-8", "replace").decode()
            for k, v in params.items()
        }
        headers = {} if accept is None else {"Accept": accept}
        live.send("GET", headers=headers, params=params)

    check()
    live.assert_alive()


def test_large_bodies(live: LiveServer) -> None:
    @fuzz(LARGE_BODY_EXAMPLES)
    @given(
        unit=st.sampled_from(
            ["{ a ", "a ", "x", "[", "# comment\n", '{ company(slug: "x") { name } ']
        )
        | st.text(min_size=1, max_size=8),
        size=st.integers(60_000, 140_000),
    )
    def check(unit: str, size: int) -> None:
        live.post_json({"query": unit * (size // len(unit))})

    check()
    live.assert_alive()


# --- d. random variables for a query that declares many -----------------------------------


def test_random_variables(live: LiveServer) -> None:
    tokens = real_tokens(live)

    @fuzz(VARIABLES_EXAMPLES)
    @given(values=variables(tokens), accept=st.sampled_from(ACCEPTS[:4]))
    def check(values: dict[str, Any], accept: str | None) -> None:
        live.post_json(
            {"query": VARIABLES_QUERY, "variables": values, "operationName": "Fuzz"},
            accept,
            ensure_ascii=True,
        )

    check()
    live.assert_alive()
