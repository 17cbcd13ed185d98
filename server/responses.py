"""Writing responses: the GraphQL body of an executed or refused request, its status under
the negotiated media type, and the headers every response carries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.responses import Response

from core.errors import UNAVAILABLE_CODES, ServiceUnavailable
from server.errors import RequestError, format_errors
from server.negotiation import GRAPHQL_RESPONSE

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode("ascii")  # as heads are written
EXECUTOR_HEADER = "X-Executor"  # which executor answered: compiled or reference
RETRY_AFTER_SECONDS = b"1"
# An answer of this moment (a probe's, a scrape's, an error): no cache may keep it.
NO_STORE = {"Cache-Control": "no-store"}
# Every page and file of ours is what its type says, never sniffed as another (a script is
# only a script).
NO_SNIFF = {"X-Content-Type-Options": "nosniff"}


def raw_header(name: str, value: str) -> tuple[bytes, bytes]:
    """A header as ASGI sends it (and as `bytes_response` writes a head): a lowercase name."""
    return name.lower().encode("latin-1"), value.encode("latin-1")


# A page is also not to be framed by another site (clickjacking: `X-Frame-Options` for the
# browsers that predate a CSP's `frame-ancestors`, which each page's own policy says too) nor
# named in the requests it makes elsewhere.
PAGE_HEADERS = {**NO_SNIFF, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def request_errors(errors: list[GraphQLError], request_id: str) -> dict[str, Any]:
    """The body of a request that did not execute: its errors and no `data` entry at all."""
    return {"errors": format_errors(errors, before_execution=True, request_id=request_id)}


def graphql_body(
    data: dict[str, Any] | None,
    errors: list[GraphQLError],
    cost: dict[str, int],
    request_id: str,
    media_type: str,
) -> tuple[dict[str, Any], int]:
    # Variables refused by graphql-core (errors without a path) leave no `data` entry at all.
    request_error = any(e.path is None for e in errors)
    body: dict[str, Any] = {}
    if any(isinstance(e.original_error, ServiceUnavailable) for e in errors):
        # The store's trouble answers the request as a whole, a 503 to try again: an answer
        # holding `data` (its fields nulled) would have to be a 2xx (GraphQL over HTTP).
        formatted = format_errors(errors, before_execution=False, request_id=request_id)
        body["errors"] = _once_each(e for e in formatted if _unavailable(e))
        body["extensions"] = {"cost": cost}
        return body, 503
    if errors:
        if not request_error:  # (variables' errors come in the order they were coerced)
            # in the document's order: graphql-core appends them as their fields fail, so
            # the same request's errors came in another order when its reads raced
            errors = sorted(errors, key=_place)
        body["errors"] = format_errors(errors, before_execution=False, request_id=request_id)
    if not request_error:
        body["data"] = data
    body["extensions"] = {"cost": cost}
    status = 400 if request_error and media_type == GRAPHQL_RESPONSE else 200
    return body, status


def _unavailable(error: dict[str, Any]) -> bool:
    return error["extensions"]["code"] in UNAVAILABLE_CODES


def _once_each(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The store's errors of a request answered as a whole, once each, without the places
    and paths of the fields they nulled."""
    found: dict[str, dict[str, Any]] = {}
    for error in errors:
        whole = {"message": error["message"], "extensions": error["extensions"]}
        found.setdefault(json.dumps(whole, sort_keys=True), whole)
    return list(found.values())


def _place(error: GraphQLError) -> tuple[Any, ...]:
    """Where an error is: its places in the document, then its path (an index before a name,
    so paths of one shape compare)."""
    locations = tuple((place.line, place.column) for place in error.locations or ())
    path = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in error.path or ())
    return locations, path, error.message


def encode_json(body: Any) -> bytes:
    """Compact UTF-8 JSON by orjson (~20x faster), by the stdlib where orjson refuses.

    The bytes are the stdlib's compact form with non-ASCII unescaped, except floats in
    [1e-9, 1e-4): orjson writes 0.00005 and 5e-7 where the stdlib wrote 5e-05 and 5e-07 (the
    same numbers when read back). No seeded figure is that small.
    """
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:  # a lone surrogate, an int past 64 bits, nesting past 254
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        # A stray lone surrogate becomes its JSON escape rather than an encoding crash.
        return text.encode("utf-8", errors="backslashreplace")


def json_response(body: dict[str, Any], status: int, media_type: str, request_id: str) -> Response:
    return bytes_response(encode_json(body), status, media_type, request_id)


class _WrittenResponse(Response):
    """A Starlette response whose head `bytes_response` writes (as ASGI sends it)."""

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        assert headers is None, "bytes_response writes the head"
        self.raw_headers = []


def bytes_response(
    content: bytes,
    status: int,
    media_type: str,
    request_id: str,
    more: tuple[tuple[bytes, bytes], ...] = (),
) -> Response:
    """A GraphQL response whose body is already written (a kept answer's bytes), with `more`
    headers after the others, as ASGI sends them (lowercase names none of the others has).
    Its head is written here as ASGI sends it, not by Starlette from a mapping: a cached
    answer's whole cost was mostly that (the head is the same either way)."""
    response = _WrittenResponse(content, status_code=status)
    head = [
        (b"content-length", b"%d" % len(content)),
        (b"content-type", media_type.encode("latin-1")),  # JSON types: no charset parameter
        (b"x-request-id", request_id.encode("latin-1")),
        (b"vary", b"Accept"),
    ]
    if status == 503:  # every 503 is "try again shortly": a database outage or a timeout
        head.append((b"retry-after", RETRY_AFTER_SECONDS))
    head.extend(more)
    response.raw_headers = head
    return response


def error_response(error: RequestError, media_type: str, request_id: str) -> Response:
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    response = json_response(body, error.status, media_type, request_id)
    response.headers.update(error.headers)
    return response
