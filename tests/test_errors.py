"""Error hygiene: failures are masked and logged, client errors explained, the store untouched."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import text

import loaders
from core.errors import DatabaseUnavailable
from core.logs import OncePerWindow
from db.raw import Statements
from schema.types import Company
from server.endpoint import GraphQLEndpoint
from server.errors import outage
from tests.assertions import without_cost
from tests.conftest import row_counts
from tests.test_http import (
    BAD_GETS,
    BAD_POSTS,
    GRAPHQL_RESPONSE,
    JSON,
    REQUEST_ERRORS,
    SONY,
    SONY_DATA,
    send,
)

SECRET = "secret SELECT * FROM /etc/passwd"
LEAKS = ("Traceback", "SELECT", "/etc", "secret", ".py")
DATABASE_LEAKS = ("asyncpg", "127.0.0.1", "refused", "Connect", "OSError")


async def explode(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError(SECRET)


# (loader-module function to break, query that reaches it, top-level field it fails)
# Errors are the reference executor's to report: the compiled one hands every request it
# cannot answer exactly to it (tests/test_compiled.py), so tests that break a loader on
# purpose use the reference executor's client.
BROKEN_RESOLVERS = [
    pytest.param("fetch_by_keys", SONY, "company", id="lookup-by-slug"),
    pytest.param("fetch_pages", "{ companies { totalCount } }", "companies", id="list-page"),
    pytest.param(
        "fetch_citations",
        '{ company(slug: "sony-music") { citations { quote } } }',
        "company",
        id="citations",
    ),
]


def assert_masked(response: httpx.Response, leaks: tuple[str, ...] = LEAKS) -> dict[str, Any]:
    """One generic INTERNAL_SERVER_ERROR carrying the request id, and nothing that leaks."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "data" in body
    [error] = body["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "requestId": response.headers["x-request-id"],
    }
    for leak in leaks:
        assert leak not in response.text, f"{leak!r} leaked: {response.text}"
    return body


@pytest.mark.parametrize(("function", "query", "field"), BROKEN_RESOLVERS)
async def test_unexpected_exception_is_masked(
    reference_client, monkeypatch, function, query, field
):
    monkeypatch.setattr(loaders, function, explode)
    response = await send(reference_client, payload={"query": query})
    body = assert_masked(response)
    assert body["errors"][0]["path"][0] == field


@pytest.mark.parametrize(("function", "query", "field"), BROKEN_RESOLVERS)
async def test_unexpected_exception_is_logged_with_its_stack(
    reference_client, monkeypatch, caplog, function, query, field
):
    monkeypatch.setattr(loaders, function, explode)
    with caplog.at_level(logging.ERROR):
        response = await send(reference_client, payload={"query": query})
    request_id = response.headers["x-request-id"]
    logged = [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR
        and request_id in record.getMessage()
        and record.exc_info is not None
    ]
    assert logged, f"no error logged for request {request_id}"
    _, exception, stack = logged[0].exc_info
    assert isinstance(exception, RuntimeError)
    assert str(exception) == SECRET
    assert stack is not None
    assert "explode" in caplog.text  # the formatted stack reaches the frame that raised
    assert field in logged[0].getMessage()


async def test_masking_holds_with_graphql_response_media_type(reference_client, monkeypatch):
    monkeypatch.setattr(loaders, "fetch_by_keys", explode)
    response = await send(reference_client, payload={"query": SONY}, accept=GRAPHQL_RESPONSE)
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert assert_masked(response)["data"] == {"company": None}


async def test_masking_spares_the_rest_of_the_response(reference_client, monkeypatch):
    monkeypatch.setattr(loaders, "fetch_citations", explode)
    query = (
        '{ company(slug: "sony-music") { name }'
        ' cited: company(slug: "sony-music") { citations { quote } } }'
    )
    body = assert_masked(await send(reference_client, payload={"query": query}))
    assert body["data"] == {"company": {"name": "Sony Music"}, "cited": None}
    assert body["errors"][0]["path"] == ["cited", "citations"]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(SONY, id="lookup"),
        pytest.param("{ companies { totalCount } }", id="list"),
    ],
)
async def test_database_failure_is_a_503_that_leaks_nothing(refused_client, caplog, query):
    with caplog.at_level(logging.WARNING):
        response = await send(refused_client, payload={"query": query})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(JSON)
    assert response.headers["retry-after"] == "1"
    [error] = response.json()["errors"]
    assert error["message"] == "The database is unavailable; try again shortly."
    assert error["extensions"] == {
        "code": "DATABASE_UNAVAILABLE",
        "requestId": response.headers["x-request-id"],
    }
    for leak in LEAKS + DATABASE_LEAKS:
        assert leak not in response.text
    assert response.headers["x-request-id"] in caplog.text


LOGGERS = {"impact_graph.graphql", "impact_graph.outage"}


async def test_an_outage_is_a_line_every_few_seconds_with_the_database_s_words(
    refused_client, caplog
):
    """While the database is away every request fails alike: one line says so, with what
    the driver said (not `(None)`), and the next one how many were left out; each request
    is still answered 503 and named in its access line."""
    (window,) = outage.filters
    assert isinstance(window, OncePerWindow)
    with caplog.at_level(logging.WARNING, logger=outage.name):
        answered = [await send(refused_client, payload={"query": SONY}) for _ in range(5)]
        window.last.clear()  # the window over
        answered.append(await send(refused_client, payload={"query": SONY}))
    assert {response.status_code for response in answered} == {503}
    first, then = [record.getMessage() for record in caplog.records if record.name == outage.name]
    assert answered[0].headers["x-request-id"] in first
    assert "The database is unavailable; try again shortly. (" in first
    assert "None" not in first
    assert answered[-1].headers["x-request-id"] in then
    assert then.endswith("(4 more such line(s) left out since)"), then


async def database_away(*_args: Any, **_kwargs: Any) -> Any:
    raise DatabaseUnavailable("The database is unavailable; try again shortly.")


@pytest.mark.parametrize(
    ("broken", "level"), [(database_away, logging.WARNING), (explode, logging.ERROR)]
)
async def test_many_fields_failing_are_one_log_line_a_request(
    reference_client, monkeypatch, caplog, broken, level
):
    """A query of many aliased fields failing (the database away, or a fault of ours) is
    one line in the log, not a line (with its alias) per field: any client could write a
    flood of them."""
    aliases = [f"a{n}" for n in range(12)]
    query = " ".join(
        f'{alias}: company(slug: "sony-music") {{ citations {{ quote }} }}' for alias in aliases
    )
    monkeypatch.setattr(loaders, "fetch_citations", broken)
    with caplog.at_level(logging.WARNING):
        response = await send(reference_client, payload={"query": "{ " + query + " }"})
    # the store's trouble is the request's, said once; a fault of ours, at each field
    assert len(response.json()["errors"]) == (1 if broken is database_away else len(aliases))
    (line,) = [record for record in caplog.records if record.name in LOGGERS]
    assert line.levelno == level
    assert response.headers["x-request-id"] in line.getMessage()
    assert f"and {len(aliases) - 1} more field(s)" in line.getMessage()


async def test_database_failure_does_not_break_schema_only_queries(refused_client):
    response = await send(refused_client, payload={"query": "{ __typename }"})
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("query", "field", "mentions", "argument"),
    [
        pytest.param(
            "{ programs(first: 1000) { totalCount } }",
            "programs",
            "1000",
            "first",
            id="page-size",
        ),
        pytest.param('{ node(id: "garbage") { id } }', "node", "garbage", "id", id="malformed-id"),
        pytest.param(
            "{ programs(first: 1, last: 1) { totalCount } }",
            "programs",
            "first",
            "last",
            id="first-and-last",
        ),
        pytest.param(
            '{ programs(after: "Y3Vyc29y") { totalCount } }',
            "programs",
            "cursor",
            "after",
            id="malformed-cursor",
        ),
        pytest.param(
            '{ locations(filter: {countryCode: "usa"}) { totalCount } }',
            "locations",
            "ISO 3166-1",
            "filter.countryCode",
            id="filter-value",
        ),
        pytest.param(
            '{ search(query: "refugees", after: "Y3Vyc29y") { totalCount } }',
            "search",
            "cursor",
            "after",
            id="search-cursor",
        ),
    ],
)
async def test_client_errors_are_explained_not_masked(
    client, caplog, query, field, mentions, argument
):
    """Each names its argument (`extensions.argument`), so a client need not read the
    message to tell a stale cursor (page again from the start) from a bad filter."""
    with caplog.at_level(logging.ERROR):
        response = await send(client, payload={"query": query})
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["path"] == [field]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    assert mentions in error["message"]
    assert response.headers["x-request-id"] not in caplog.text


@pytest.mark.parametrize(
    ("variables", "mentions"),
    [
        pytest.param({"first": "abc"}, "abc", id="wrong-type"),
        pytest.param({"first": 2**40}, "first", id="out-of-int-range"),
        pytest.param({"first": None}, "not to be null.", id="null-for-non-null"),
    ],
)
async def test_variable_errors_are_explained_not_masked(client, caplog, variables, mentions):
    query = "query Page($first: Int!) { programs(first: $first) { totalCount } }"
    with caplog.at_level(logging.ERROR):
        response = await send(client, payload={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["message"] != "Internal server error"
    assert mentions in error["message"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert response.headers["x-request-id"] not in caplog.text


@pytest.mark.parametrize(
    ("query", "argument"),
    [
        pytest.param(
            'query($s: Boolean = true) { company(slug: "sony-music") { name @include(if: $s) } }',
            "if",
            id="include-on-a-field",
        ),
        pytest.param(
            'query($s: Boolean = true) { company(slug: "sony-music") '
            "{ ... on Company @skip(if: $s) { name } } }",
            "if",
            id="skip-on-a-fragment",
        ),
        pytest.param(
            'query($s: String = "sony-music") { company(slug: $s) { name } }',
            "slug",
            id="field-argument",
        ),
    ],
)
async def test_a_null_sent_for_an_argument_that_takes_none_is_the_client_s_error(
    client, caplog, query, argument
):
    """A variable with a default may stand where no null may (the spec allows it); sent null,
    graphql-core refuses the argument's value as it executes the field. That is the client's
    input, explained (as the same refusal is before execution), not a masked fault of ours."""
    with caplog.at_level(logging.ERROR):
        response = await send(client, payload={"query": query, "variables": {"s": None}})
    assert response.status_code == 200, response.text
    body = response.json()
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert f"Argument '{argument}' has invalid value" in error["message"], error
    assert "'$s'" in error["message"]
    assert error["message"].endswith(" not to be null."), error  # JSON's word, not Python's
    assert error["path"] == ["company"]
    assert body["data"] == {"company": None}
    assert response.headers["x-request-id"] not in caplog.text


HOSTILE_QUERIES = [
    '{ company(slug: "x\'; DROP TABLE companies; --") { name } }',
    '{ programs(filter: {nameContains: "%\'; DELETE FROM programs; --"}) { totalCount } }',
    '{ node(id: "Q29tcGFueTp4JzsgRFJPUCBUQUJMRSBjb21wYW5pZXM7IC0t") { id } }',
    'mutation { deleteCompany(slug: "sony-music") { id } }',
    "{ " + " ".join(f"a{i}: companies {{ totalCount }}" for i in range(50)) + " }",
]


async def test_bad_requests_change_nothing(client, store, graphql, monkeypatch):
    before = await row_counts(store.engine)
    assert before["companies"] > 0
    assert before["citations"] > 0

    for case in BAD_POSTS:
        request_kwargs, _status, _code = case.values
        assert (await send(client, **request_kwargs)).status_code < 500
    for case in BAD_GETS:
        params, _status, _code, _allow = case.values
        assert (await send(client, "GET", params=params)).status_code < 500
    for case in REQUEST_ERRORS:
        payload, _code = case.values
        for accept in (JSON, GRAPHQL_RESPONSE):
            assert (await send(client, payload=payload, accept=accept)).status_code < 500
    for method in ("PUT", "DELETE", "PATCH"):
        assert (await send(client, method, payload={"query": SONY})).status_code == 405
    for query in HOSTILE_QUERIES:
        assert (await send(client, payload={"query": query})).status_code < 500
    with monkeypatch.context() as patch:
        for function, query, _field in (case.values for case in BROKEN_RESOLVERS):
            patch.setattr(loaders, function, explode)
            assert (await send(client, payload={"query": query})).status_code == 200

    assert await row_counts(store.engine) == before
    assert await graphql(SONY) == SONY_DATA
    body = await graphql("{ companies { totalCount } }")
    assert body == {"data": {"companies": {"totalCount": before["companies"]}}}


async def test_rejected_ids_leave_no_connection_checked_out(reference_client, store):
    """(Apps on this engine hold a connection for their compiled statements, and for their
    check of the store's data version, until it is idle: the count may fall, never rise.)"""
    bad_then_good = '{ nodes(ids: ["bm90LWFuLWlk", "Q29tcGFueTpzb255LW11c2lj"]) { id } }'
    before = store.engine.pool.checkedout()
    for _ in range(20):
        response = await reference_client.post("/graphql", json={"query": bad_then_good})
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for _ in range(100):  # held connections go back once idle, however slowly a busy
        await asyncio.sleep(Statements.IDLE_SECONDS)  # machine runs the idle check
        if store.engine.pool.checkedout() <= before:
            break
    assert store.engine.pool.checkedout() <= before
    healthy = await reference_client.post(
        "/graphql", json={"query": "{ companies { totalCount } }"}
    )
    assert without_cost(healthy.json()) == {"data": {"companies": {"totalCount": 1}}}


async def test_a_failed_statement_does_not_poison_the_rest_of_the_request(
    reference_client, monkeypatch
):
    real = loaders.fetch_pages

    async def broken_for_partners(session, list_name, **arguments):
        if list_name == "Program.partners":
            await session.execute(text("SELECT * FROM no_such_table"))
        return await real(session, list_name, **arguments)

    monkeypatch.setattr(loaders, "fetch_pages", broken_for_partners)
    query = """{
      a: program(slug: "global-social-justice-fund") { partners { totalCount } }
      b: programs { totalCount }
      c: locations { totalCount }
    }"""
    body = (await reference_client.post("/graphql", json={"query": query})).json()
    assert [error["path"] for error in body["errors"]] == [["a", "partners"]]
    assert body["data"]["a"] == {"partners": None}  # the failed list alone
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert body["data"]["b"]["totalCount"] > 0
    assert body["data"]["c"]["totalCount"] > 0


async def test_a_value_the_schema_cannot_serialize_is_a_masked_server_fault(
    reference_client, monkeypatch, caplog
):
    real = Company.from_row.__func__

    def broken(cls, row):
        company = real(cls, row)
        company.founded_year = "nineteen twenty-nine"
        return company

    monkeypatch.setattr(Company, "from_row", classmethod(broken))
    with caplog.at_level(logging.ERROR, logger="impact_graph.graphql"):
        response = await reference_client.post(
            "/graphql", json={"query": '{ company(slug: "sony-music") { foundedYear } }'}
        )
    [error] = response.json()["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "twenty-nine" not in response.text
    assert any("twenty-nine" in record.getMessage() for record in caplog.records)


# An error that nulls a parent (a refused argument under a non-null field) while an alias
# elsewhere waits on the same rows: graphql-core cancels the erring field's siblings, and
# each shared its loads with the alias.
SHARED_LOADS = [
    pytest.param(
        """{ a: company(slug: "sony-music") { programs { nodes { partners { nodes {
               locations { nodes { citations { id } } } } } } } }
             b: company(slug: "sony-music") { citations { context(characters: -1) { quote } }
               programs { nodes { partners { nodes {
                 locations { nodes { citations { id } } } } } } } } }""",
        None,
        id="a-refused-argument",
    ),
    pytest.param(
        """query($v: Boolean = true) {
             a: company(slug: "sony-music") { foundedIn { citations { id } } }
             b: company(slug: "sony-music") { foundedIn { citations { id } }
               citations { quote @include(if: $v) } } }""",
        {"v": None},
        id="a-null-directive-argument",
    ),
]


@pytest.mark.parametrize(("query", "variables"), SHARED_LOADS)
async def test_a_field_cancelled_by_an_error_cancels_no_other_field_s_reads(
    client, query, variables
):
    """Strawberry's loader gives every caller of a key one future: cancelling the erring
    field's siblings cancelled the alias `a`'s reads too, and the `CancelledError` passed
    every handler: a plain-text 500 with no request id, 10 times in 10 on both stores."""
    for _ in range(5):
        response = await send(client, payload={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"]["a"] is not None
        assert body["data"]["b"] is None or "citations" not in body["data"]["b"]
        assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}


@pytest.mark.parametrize(
    "raised",
    [
        pytest.param(RuntimeError(SECRET), id="an-exception"),
        pytest.param(asyncio.CancelledError(), id="a-stray-cancellation"),  # (not the task's)
    ],
)
async def test_a_defect_past_every_other_handler_is_a_json_500_with_the_request_id(
    client, monkeypatch, caplog, raised
):
    """Starlette answered it `Internal Server Error` in plain text, with no request id to find
    its log line by, as the cancelled reads above were answered."""

    async def broken(*_: Any, **__: Any) -> Any:
        raise raised

    monkeypatch.setattr(GraphQLEndpoint, "_execute", broken)
    # a document no other test sends: `client` keeps answers, and a kept one never executes
    query = "{ programs { totalCount } } # a defect past every other handler"
    with caplog.at_level(logging.ERROR):
        response = await send(client, payload={"query": query})
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ]
    }
    assert SECRET not in response.text
    [logged] = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged.exc_info is not None
    assert logged.exc_info[1] is raised


async def test_a_batch_failing_after_its_fields_were_cancelled_is_one_log_line(
    reference_client, monkeypatch, caplog
):
    """Each caller of a loader waits on its own future (above), so a batch whose fields were
    all cancelled still runs; when it failed, each key's future kept the error unread:
    "Future exception was never retrieved" a key (20 a request), no request id. It is one
    line a batch, as any read whose field was cancelled."""
    real = loaders.fetch_pages

    async def slow_then_broken(session: Any, list_key: str, **kwargs: Any) -> Any:
        if list_key == "Program.partners":
            await asyncio.sleep(0.02)  # after `citations` refused `null`
            raise RuntimeError(SECRET)
        return await real(session, list_key, **kwargs)

    monkeypatch.setattr(loaders, "fetch_pages", slow_then_broken)
    query = """query($v: Boolean = true) { a: company(slug: "sony-music") {
        programs { nodes { partners { nodes { name } } } }
        citations { quote @include(if: $v) } } }"""
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            response = await send(
                reference_client, payload={"query": query, "variables": {"v": None}}
            )
            assert response.status_code == 200
            assert response.json()["data"] == {"a": None}
        await asyncio.sleep(0.1)  # the batches end after their answers
        gc.collect()  # (an unread future's error is logged as it is collected)
    unread = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    told = [
        r for r in caplog.records if r.getMessage() == "a read failed after its field was cancelled"
    ]
    assert unread == []
    assert len(told) == 3  # one a request: its batch, not its 20 keys


async def test_errors_come_in_the_document_s_order_whatever_fails_first(client):
    """graphql-core appends errors as their fields fail: `node`'s came first (refused before
    any read), though `company` stands first, and two reads racing put the same request's
    errors in either order (4 times in 40 on PostgreSQL)."""
    query = """{ company(slug: "sony-music") { citations { context(characters: -1) { quote } } }
                 node(id: "not an id") { id } }"""
    for _ in range(3):
        body = (await send(client, payload={"query": query})).json()
        places = [(e["locations"][0]["line"], e["locations"][0]["column"]) for e in body["errors"]]
        assert len(places) > 1
        assert places == sorted(places)
        assert body["errors"][-1]["path"] == ["node"]


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_a_request_meeting_the_stores_trouble_is_a_503_without_data(
    reference_client, monkeypatch, accept
):
    """A field the store failed nulled it, and the answer kept the others' `data` under a
    503: GraphQL over HTTP requires a 2xx of any answer holding `data`. The store's trouble
    answers the request as a whole, once, to be tried again."""
    monkeypatch.setattr(loaders, "fetch_citations", database_away)
    query = (
        '{ company(slug: "sony-music") { name } '
        'cited: company(slug: "sony-music") { citations { quote } } '
        'again: company(slug: "sony-music") { citations { quote } } }'
    )
    response = await send(reference_client, payload={"query": query}, accept=accept)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith(accept)
    body = response.json()
    assert "data" not in body
    assert body["errors"] == [
        {
            "message": "The database is unavailable; try again shortly.",
            "extensions": {
                "code": "DATABASE_UNAVAILABLE",
                "requestId": response.headers["x-request-id"],
            },
        }
    ]
