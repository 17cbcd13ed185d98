"""GraphQL over HTTP: media types, status codes, GET and POST, GraphiQL and health checks."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import math
import re
import shutil
import sys
import time
import tracemalloc
import uuid
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sql

from db.engine import create_engine
from db.migrate import downgrade, upgrade
from server.app import SCHEMA_PATH
from server.errors import RequestError
from server.reading import declared_length, parse_json
from server.responses import encode_json
from tests.assertions import without_cost
from tests.conftest import make_client

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

SONY = '{ company(slug: "sony-music") { name } }'
SONY_DATA = {"data": {"company": {"name": "Sony Music"}}}
BY_SLUG = "query BySlug($slug: String!) { company(slug: $slug) { name } }"
TWO_OPERATIONS = 'query Typename { __typename } query Sony { company(slug: "sony-music") { name } }'
FILTERED = "query($f: ProgramFilter) { programs(filter: $f) { totalCount } }"
DEEP = "[" * 40_000 + "]" * 40_000  # far past json's recursion limit, under the body limit


async def send(
    client: httpx.AsyncClient,
    method: str = "POST",
    *,
    payload: Any = None,
    content: bytes | None = None,
    content_type: str | None = JSON,
    accept: str | None = JSON,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """One request to /graphql; `None` for `accept` or `content_type` leaves that header out."""
    if payload is not None:
        content = json.dumps(payload).encode()
    request = client.build_request(method, "/graphql", content=content, params=params)
    request.headers.pop("accept", None)
    request.headers.pop("content-type", None)
    if accept is not None:
        request.headers["accept"] = accept
    if content is not None and content_type is not None:
        request.headers["content-type"] = content_type
    return await client.send(request)


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";", 1)[0].strip()


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


def assert_request_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A GraphQL response with the given status, errors of the given code and no `data`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert "data" not in body
    assert error_codes(body) == [code]
    assert all(error["message"] for error in body["errors"])
    return body


# GraphQL request errors: the status depends on the negotiated media type.
REQUEST_ERRORS = [
    pytest.param({"query": "{ company("}, "GRAPHQL_PARSE_FAILED", id="syntax-error"),
    pytest.param({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED", id="unknown-field"),
    pytest.param(
        {"query": 'mutation { createCompany(slug: "x") { id } }'},
        "GRAPHQL_VALIDATION_FAILED",
        id="mutation-not-in-schema",
    ),
    pytest.param(
        {
            "query": "query Page($first: Int) { programs(first: $first) { totalCount } }",
            "variables": {"first": "abc"},
        },
        "BAD_USER_INPUT",
        id="variable-of-wrong-type",
    ),
    pytest.param({"query": BY_SLUG}, "BAD_USER_INPUT", id="required-variable-missing"),
    pytest.param(
        {"query": BY_SLUG, "variables": {"slug": None}},
        "BAD_USER_INPUT",
        id="required-variable-null",
    ),
    pytest.param(
        {"query": TWO_OPERATIONS}, "GRAPHQL_VALIDATION_FAILED", id="two-operations-without-name"
    ),
    pytest.param(
        {"query": TWO_OPERATIONS, "operationName": "Nope"},
        "GRAPHQL_VALIDATION_FAILED",
        id="unknown-operation-name",
    ),
]

# Unusable POSTs: the same 4xx whatever the Accept header says.
BAD_POSTS = [
    pytest.param(
        {"content": SONY.encode(), "content_type": "text/plain"},
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        id="text-plain-body",
    ),
    pytest.param(
        {"content": b"query=%7B__typename%7D", "content_type": "application/x-www-form-urlencoded"},
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        id="form-body",
    ),
    pytest.param(
        {"content": json.dumps({"query": SONY}).encode(), "content_type": None},
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        id="no-content-type",
    ),
    pytest.param(
        {"content": b'{"query": "{ __typename }"'}, 400, "BAD_REQUEST", id="malformed-json"
    ),
    pytest.param({"content": b'{"query": "{ \xff\xfe }"}'}, 400, "BAD_REQUEST", id="invalid-utf8"),
    pytest.param({"payload": [{"query": SONY}]}, 400, "BAD_REQUEST", id="batched-array"),
    pytest.param({"payload": SONY}, 400, "BAD_REQUEST", id="body-is-a-string"),
    pytest.param({"content": b"null"}, 400, "BAD_REQUEST", id="body-is-null"),
    pytest.param({"payload": 42}, 400, "BAD_REQUEST", id="body-is-a-number"),
    pytest.param({"payload": {}}, 400, "BAD_REQUEST", id="query-missing"),
    # a string, so a document (that does not parse), as GraphQL over HTTP reads it
    pytest.param({"payload": {"query": ""}}, 200, "GRAPHQL_PARSE_FAILED", id="query-empty"),
    pytest.param({"payload": {"query": "   \n"}}, 200, "GRAPHQL_PARSE_FAILED", id="query-blank"),
    pytest.param({"payload": {"query": 1}}, 400, "BAD_REQUEST", id="query-not-a-string"),
    pytest.param({"payload": {"query": ["{ a }"]}}, 400, "BAD_REQUEST", id="query-is-a-list"),
    pytest.param(
        {"payload": {"query": SONY, "variables": ["sony-music"]}},
        400,
        "BAD_REQUEST",
        id="variables-is-a-list",
    ),
    pytest.param(
        {"payload": {"query": SONY, "variables": '{"slug": "sony-music"}'}},
        400,
        "BAD_REQUEST",
        id="variables-is-a-string",
    ),
    pytest.param(
        {"payload": {"query": SONY, "operationName": 5}},
        400,
        "BAD_REQUEST",
        id="operation-name-not-a-string",
    ),
]

# Text no store or response can hold, and JSON nested past any reason: refused before execution.
BAD_POSTS += [
    pytest.param(
        {"payload": {"query": FILTERED, "variables": {"f": {"nameContains": "\ud800"}}}},
        400,
        "BAD_REQUEST",
        id="lone-surrogate-in-a-variable",
    ),
    pytest.param(
        {"payload": {"query": FILTERED, "variables": {"f": {"\udfff": 1}}}},
        400,
        "BAD_REQUEST",
        id="lone-surrogate-as-a-key",
    ),
    pytest.param(
        {"payload": {"query": '{ company(slug: "\ud800") { name } }'}},
        400,
        "BAD_REQUEST",
        id="lone-surrogate-in-the-query",
    ),
    pytest.param(
        {"content": ('{"query": "{__typename}", "variables": {"a": ' + DEEP + "}}").encode()},
        400,
        "BAD_REQUEST",
        id="deeply-nested-variables",
    ),
]

# Unusable GETs, with the Allow header a 405 must carry.
BAD_GETS = [
    pytest.param(
        {"query": FILTERED, "variables": '{"f": {"nameContains": "\\ud800"}}'},
        400,
        "BAD_REQUEST",
        None,
        id="lone-surrogate-in-variables",
    ),
    pytest.param(
        {"query": BY_SLUG, "variables": '{"slug": ' + "[" * 3000 + "]" * 3000 + "}"},
        400,
        "BAD_REQUEST",
        None,
        id="deeply-nested-variables",
    ),
    pytest.param(
        {"query": BY_SLUG, "variables": "{slug: sony-music"},
        400,
        "BAD_REQUEST",
        None,
        id="malformed-variables",
    ),
    pytest.param(
        {"query": BY_SLUG, "variables": '["sony-music"]'},
        400,
        "BAD_REQUEST",
        None,
        id="variables-not-an-object",
    ),
    pytest.param({}, 400, "BAD_REQUEST", None, id="no-query"),
    pytest.param({"query": ""}, 200, "GRAPHQL_PARSE_FAILED", None, id="empty-query"),
    pytest.param(
        {"query": 'mutation { createCompany(slug: "x") { id } }'},
        405,
        "METHOD_NOT_ALLOWED",
        "POST",
        id="mutation",
    ),
    pytest.param(
        {"query": "subscription { companies { totalCount } }"},
        405,
        "METHOD_NOT_ALLOWED",
        "POST",
        id="subscription",
    ),
]

ACCEPTS = [
    pytest.param(JSON, 200, id="json"),
    pytest.param(GRAPHQL_RESPONSE, 400, id="graphql-response"),
]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(None, JSON, id="no-accept"),
        pytest.param("", JSON, id="empty-accept"),
        pytest.param(JSON, JSON, id="json"),
        pytest.param("*/*", JSON, id="anything"),
        pytest.param("application/*", JSON, id="any-application"),
        pytest.param(GRAPHQL_RESPONSE, GRAPHQL_RESPONSE, id="graphql-response"),
        pytest.param(f"{JSON}, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE, id="both-prefers-graphql"),
        pytest.param(f"{JSON}, {GRAPHQL_RESPONSE};q=0.5", JSON, id="json-weighted-higher"),
        pytest.param(f"text/plain, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE, id="one-acceptable"),
        pytest.param(f"{GRAPHQL_RESPONSE};q=0.999, {JSON}", JSON, id="higher-listed-second"),
        pytest.param(f"{JSON};q=0.5, {GRAPHQL_RESPONSE};q=0.5", GRAPHQL_RESPONSE, id="tie"),
        pytest.param(f"{GRAPHQL_RESPONSE};q=nan, {JSON};q=0.5", JSON, id="nan-is-no-weight"),
        # a parameter's name is case-insensitive (RFC 9110 5.6.6)
        pytest.param(f"{GRAPHQL_RESPONSE};Q=0, {JSON}", JSON, id="an-uppercase-weight"),
        pytest.param(f"{GRAPHQL_RESPONSE};q=2, {JSON};q=0.5", JSON, id="over-one-is-no-weight"),
        pytest.param(f"{JSON};q=0.2, */*", GRAPHQL_RESPONSE, id="precise-range-weighs-json"),
        pytest.param(f"{JSON};q=0, */*", GRAPHQL_RESPONSE, id="json-refused-the-other-admitted"),
        pytest.param(f"{JSON};q=.5, text/html;q=0.1", JSON, id="a-loosely-written-weight"),
        pytest.param(f"{JSON};q=0.5000", JSON, id="a-weight-with-four-decimals"),
        pytest.param(f"*/*;q=0.5, {JSON};q=0.5", JSON, id="named-beats-admitted"),
        pytest.param(
            f"{JSON};q=0.2, */*, {GRAPHQL_RESPONSE};q=0.5", GRAPHQL_RESPONSE, id="precise"
        ),
        # a quoted string is one value, whatever it holds (RFC 9110 5.6.4)
        pytest.param(f'{GRAPHQL_RESPONSE};p="x;q=0"', GRAPHQL_RESPONSE, id="quoted-semicolon"),
        pytest.param(
            f'{GRAPHQL_RESPONSE};p="\\";q=0", {JSON};q=0.5', GRAPHQL_RESPONSE, id="quoted-escape"
        ),
    ],
)
async def test_response_media_type_follows_accept(client, accept, expected):
    response = await send(client, payload={"query": SONY}, accept=accept)
    assert response.status_code == 200, response.text
    assert media_type(response) == expected
    assert without_cost(response.json()) == SONY_DATA


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("accept", f"{JSON};" + " " * 60_000 + "x"),
        ("accept", f"{JSON};" + "a=" * 30_000),
        ("accept-encoding", "gzip;" + " \t" * 30_000),
        ("accept", f'{JSON};p="' + "\\" * 60_000),
    ],
)
async def test_a_long_header_of_parameters_is_read_in_linear_time(client, header, value):
    """A header the size of a request head (60 KB) whose parameters backtrack: reading them
    took seconds of the worker's loop (8 s for 64 KB of spaces), every request waiting."""
    request = client.build_request("POST", "/graphql", json={"query": SONY})
    request.headers[header] = value
    started = time.perf_counter()
    response = await client.send(request)
    assert time.perf_counter() - started < 2  # (milliseconds; seconds, quadratic)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(["text/plain", JSON], JSON, id="the-second-line-acceptable"),
        pytest.param([f"{JSON};q=0.5", GRAPHQL_RESPONSE], GRAPHQL_RESPONSE, id="weighed-across"),
    ],
)
async def test_an_accept_header_sent_on_several_lines_is_one_list(client, method, lines, expected):
    """RFC 9110 5.3: a list header's lines are one list, joined by commas. Only the first
    line was read: a 406 for the first case, JSON (weighed 0.5) for the second."""
    headers = [("accept", line) for line in lines]
    if method == "GET":
        response = await client.get("/graphql", params={"query": SONY}, headers=headers)
    else:
        headers.append(("content-type", JSON))
        response = await client.post(
            "/graphql", content=json.dumps({"query": SONY}), headers=headers
        )
    assert response.status_code == 200, response.text
    assert media_type(response) == expected
    assert without_cost(response.json()) == SONY_DATA


async def test_an_accept_encoding_sent_on_several_lines_is_one_list(client):
    headers = [("accept-encoding", "identity;q=0.5"), ("accept-encoding", "gzip")]
    for method in ("GET", "POST"):
        response = await client.request(
            method,
            "/graphql",
            params={"query": "{ programs(first: 50) { nodes { name description } } }"}
            if method == "GET"
            else None,
            json={"query": "{ programs(first: 50) { nodes { name description } } }"}
            if method == "POST"
            else None,
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-encoding"] == "gzip", method


@pytest.mark.parametrize(
    ("variables", "extensions"),
    [("", ""), ("", None), (None, "")],
)
async def test_an_empty_get_parameter_is_as_if_not_given(client, variables, extensions):
    """GraphQL over HTTP: an optional parameter given as the empty string is as if not
    given; `variables=` was refused as JSON that does not parse."""
    params = {"query": SONY}
    params |= {} if variables is None else {"variables": variables}
    params |= {} if extensions is None else {"extensions": extensions}
    response = await client.get("/graphql", params=params, headers={"accept": JSON})
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == SONY_DATA


@pytest.mark.parametrize(
    "accept",
    [
        pytest.param("text/plain", id="text-plain"),
        pytest.param("application/xml", id="xml"),
        pytest.param("text/html", id="html-on-post"),
        pytest.param(f"{JSON};q=0, {GRAPHQL_RESPONSE};q=0", id="both-refused"),
        pytest.param(f"{JSON};q=0, {GRAPHQL_RESPONSE};q=0, */*", id="both-refused-by-name"),
        pytest.param(f'text/plain;p="a, {JSON}, b"', id="quoted-type-names-none"),
        # the most precise range that admits a type weighs it: `application/*` refuses both
        pytest.param("*/*, application/*;q=0", id="both-refused-by-a-narrower-range"),
    ],
)
async def test_unacceptable_accept_is_406(client, accept):
    response = await send(client, payload={"query": SONY}, accept=accept)
    assert media_type(response) == JSON
    body = assert_request_error(response, 406, "NOT_ACCEPTABLE")
    assert "Accept" in body["errors"][0]["message"]


async def test_every_response_has_a_fresh_request_id(client):
    responses = [
        await send(client, payload={"query": SONY}),
        await send(client, payload={"query": SONY}),
        await send(client, payload={"query": "{ company("}),
        await send(client, content=b"{}", content_type="text/plain"),
        await send(client, payload={"query": SONY}, accept="text/plain"),
    ]
    ids = [response.headers.get("x-request-id") for response in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(("accept", "status"), ACCEPTS)
@pytest.mark.parametrize(("payload", "code"), REQUEST_ERRORS)
async def test_request_errors_status_follows_media_type(client, accept, status, payload, code):
    response = await send(client, payload=payload, accept=accept)
    assert media_type(response) == accept
    assert_request_error(response, status, code)


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE], ids=["json", "graphql-response"])
async def test_field_errors_are_200_with_data(client, accept):
    response = await send(
        client, payload={"query": "{ programs(first: 1000) { totalCount } }"}, accept=accept
    )
    assert response.status_code == 200, response.text
    assert media_type(response) == accept
    body = response.json()
    assert "data" in body
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["programs"]
    assert "1000" in body["errors"][0]["message"]


@pytest.mark.parametrize(("request_kwargs", "status", "code"), BAD_POSTS)
async def test_unusable_posts_are_refused(client, request_kwargs, status, code):
    response = await send(client, **request_kwargs)
    assert media_type(response) == JSON
    assert_request_error(response, status, code)


async def test_unsupported_post_names_the_media_type_it_takes(client):
    response = await send(client, content=SONY.encode(), content_type="text/plain")
    assert response.status_code == 415
    assert response.headers["accept-post"] == JSON


PLAIN = json.dumps({"query": SONY}).encode()


async def _chunked(body: bytes) -> AsyncIterator[bytes]:
    """The body sent without a Content-Length (chunked): it goes the whole way, routed, not
    read before routing (server/posts.py)."""
    yield body


@pytest.mark.parametrize("framed", ["by-length", "chunked"])
@pytest.mark.parametrize(
    ("codings", "body"),
    [
        pytest.param(["gzip"], gzip.compress(PLAIN), id="gzip"),
        pytest.param(["br"], brotli.compress(PLAIN), id="br"),
        pytest.param(["deflate"], zlib.compress(PLAIN), id="deflate"),
        pytest.param(["GZip"], gzip.compress(PLAIN), id="gzip-in-another-case"),
        # plain JSON that says it is coded: a proxy or firewall decoding it sees no JSON
        pytest.param(["x-foo"], PLAIN, id="plain-body-in-an-unknown-coding"),
        pytest.param(["identity, gzip"], gzip.compress(PLAIN), id="identity-then-gzip"),
        pytest.param(["identity", "gzip"], gzip.compress(PLAIN), id="gzip-on-a-second-line"),
    ],
)
async def test_a_body_in_a_content_coding_is_refused_not_read_as_plain(
    client, codings, body, framed
):
    """Bodies are read as sent, never decoded: one in any coding but `identity` is `415`
    naming what is accepted (RFC 9110 15.5.16, RFC 7694), not run as if plain (an unknown
    coding on plain JSON was 200) nor a misleading "not valid UTF-8" (a gzip body was 400),
    whether it is read before routing or routed."""
    headers = [("accept", JSON), ("content-type", JSON)]
    headers += [("content-encoding", coding) for coding in codings]
    content = body if framed == "by-length" else _chunked(body)
    response = await client.post("/graphql", content=content, headers=headers)
    refused = assert_request_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "send the body uncompressed" in refused["errors"][0]["message"]
    assert response.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("codings", [["identity"], ["Identity ,IDENTITY"], ["identity", ""]])
async def test_a_body_in_the_identity_coding_is_read(client, codings):
    headers = [("accept", JSON), ("content-type", JSON)]
    headers += [("content-encoding", coding) for coding in codings]
    response = await client.post("/graphql", content=PLAIN, headers=headers)
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == SONY_DATA


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        'Application/JSON;charset="UTF-8"',
        "application/json; charset=utf8; profile=x",
        # a `;` in a quoted value parts no parameter: this names no charset
        'application/json; profile="a;charset=latin1"',
        'application/json; profile="say \\"a;charset=latin1\\""; charset=utf-8',
    ],
)
async def test_post_content_type_may_carry_utf8_and_other_parameters(client, content_type):
    response = await send(client, payload={"query": SONY}, content_type=content_type)
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == SONY_DATA


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=latin1",
        'application/json; profile="a;b"; charset=latin1',
        "application/json; charset = latin1",
        'application/json; charset="iso-8859-1"',
    ],
)
async def test_post_naming_another_charset_is_refused(client, content_type):
    response = await send(client, payload={"query": SONY}, content_type=content_type)
    assert_request_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_empty_operation_name_is_as_if_not_given(client, method):
    """As an empty GET parameter is (GraphQL over HTTP): the document's one operation runs,
    not a search for one named ''. (A document of its own: the answer another test kept
    under the same key would otherwise answer it unprepared.)"""
    params = {"query": f"{SONY} # {uuid.uuid4().hex}", "operationName": ""}
    if method == "GET":
        response = await send(client, "GET", params=params, content_type=None)
    else:
        response = await send(client, payload=params)
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == SONY_DATA


@pytest.mark.parametrize(
    ("operation_name", "expected"),
    [
        pytest.param("Sony", {"company": {"name": "Sony Music"}}, id="second"),
        pytest.param("Typename", {"__typename": "Query"}, id="first"),
    ],
)
async def test_operation_name_selects_the_operation(client, operation_name, expected):
    response = await send(
        client, payload={"query": TWO_OPERATIONS, "operationName": operation_name}
    )
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == {"data": expected}


async def test_get_executes_a_query(client):
    response = await send(client, "GET", params={"query": SONY}, content_type=None)
    assert response.status_code == 200, response.text
    assert media_type(response) == JSON
    assert without_cost(response.json()) == SONY_DATA


async def test_get_takes_variables_as_a_json_string(client):
    params = {"query": BY_SLUG, "variables": json.dumps({"slug": "sony-music"})}
    response = await send(client, "GET", params=params, content_type=None)
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == SONY_DATA


async def test_get_takes_an_operation_name(client):
    params = {"query": TWO_OPERATIONS, "operationName": "Sony"}
    response = await send(client, "GET", params=params, content_type=None)
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == SONY_DATA


@pytest.mark.parametrize(
    ("query_string", "said"),
    [
        pytest.param(
            "query=query(%24s%3AString!)%7Bcompany(slug%3A%24s)%7Bname%7D%7D"
            "&variables=%7B%22s%22%3A%22%FF%FE%22%7D",
            "not valid UTF-8",
            id="escapes-not-utf8",
        ),
        pytest.param("query=%7B__typename%7D&query=%7Bb%3A__typename%7D", "`query`", id="query"),
        pytest.param(
            "query=%7B__typename%7D&operationName=A&operationName=B", "`operationName`", id="name"
        ),
        pytest.param("query=%7B__typename%7D&variables=%7B%7D&variables=%7B%7D", "`variables`"),
    ],
)
async def test_a_get_is_read_as_strictly_as_a_post(client, query_string, said):
    """Bytes that are not UTF-8 were replaced (U+FFFD) and the query ran, where a POST's are
    refused; a parameter given twice ran the last, where a proxy checking the first sees
    another document. Both are 400."""
    response = await client.get(f"/graphql?{query_string}")
    assert_request_error(response, 400, "BAD_REQUEST")
    assert said in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(("params", "status", "code", "allow"), BAD_GETS)
async def test_unusable_gets_are_refused(client, params, status, code, allow):
    response = await send(client, "GET", params=params, content_type=None)
    assert_request_error(response, status, code)
    assert response.headers.get("allow") == allow


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405_with_allow(client, method):
    response = await send(client, method, payload={"query": SONY})
    assert_request_error(response, 405, "METHOD_NOT_ALLOWED")
    allowed = {part.strip() for part in response.headers["allow"].split(",")}
    assert allowed == {"GET", "POST"}


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "text/html"], ids=["browser", "html"])
async def test_graphiql_is_served_to_browsers(client, accept):
    response = await client.get("/graphql", headers={"accept": accept})
    assert response.status_code == 200
    assert media_type(response) == "text/html"
    assert "graphiql" in response.text.lower()
    # laid out for the screen it is on (a phone's too), not a desktop's width scaled down
    assert '<meta name="viewport" content="width=device-width, initial-scale=1" />' in response.text
    # a page, not an error or an uncached answer: not `no-store`, which only those are
    assert "no-store" not in response.headers.get("cache-control", "")


@pytest.mark.parametrize(
    ("accept", "status", "code"),
    [
        pytest.param(BROWSER_ACCEPT, 400, "BAD_REQUEST", id="browser"),
        pytest.param("text/html", 406, "NOT_ACCEPTABLE", id="html-only"),
    ],
)
async def test_graphiql_disabled_answers_json(store, accept, status, code):
    async with make_client(store.engine, graphiql=False) as http:
        response = await http.get("/graphql", headers={"accept": accept})
    assert media_type(response) == JSON
    assert "<html" not in response.text.lower()
    assert_request_error(response, status, code)


async def test_graphiql_disabled_still_answers_queries(store):
    async with make_client(store.engine, graphiql=False) as http:
        response = await http.get("/graphql", params={"query": SONY})
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == SONY_DATA


async def test_the_explorer_links_graphiql_only_where_it_is_served(store):
    async with make_client(store.engine, graphiql=False) as http:
        without = (await http.get("/")).text
    async with make_client(store.engine) as http:
        served = (await http.get("/")).text
    assert 'href="/graphql"' in served
    assert 'href="/graphql"' not in without


async def test_root_is_the_explorer(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in response.headers  # tests/test_explorer.py: the rest


async def test_healthz_is_ok(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_the_database_answers(client):
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


async def test_readyz_is_503_when_the_database_refuses(refused_client):
    response = await refused_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    for leak in ("Traceback", "SELECT", "asyncpg", "127.0.0.1", "refused", ".py"):
        assert leak not in response.text


async def test_readiness_probes_while_the_database_is_away_are_a_line_a_window(
    refused_client, caplog
):
    """Anyone may probe: a line each would let a client fill the log (operator review)."""
    with caplog.at_level(logging.WARNING, logger="impact_graph.server"):
        for _ in range(20):
            assert (await refused_client.get("/readyz")).status_code == 503
    said = [r.getMessage() for r in caplog.records if "readiness" in r.getMessage()]
    assert len(said) == 1, said
    assert "database unreachable" in said[0]


async def test_each_reason_readiness_fails_for_has_a_line_of_its_own(tmp_path, caplog):
    """A store opened but never migrated (a replica coming up), then one that cannot be
    opened: the second reason is logged at once, not hidden by the first one's window."""
    folder = tmp_path / "store"
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'store.db'}")
    try:
        async with make_client(engine) as http:
            with caplog.at_level(logging.WARNING, logger="impact_graph.server"):
                behind = await http.get("/readyz")
                await engine.dispose()  # no pooled connection left to it
                shutil.rmtree(folder)
                folder.write_text("")  # a file where its folder was: it cannot be opened
                unreachable = await http.get("/readyz")
    finally:
        await engine.dispose()
    assert behind.json() == {"status": "unavailable", "database": "not migrated"}
    assert unreachable.json() == {"status": "unavailable", "database": "unreachable"}
    said = [r.getMessage() for r in caplog.records if "readiness" in r.getMessage()]
    assert len(said) == 2, said
    assert "not migrated to this build's schema" in said[0]
    assert "database unreachable" in said[1]


@pytest.mark.parametrize(
    ("revision", "status"),
    [
        pytest.param("0008", 503, id="a-migration-behind"),
        pytest.param(None, 503, id="none"),
        pytest.param("no table", 503, id="no-revision-table"),
        pytest.param("f00d-a-newer-build", 200, id="a-revision-of-a-newer-build"),
    ],
)
async def test_readyz_is_503_while_the_store_lacks_a_migration_this_build_needs(
    empty_store, caplog, revision, status
):
    """A replica still replaying the migration `serve` ran on the primary answers `SELECT 1`
    but not the queries that need it: not ready. A store a newer build migrated further
    serves an older instance as before (a rolling deploy)."""
    async with make_client(empty_store.engine) as http:
        assert (await http.get("/readyz")).status_code == 200
        async with empty_store.engine.begin() as connection:
            await connection.execute(sql("DELETE FROM alembic_version"))
            if revision == "no table":  # (a replica before the first migration's replay)
                await connection.execute(sql("DROP TABLE alembic_version"))
            elif revision is not None:
                await connection.execute(
                    sql("INSERT INTO alembic_version VALUES (:revision)"), {"revision": revision}
                )
        with caplog.at_level(logging.WARNING, logger="impact_graph.server"):
            response = await http.get("/readyz")
    assert response.status_code == status, response.text
    if status == 503:
        assert response.json() == {"status": "unavailable", "database": "not migrated"}
        assert "not migrated to this build's schema" in caplog.text


@pytest.mark.parametrize("executor", ["auto", "reference"])
async def test_a_store_lacking_a_migration_is_unavailable_not_our_fault_until_it_has_it(
    empty_store, caplog, executor
):
    """A replica still replaying the migrations `serve` ran on the primary: a query naming a
    table it lacks is the store's trouble, as readiness says, answered 503 as any outage (a
    client or proxy tries again) and logged without a stack; once migrated, it is answered,
    nothing restarted."""
    query = {"query": '{ company(slug: "sony-music") { name programs { totalCount } } }'}
    async with make_client(empty_store.engine, executor=executor) as http:
        await downgrade(empty_store.engine, "0005")  # before `store_state` and the rest
        with caplog.at_level(logging.INFO):
            refused = [await http.post("/graphql", json=query) for _ in range(3)]
            ready = await http.get("/readyz")
        await upgrade(empty_store.engine)
        answered = await http.post("/graphql", json=query)
    for response in refused:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert ready.json() == {"status": "unavailable", "database": "not migrated"}
    stacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not stacks, [r.getMessage() for r in stacks]
    (outage,) = [r.getMessage() for r in caplog.records if r.name == "impact_graph.outage"]
    # the database's own words: a table or column it lacks (store_state, companies.basis)
    assert re.search(r"no such (table|column)|does not exist", outage), outage
    assert answered.status_code == 200, answered.text
    assert answered.json()["data"] == {"company": None}  # migrated, not seeded


async def test_a_store_never_migrated_is_one_line_at_start_up(tmp_path, caplog):
    """`DATABASE_READ_URL` naming a store not migrated (a replica before it replays the first
    migration): start-up says so in one line, no stack, and readiness tells why."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}")
    try:
        with caplog.at_level(logging.WARNING):
            async with make_client(engine) as http:
                response = await http.get("/readyz")
    finally:
        await engine.dispose()
    assert response.json() == {"status": "unavailable", "database": "not migrated"}
    (said,) = [r for r in caplog.records if r.name == "impact_graph.caching"]
    assert said.getMessage().startswith("the store's state was not read at start-up: ")
    assert "no such table: store_state" in said.getMessage()
    assert said.exc_info is None
    assert "\n" not in said.getMessage()


async def test_healthz_does_not_need_the_database(refused_client):
    response = await refused_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_subscription_over_post_is_a_validation_error_not_a_405(client):
    subscription = "subscription { companies { totalCount } }"
    for accept, status in ((JSON, 200), (GRAPHQL_RESPONSE, 400)):
        response = await send(client, payload={"query": subscription}, accept=accept)
        assert_request_error(response, status, "GRAPHQL_VALIDATION_FAILED")


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE"])
async def test_other_verbs_get_a_graphql_405(client, method):
    response = await send(client, method, accept=JSON)
    assert_request_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET, POST"


async def test_graphiql_only_when_html_is_preferred(client):
    json_first = await client.get(
        "/graphql", params={"query": SONY}, headers={"accept": "application/json, text/html;q=0.1"}
    )
    assert media_type(json_first) == JSON
    assert without_cost(json_first.json()) == SONY_DATA
    page = await client.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    assert media_type(page) == "text/html"
    assert "Accept" in [name.strip() for name in page.headers["vary"].split(",")]
    # as much as JSON is preferred enough: a browser's page, whose client names both
    tie = await client.get("/graphql", headers={"accept": f"text/html, {JSON}"})
    assert media_type(tie) == "text/html"
    assert "graphiql" in tie.text.lower()


def stdlib_json(body: Any) -> bytes:
    """What responses were before orjson wrote them: compact, non-ASCII as UTF-8."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", errors="backslashreplace")


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"query": "{ documents { nodes { title text } } }"}, id="non-ascii-text"),
        pytest.param({"query": "{ figures { nodes { value unit kind } } }"}, id="floats"),
        pytest.param({"query": "{ programs(first: 1000) { totalCount } }"}, id="field-error"),
        pytest.param({"query": "{ company("}, id="parse-error"),
        pytest.param(
            {"query": FILTERED, "variables": {"f": 'é\n"\\\u2028\x01'}},
            id="input-echoed-in-an-error",
        ),
    ],
)
async def test_response_bytes_are_the_stdlib_compact_form(client, payload):
    response = await send(client, payload=payload)
    assert response.content == stdlib_json(response.json())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"s": "a\ud800b"}, b'{"s":"a\\ud800b"}', id="lone-surrogate-in-a-value"),
        pytest.param({"\udfff": 1}, b'{"\\udfff":1}', id="lone-surrogate-in-a-key"),
        pytest.param({"n": 2**64}, b'{"n":18446744073709551616}', id="int-past-64-bits"),
        pytest.param({"n": -(2**63) - 1}, b'{"n":-9223372036854775809}', id="int-below-64-bits"),
        pytest.param(
            {"é": '\x00\x1f\x7f"\\/'}, stdlib_json({"é": '\x00\x1f\x7f"\\/'}), id="controls"
        ),
        pytest.param(
            {"v": [1e16, 1e-4, 0.1, -0.0, 30000000.0]},
            b'{"v":[1e+16,0.0001,0.1,-0.0,30000000.0]}',
            id="floats",
        ),
    ],
)
def test_encode_json_writes_what_the_stdlib_wrote(body, expected):
    assert encode_json(body) == expected == stdlib_json(body)


def test_encode_json_falls_back_for_nesting_orjson_refuses():
    deep: Any = "é"
    for _ in range(300):
        deep = [deep]
    assert encode_json(deep) == stdlib_json(deep)


@pytest.mark.parametrize(
    ("value", "ours", "stdlib"),
    [
        pytest.param(5e-05, b"0.00005", b"5e-05", id="5e-05"),
        pytest.param(-2.5e-07, b"-2.5e-7", b"-2.5e-07", id="-2.5e-07"),
        pytest.param(1e-09, b"1e-9", b"1e-09", id="1e-09"),
    ],
)
def test_encode_json_writes_floats_under_1e_minus_4_as_orjson_does(value, ours, stdlib):
    # The one difference from the stdlib, deliberately kept: the same number, other digits.
    assert encode_json(value) == ours
    assert stdlib_json(value) == stdlib
    assert json.loads(ours) == value


# --- reading request bodies: orjson, and the stdlib where orjson refuses -------------------

LONE_SURROGATE = "the request body contains a lone UTF-16 surrogate (\\uD800-\\uDFFF)"


def body_with(value_json: str) -> bytes:
    """A request body whose (unused) variable `v` is the given JSON text, verbatim."""
    return b'{"query": "{ __typename }", "variables": {"v": ' + value_json.encode() + b"}}"


@pytest.mark.parametrize(
    "value_json",
    [
        pytest.param(r'"\ud800"', id="lone-high"),
        pytest.param(r'"\udfff"', id="lone-low"),
        pytest.param(r'"\uDBFF"', id="lone-high-upper-case"),
        pytest.param(r'"text then \ud800"', id="high-at-the-end"),
        pytest.param(r'"\ud800 then text"', id="high-before-text"),
        pytest.param(r'"\ude00\ud83d"', id="pair-in-the-wrong-order"),
        pytest.param(r'"\ud800\ud800"', id="two-highs"),
        pytest.param(r'"\ud800\u0041"', id="high-then-another-escape"),
        pytest.param(r'"\\\ud800"', id="escaped-backslash-then-a-real-escape"),
        pytest.param(r'{"\udc00": 1}', id="in-a-key"),
        pytest.param(r'{"a": [1, {"b": ["x", {"\ud800c": 2}]}]}', id="in-a-nested-key"),
        pytest.param("[" * 500 + r'{"k": "x\udc00y"}' + "]" * 500, id="nested-500-deep"),
        pytest.param(r'[18446744073709551616, "\ud800"]', id="beside-a-long-integer"),
    ],
)
async def test_lone_surrogate_escapes_are_refused(client, value_json):
    response = await send(client, content=body_with(value_json))
    body = assert_request_error(response, 400, "BAD_REQUEST")
    assert body["errors"][0]["message"] == LONE_SURROGATE


@pytest.mark.parametrize(
    ("value_json", "value"),
    [
        pytest.param(r'"\ud83d\ude00"', "\U0001f600", id="valid-pair"),
        pytest.param(r'"\uDBFF\uDFFF"', "\U0010ffff", id="last-valid-pair"),
        pytest.param(
            r'{"\ud83d\ude00": ["\ud83d\ude00"]}',
            {"\U0001f600": ["\U0001f600"]},
            id="pair-in-a-key",
        ),
        pytest.param(r'"\\ud800"', "\\ud800", id="escaped-backslash-then-ud800-text"),
        pytest.param(r'"\\\\ud800"', "\\\\ud800", id="two-escaped-backslashes-then-text"),
        pytest.param(r'"\u00e9\ud7ff\ue000"', "\u00e9\ud7ff\ue000", id="next-to-the-range"),
    ],
)
async def test_text_that_only_looks_like_a_surrogate_is_accepted(client, value_json, value):
    assert parse_json(value_json, "v") == value
    response = await send(client, content=body_with(value_json))
    assert response.status_code == 200, response.text
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "number",
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**40, -(10**40)],
)
def test_integers_past_64_bits_stay_exact(number):
    # orjson would read these as floats; the stdlib path keeps them as the client wrote them.
    for text in (str(number), f'{{"n": [{number}]}}', f'{{"s": "{number}", "n": {number}}}'):
        assert repr(parse_json(text, "v")) == repr(json.loads(text))


async def test_an_integer_past_64_bits_is_echoed_exactly(client):
    query = "query($n: Int) { programs(first: $n) { totalCount } }"
    content = f'{{"query": "{query}", "variables": {{"n": -9223372036854775809}}}}'.encode()
    response = await send(client, content=content)
    body = assert_request_error(response, 200, "BAD_USER_INPUT")
    assert "-9223372036854775809" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("depth", "status"),
    [pytest.param(1023, 200, id="1024-levels"), pytest.param(1024, 400, id="1025-levels")],
)
async def test_json_is_read_to_1024_levels(client, depth, status):
    # The body's object is one level; orjson's limit is 1,024, deeper goes to the stdlib path,
    # whose recursion limit refuses it as before.
    response = await send(
        client, content=b'{"v": ' + b"[" * depth + b"]" * depth + b', "query": "{ __typename }"}'
    )
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["errors"][0]["message"] == "the request body is nested too deeply"


@pytest.mark.parametrize("depth", [1023, 2])
async def test_a_body_with_an_escaped_letter_is_read_as_deep(client, depth):
    # An escaped ASCII letter could spell a parameter's name, so the body's names are read
    # again; that must not refuse what orjson took (the stdlib's recursion stops at ~1,000).
    nested = b"[" * depth + b"]" * depth
    content = b'{"v": ' + nested + b', "query": "{ __typename }", "x": "\\u0041"}'
    response = await send(client, content=content)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"__typename": "Query"}
    again = content[:-1] + b', \n "\\u0071uery" : "{ companies { totalCount } }"}'
    response = await send(client, content=again)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"] == "`query` is given more than once"


class _TooLarge(Exception):
    pass


def reference_parse_json(text: str, what: str) -> Any:
    """parse_json as it was before orjson: the stdlib, then a re-encode to find surrogates;
    and, since the compiled executor keys plans by variables, numbers past a float refused."""

    def not_json(constant: str) -> Any:
        raise ValueError(constant)

    def finite(number: str) -> float:
        if not math.isfinite(float(number)):
            raise _TooLarge
        return float(number)

    try:
        data = json.loads(text, parse_constant=not_json, parse_float=finite)
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        return ("refused", 400, "BAD_REQUEST", f"{what} is nested too deeply")
    except UnicodeEncodeError:
        return (
            "refused",
            400,
            "BAD_REQUEST",
            f"{what} contains a lone UTF-16 surrogate (\\uD800-\\uDFFF)",
        )
    except _TooLarge:
        return ("refused", 400, "BAD_REQUEST", f"{what} has a number too large for a float")
    except ValueError:
        return ("refused", 400, "BAD_REQUEST", f"{what} is not valid JSON")
    return ("accepted", repr(data))


def outcome(text: str) -> tuple[Any, ...]:
    try:
        return ("accepted", repr(parse_json(text, "it")))
    except RequestError as error:
        return ("refused", error.status, error.code, error.message)


SURROGATE_TEXT = ("\ud800", "\udfff", "\ud83d\ude00", "\ude00\ud83d", "\\ud800", "\\")
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**63, -(2**63) - 1, 10**30, 0.1, -0.0, 1e-7, 1e300])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=()), max_size=12)
    | st.sampled_from(SURROGATE_TEXT),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=4) | st.sampled_from(SURROGATE_TEXT), children, max_size=4
        )
    ),
    max_leaves=20,
)
# Escaped, surrogates travel as \u escapes, as in a real body; raw, they test the fallback too.
json_texts = st.builds(json.dumps, json_values, ensure_ascii=st.booleans())


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    text=json_texts
    | st.tuples(
        json_texts, st.integers(0, 60), st.sampled_from(["", "]", "}", ",", "NaN", "\\"])
    ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :])
    | st.sampled_from(["NaN", "[Infinity]", "-Infinity", "", " ", "1e400", '"\\ud800"'])
)
def test_parse_json_accepts_and_refuses_what_the_stdlib_path_did(text):
    assert outcome(text) == reference_parse_json(text, "it")


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1.5e309"])
async def test_a_number_no_float_holds_is_refused(client, number):
    """Read as infinity it would be a different value than the client sent."""
    body = '{"query": "query($n: Int) { companies(first: $n) { totalCount } }", "variables": '
    response = await client.post(
        "/graphql",
        content=body + '{"n": ' + number + "}}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        "the request body has a number too large for a float"
    )


COMMITTED_SDL = (Path(__file__).resolve().parent.parent / "schema" / "schema.graphql").read_bytes()


async def test_the_schema_is_published_with_an_etag(client):
    """`GET /graphql/schema.graphql` is the committed SDL; its ETag revalidates it."""
    committed = COMMITTED_SDL
    response = await client.get("/graphql/schema.graphql")
    assert response.status_code == 200
    assert response.content == committed
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    etag = response.headers["etag"]  # weak: the same whether gzipped or not
    assert etag.startswith('W/"')
    assert etag.endswith('"')
    assert response.headers["cache-control"] == "no-cache"
    for tags in (etag, etag.removeprefix("W/"), f'"other", {etag}', "*"):
        again = await client.get("/graphql/schema.graphql", headers={"If-None-Match": tags})
        assert again.status_code == 304, tags
        assert again.content == b""
        assert again.headers["etag"] == etag
    changed = await client.get("/graphql/schema.graphql", headers={"If-None-Match": '"old"'})
    assert changed.status_code == 200
    assert changed.content == committed


def _apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_automatic_persisted_queries_as_apollo_and_urql_send_them(client):
    """Hash alone: not found; document and hash: runs and registers; hash alone again (over
    POST and GET): runs the registered document."""
    query = '{ company(slug: "sony-music") { name programs(first: 2) { totalCount } } }'
    query += f" # {uuid.uuid4().hex}"  # a document no other test registered
    digest = hashlib.sha256(query.encode()).hexdigest()
    unknown = await send(client, payload={"extensions": _apq(digest)})
    assert unknown.status_code == 200
    assert unknown.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    strict = await send(client, payload={"extensions": _apq(digest)}, accept=GRAPHQL_RESPONSE)
    assert strict.status_code == 400
    assert strict.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    registered = await send(client, payload={"query": query, "extensions": _apq(digest)})
    assert registered.status_code == 200
    data = registered.json()["data"]
    assert data["company"]["name"] == "Sony Music"

    by_post = await send(client, payload={"extensions": _apq(digest)})
    assert by_post.json()["data"] == data
    by_get = await send(
        client, "GET", params={"extensions": json.dumps(_apq(digest))}, content_type=None
    )
    assert by_get.status_code == 200
    assert by_get.json()["data"] == data


@pytest.mark.parametrize(
    ("extensions", "query", "message"),
    [
        pytest.param(
            _apq("0" * 64), "{ __typename }", "provided sha does not match query", id="wrong-hash"
        ),
        pytest.param(
            _apq("XYZ"), None, "`sha256Hash` must be 64 lowercase hexadecimal digits", id="bad-hash"
        ),
        *(
            pytest.param(
                {"persistedQuery": {"version": version, "sha256Hash": "0" * 64}},
                None,
                "`persistedQuery` must be {version: 1, sha256Hash}",
                id=f"version-{version}",
            )
            for version in (2, True, 1.0, "1")  # (`true` and 1.0 equal 1 in Python)
        ),
        pytest.param([], None, "`extensions` must be a JSON object", id="not-object"),
    ],
)
async def test_bad_persisted_query_requests_are_refused(client, extensions, query, message):
    payload: dict[str, Any] = {"extensions": extensions}
    if query is not None:
        payload["query"] = query
    response = await send(client, payload=payload)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": message, "extensions": {"code": "BAD_REQUEST"}}
    ]


async def test_an_invalid_document_is_not_registered(client):
    query = "{ nope }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    refused = await send(client, payload={"query": query, "extensions": _apq(digest)})
    assert refused.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    again = await send(client, payload={"extensions": _apq(digest)})
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_the_persisted_documents_are_bounded_in_bytes():
    from server.persisted import ENTRY_BYTES, persisted_queries

    entry = sys.getsizeof("a" * 10) + ENTRY_BYTES
    kept = persisted_queries(max_bytes=3 * entry)
    for name in "abcd":
        kept.put(name * 64, name * 10)
    assert kept.get("a" * 64) is None  # the least recently used went first
    assert kept.get("d" * 64) == "d" * 10
    kept.put("e" * 64, "e" * (3 * entry))  # larger than the whole store: not kept
    assert kept.get("e" * 64) is None


def test_many_tiny_persisted_documents_stay_within_the_bound_in_memory():
    from server.persisted import persisted_queries

    bound = 1024 * 1024
    kept = persisted_queries(max_bytes=bound)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(50_000):  # far more than fit
            document = f"{{ a{number} }}"
            kept.put(hashlib.sha256(document.encode()).hexdigest(), document)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert used <= bound * 1.2, used


SONY_QUERY = '{ company(slug: "sony-music") { name } }'


@pytest.mark.parametrize("manifest_format", ["codegen", "apollo"])
async def test_with_trusted_documents_only_the_manifests_run(store, tmp_path, manifest_format):
    digest = hashlib.sha256(SONY_QUERY.encode()).hexdigest()
    if manifest_format == "codegen":
        manifest: Any = {digest: SONY_QUERY}
    else:
        manifest = {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{"id": digest, "name": None, "type": "query", "body": SONY_QUERY}],
        }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    async with make_client(store.engine, trusted_documents=path) as http:
        whole = await send(http, payload={"query": SONY_QUERY})
        by_hash = await send(http, payload={"extensions": _apq(digest)})
        for answered in (whole, by_hash):
            assert answered.status_code == 200
            assert answered.json()["data"] == {"company": {"name": "Sony Music"}}
        other = "{ companies { totalCount } }"
        other_hash = hashlib.sha256(other.encode()).hexdigest()
        for payload in (
            {"query": other},
            {"query": other, "extensions": _apq(other_hash)},
            {"extensions": _apq(other_hash)},
        ):
            refused = await send(http, payload=payload)
            assert refused.status_code == 400
            [error] = refused.json()["errors"]
            assert error["extensions"]["code"] == "OPERATION_NOT_TRUSTED"
            assert "manifest" in error["message"]


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("not json", "cannot read"),
        (json.dumps({"0" * 64: "{ __typename }"}), "does not hash to its id"),
        (  # as clients could not send it: refused as that, not as a document of another hash
            json.dumps({hashlib.sha256(b"{ __typename }").hexdigest().upper(): "{ __typename }"}),
            "has an id that is not 64 lowercase hexadecimal digits",
        ),
        ("{}", "lists no document"),
        (  # an operation without its body: a configuration error, not a crash
            json.dumps(
                {
                    "format": "apollo-persisted-query-manifest",
                    "operations": [{"id": hashlib.sha256(b"{ a }").hexdigest(), "body": None}],
                }
            ),
            "a string hash and a string body",
        ),
        ("[]", "not a JSON object"),
        (  # JSON reads it, and no client could send its text
            json.dumps({"0" * 64: "{ __typename \ud800 }"}),
            "holds a lone surrogate",
        ),
    ],
)
def test_a_bad_trusted_documents_manifest_is_a_configuration_error(tmp_path, content, complaint):
    from core.config import Settings
    from server.app import create_app
    from server.persisted import ManifestError

    path = tmp_path / "manifest.json"
    path.write_text(content, encoding="utf-8")
    settings = Settings(trusted_documents=path, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ManifestError, match=complaint):
        create_app(settings)


async def test_graphiql_needs_nothing_from_another_host(client):
    """The page loads React and GraphiQL from this server (works offline, behind a
    firewall), and every file it names is served as shipped: GraphiQL's, and the explorer's
    icon (without one the browser asks for /favicon.ico, a 404)."""
    from server import explorer
    from server.graphiql import ASSETS_DIR, ASSETS_PATH

    page = await client.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    assert page.status_code == 200
    named = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "#graphiql" in named  # (the skip link: a place in the page, not a file)
    assert SCHEMA_PATH in named  # (the SDL, named where JavaScript is off: not a file either)
    named = [url for url in named if not url.startswith("#") and url != SCHEMA_PATH]
    assert named
    assert not [url for url in named if "//" in url]
    assert "Impact Graph: a company's programs" in page.text  # opens on the traversal
    icon = f"{explorer.ASSETS_PATH}/favicon.svg"
    assert f'<link rel="icon" href="{icon}" type="image/svg+xml" />' in page.text
    folders = {ASSETS_PATH: ASSETS_DIR, explorer.ASSETS_PATH: explorer.ASSETS_DIR}
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for url in named:
        assert url.startswith(ASSETS_PATH + "/") or url == icon
        served = await client.get(url)
        assert served.status_code == 200, url
        folder, name = url.rsplit("/", 1)
        assert served.content == (folders[folder] / name).read_bytes()
        suffix = url[url.rindex(".") :]
        assert served.headers["content-type"].startswith(types[suffix])


async def test_pages_probes_and_files_say_how_they_may_be_kept_framed_and_read(client):
    """GraphiQL's page may not be framed by another site, sniffed or named in referrers, and
    keeps no headers typed in its editor; probes and scrapes are of their moment (a CDN's
    default TTL would keep a `ready`); the pages' files and the SDL are what their type says."""
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert "shouldPersistHeaders: false" in page.text
    explorer = await client.get("/", headers={"Accept": "text/html"})
    for each in (page, explorer):
        assert "frame-ancestors 'none'" in each.headers["content-security-policy"]
        assert each.headers["content-type"].startswith("text/html")
        assert each.headers["x-frame-options"] == "DENY"
        assert each.headers["x-content-type-options"] == "nosniff"
        assert each.headers["referrer-policy"] == "no-referrer"
    for path in ("/healthz", "/readyz", "/metrics"):
        probed = await client.get(path)
        assert probed.status_code == 200, path
        assert probed.headers["cache-control"] == "no-store", path
    for path in ("/graphiql/4.1.2/graphiql.min.js", "/explorer/explorer.js", SCHEMA_PATH):
        for coding in ("br", "identity"):  # (a compressed copy, or the file)
            served = await client.get(path, headers={"accept-encoding": coding})
            assert served.status_code == 200, path
            assert served.headers["x-content-type-options"] == "nosniff", path
            # revalidated, not kept for as long as a browser guesses from its age: after a
            # deploy, a new page with the old script it guessed fresh would be broken
            assert served.headers["cache-control"] == "no-cache", path
            tag = served.headers["etag"]
            again = await client.get(
                path, headers={"accept-encoding": coding, "if-none-match": tag}
            )
            assert (again.status_code, again.headers["cache-control"]) == (304, "no-cache")


GRAPHIQL_JS = "/graphiql/4.1.2/graphiql.min.js"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    "asked",
    [
        "items=0-5",  # a unit it does not understand: which a server must ignore
        "Items=0-5",
        "bytes=5-1",  # no valid ranges-specifier: which a server may ignore
        "bytes=abc",
        "bytes=",
        "bytes=0-5, 9-3",
        "bytes 0-5",
        "bytes=0-" + "9" * 30,  # past any file, and past 19 digits
        # no range-spec, though Starlette read a range in them (206): a lone `-`, a sign and
        # an underscore (which Python's `int` reads)
        "bytes=0-5,-",
        "bytes=+0-5",
        "bytes=0-1_0",
    ],
)
async def test_a_range_to_ignore_is_answered_the_whole_file(client, asked, method):
    """RFC 9110 14.2: a Range in a unit the server does not understand must be ignored, and
    one that is no valid ranges-specifier may be: the whole file, as without it (both were
    mostly a plain-text 400, without the files' `nosniff`)."""
    whole = await client.get(GRAPHIQL_JS, headers={"accept-encoding": "identity"})
    request = client.build_request(
        method, GRAPHIQL_JS, headers={"accept-encoding": "identity", "range": asked.encode()}
    )
    answer = await client.send(request)
    assert answer.status_code == 200, answer.text[:200]
    assert compared(answer) == compared(whole)
    assert answer.content == (whole.content if method == "GET" else b"")


@pytest.mark.parametrize(
    ("asked", "status", "said"),
    [
        ("bytes=0-5", 206, "bytes 0-5/"),
        ("BYTES = 0-5", 206, "bytes 0-5/"),
        ("bytes=1-", 206, "bytes 1-"),
        ("bytes=-5", 206, "bytes "),
        ("bytes=0-0,2-2", 206, None),  # multipart/byteranges
        ("bytes=99999999-", 416, "bytes */"),
        ("bytes=" + "9" * 19 + "-", 416, "bytes */"),
    ],
)
async def test_a_valid_range_is_answered_as_before(client, asked, status, said):
    """Ranges that are valid keep their 206 (or 416, past the file's end), now sniff-proof."""
    answer = await client.get(GRAPHIQL_JS, headers={"accept-encoding": "identity", "range": asked})
    assert answer.status_code == status, answer.text[:200]
    if said is None:
        assert answer.headers["content-type"].startswith("multipart/byteranges")
    else:
        assert answer.headers["content-range"].startswith(said)
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("asked", "said"),
    [
        ("bytes=0-0,-0", "bytes 0-0/"),  # a suffix of no bytes is none the file can satisfy
        ("bytes=0-4, 99999999-", "bytes 0-4/"),  # nor a range starting past its end
        ("bytes=99999999-,-3", "bytes "),
        ("bytes=0-0,2-2,99999999-", None),  # the two it can, as multipart/byteranges
    ],
)
async def test_a_set_of_ranges_is_answered_with_those_the_file_can_satisfy(client, asked, said):
    """RFC 9110 14.1.1: a set of ranges is unsatisfiable (416) only when none of its ranges
    is; Starlette answered 416 to a set holding any range past the end."""
    whole = await client.get(GRAPHIQL_JS, headers={"accept-encoding": "identity"})
    answer = await client.get(GRAPHIQL_JS, headers={"accept-encoding": "identity", "range": asked})
    assert answer.status_code == 206, answer.text[:200]
    if said is None:
        assert answer.headers["content-type"].startswith("multipart/byteranges")
        assert answer.content.count(b"Content-Range: bytes ") == 2
    else:
        assert answer.headers["content-range"].startswith(said)
        start, end = map(int, answer.headers["content-range"].split()[1].split("/")[0].split("-"))
        assert answer.content == whole.content[start : end + 1]
    size = len(whole.content)
    at_the_end = await client.get(
        GRAPHIQL_JS, headers={"accept-encoding": "identity", "range": f"bytes=0-0,{size}-"}
    )
    assert at_the_end.status_code == 206  # a range starting at the end is none it can
    assert at_the_end.headers["content-range"] == f"bytes 0-0/{size}"
    for unsatisfiable in ("bytes=-0", "bytes=99999999-,-0", f"bytes={size}-"):
        refused = await client.get(
            GRAPHIQL_JS, headers={"accept-encoding": "identity", "range": unsatisfiable}
        )
        assert refused.status_code == 416, unsatisfiable


@pytest.mark.parametrize("second", ["bytes=abc", "bytes=2-2", "items=0-5"])
async def test_a_range_sent_on_two_lines_is_ignored(client, second):
    """`Range` is no list: two lines of it are no valid field, ignored (the whole file, as
    without them). The second line, unread, was a 500 once the first was answered."""
    whole = await client.get(GRAPHIQL_JS, headers={"accept-encoding": "identity"})
    headers = [("accept-encoding", "identity"), ("range", "bytes=0-0"), ("range", second)]
    answer = await client.get(GRAPHIQL_JS, headers=headers)
    assert answer.status_code == 200, answer.text[:200]
    assert answer.content == whole.content
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_every_error_the_files_answer_is_as_sniff_proof_as_the_files(client):
    """An unsatisfiable range's 416 (Starlette's plain text), a missing file's 404 and a
    POST's 405 say `nosniff` as the files' 200s do."""
    unsatisfiable = await client.get(
        GRAPHIQL_JS, headers={"accept-encoding": "identity", "range": "bytes=99999999-"}
    )
    missing = await client.get("/graphiql/4.1.2/missing.js")
    posted = await client.post(GRAPHIQL_JS, content=b"x")
    for answer, status in ((unsatisfiable, 416), (missing, 404), (posted, 405)):
        assert answer.status_code == status
        assert answer.headers["x-content-type-options"] == "nosniff", status


def compared(response: httpx.Response) -> list[tuple[str, str]]:
    """A response's headers, less those that differ from one request to the next."""
    return sorted((k, v) for k, v in response.headers.multi_items() if k != "x-request-id")


async def test_graphiql_runs_no_script_but_its_files_and_its_own(client):
    """GraphiQL's CSP allows scripts from this server and the page's one inline script, by the
    hash of the text it embeds (so markup injected into the page runs nothing); nothing else
    is allowed from anywhere but this server, and the page may not be framed."""
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    policy = {
        name: sources
        for name, *sources in (
            each.split() for each in page.headers["content-security-policy"].split(";")
        )
    }
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert policy["script-src"] == ["'self'", f"'sha256-{digest}'"]  # no 'unsafe-inline'
    assert policy["default-src"] == policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == policy["base-uri"] == policy["form-action"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    allowed = {source for sources in policy.values() for source in sources}
    assert not [source for source in allowed if "//" in source or source in ("*", "https:")]


@pytest.mark.parametrize(
    ("value", "length"),
    [
        ("12", 12),
        (None, None),
        ("", None),
        ("-1", None),
        ("1 ", None),
        ("\u00b2", None),  # `isdigit`, though `int` refuses it
        ("\u0661\u0662", None),  # `isdigit`, and `int` reads 12
    ],
)
def test_a_declared_length_is_ascii_digits_only(value, length):
    assert declared_length(value) == length
