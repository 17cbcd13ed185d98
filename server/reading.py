"""Reading a GraphQL request over HTTP: GET parameters or a JSON body, refused when
malformed, too large or not real Unicode."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import ClientDisconnect, Request

from server.errors import RequestError
from server.negotiation import JSON, listed, media_parameters
from server.persisted import SHA256_HEX, sha256_hex

# What the request's record says of a body that never came whole (the app's answer reaches
# no one): what the edge answered before it closed the connection (server/connections.py
# keeps it in the request's state: a 408 at the body's deadline, a 400 for a bad chunk), or
# else that the client left (499, as nginx logs it).
EDGE_REFUSAL = "impact_graph.edge_refusal"
CLIENT_CLOSED_REQUEST = 499
CLIENT_CLOSED_CODE = "CLIENT_CLOSED_REQUEST"  # its error code, in the record and the metrics

logger = logging.getLogger("impact_graph.graphql")


@dataclass(frozen=True)
class GraphQLParams:
    query: str | None  # None: only a persisted query's hash was sent
    variables: dict[str, Any] | None
    operation_name: str | None
    persisted_hash: str | None = None  # extensions.persistedQuery.sha256Hash (Apollo's APQ)


def _persisted_hash(extensions: Any) -> str | None:
    """The hash of an automatic persisted query, as Apollo Client and urql send it."""
    if extensions is None:
        return None
    if not isinstance(extensions, dict):
        raise RequestError(400, "BAD_REQUEST", "`extensions` must be a JSON object")
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    version = persisted.get("version") if isinstance(persisted, dict) else None
    if type(version) is not int or version != 1:  # (not `true` or 1.0, which equal 1)
        raise RequestError(400, "BAD_REQUEST", "`persistedQuery` must be {version: 1, sha256Hash}")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest):
        raise RequestError(
            400, "BAD_REQUEST", "`sha256Hash` must be 64 lowercase hexadecimal digits"
        )
    return digest


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's parser would accept NaN, Infinity


def _finite(what: str) -> Any:
    """A float parser that refuses numbers past what a float holds (1e400 would be inf)."""

    def parse(text: str) -> float:
        number = float(text)
        if not math.isfinite(number):
            raise RequestError(400, "BAD_REQUEST", f"{what} has a number too large for a float")
        return number

    return parse


# orjson reads an integer past 64 bits (19 digits or more) as a float; the stdlib keeps it exact.
# Digits become "9" and all else a space, then one substring search: ~10x faster than a regex.
_DIGITS_TO_NINES = bytes(57 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"9" * 19
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string


def parse_json(text: str, what: str) -> Any:
    """JSON from the client, refused when malformed, absurdly nested or not real Unicode.

    orjson itself refuses lone surrogates, NaN and nesting past 1,024 levels, so what it takes
    needs no further check; what it refuses goes to the stdlib path, which words the refusal.
    """
    if not _has_long_number(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return _parse_json_exactly(text, what)


def _has_long_number(text: str) -> bool:
    """Whether `text` may hold an integer orjson would not read exactly. Digits in strings (an
    ID, a hash in a query's comment) are no number: where the quick look finds a run of them,
    it looks again without the strings, so what they hold does not change how deep a body may
    nest (the stdlib's parser takes fewer levels than orjson's)."""
    if _LONG_NUMBER not in _nines(text):
        return False
    return _LONG_NUMBER in _nines(_STRING.sub('""', text))


def _nines(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_NINES)


def _parse_json_exactly(text: str, what: str) -> Any:
    try:
        data = json.loads(text, parse_constant=_not_json, parse_float=_finite(what))
    except RecursionError:
        raise RequestError(400, "BAD_REQUEST", f"{what} is nested too deeply") from None
    except ValueError:
        raise RequestError(400, "BAD_REQUEST", f"{what} is not valid JSON") from None
    try:  # JSON escapes can spell lone UTF-16 surrogates, which no store or response can hold
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(
            400, "BAD_REQUEST", f"{what} contains a lone UTF-16 surrogate (\\uD800-\\uDFFF)"
        ) from None
    except RecursionError:
        raise RequestError(400, "BAD_REQUEST", f"{what} is nested too deeply") from None
    return data


def params_from(data: Any) -> GraphQLParams:
    if isinstance(data, list):
        raise RequestError(400, "BAD_REQUEST", "batched requests (a JSON array) are not supported")
    if not isinstance(data, dict):
        raise RequestError(400, "BAD_REQUEST", "the request body must be a JSON object")
    digest = _persisted_hash(data.get("extensions"))
    query = data.get("query")
    if digest is not None and query is None:
        query = None  # the hash alone: the endpoint looks the document up
    elif query is None:
        raise RequestError(400, "BAD_REQUEST", "`query` is missing")
    elif not isinstance(query, str):  # (a blank one is a document that does not parse)
        raise RequestError(400, "BAD_REQUEST", "`query` must be a string")
    elif digest is not None and sha256_hex(query) != digest:
        raise RequestError(400, "BAD_REQUEST", "provided sha does not match query")
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "BAD_REQUEST", "`variables` must be a JSON object")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestError(400, "BAD_REQUEST", "`operationName` must be a string")
    return GraphQLParams(query, variables, operation_name or None, digest)


def declared_length(value: str | None) -> int | None:
    """A Content-Length's value, None where it is none (ASCII digits only: `isdigit` alone
    takes a superscript or an Arabic-Indic digit, which `int` refuses or reads)."""
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed `limit` (declared or streamed)."""
    # the connection is closed after it, however much of the body had arrived: what follows
    # the body on it is never read as a request (nor does that depend on the body's pace)
    too_large = RequestError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"the request body is larger than {limit:,} bytes",
        {"Connection": "close"},
    )
    declared = declared_length(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:  # nobody reads the answer; one line, not a stack
        refused: RequestError | None = request.scope["state"].get(EDGE_REFUSAL)
        if refused is not None:  # at debug level, as the edge logs its refusals: a line each
            # would let any client fill the log, and the access line records it (its status
            # and code) anyway
            logger.debug("a request's body was refused: %s (%d bytes came)", refused.message, size)
            raise refused from None
        logger.info("the client left before sending its whole body (%d bytes came)", size)
        raise RequestError(
            CLIENT_CLOSED_REQUEST, CLIENT_CLOSED_CODE, "the client left mid-body"
        ) from None
    return b"".join(chunks)


async def read_params(request: Request, max_body_bytes: int) -> GraphQLParams:
    if request.method == "GET":
        if len(request.scope["query_string"]) > max_body_bytes:
            raise RequestError(
                414, "URI_TOO_LONG", f"the query string is longer than {max_body_bytes:,} bytes"
            )
        args = _get_arguments(request.scope["query_string"])
        return params_from(
            {
                "query": args.get("query"),
                "variables": _get_json(args.get("variables"), "`variables`"),
                "operationName": args.get("operationName"),
                "extensions": _get_json(args.get("extensions"), "`extensions`"),
            }
        )
    if not is_json_body(request.headers.get("content-type")):
        raise RequestError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST bodies must be application/json (in UTF-8)",
            {"Accept-Post": JSON},
        )
    if not identity_coded(listed(request.headers, "content-encoding")):
        raise RequestError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "request bodies are read as sent, never decoded: send the body uncompressed, "
            "without Content-Encoding",
            {"Accept-Encoding": "identity"},  # what a body may be coded with (RFC 7694)
        )
    return params_of_body(await read_body(request, max_body_bytes))


def identity_coded(content_encoding: str | None) -> bool:
    """Whether a body's Content-Encoding (its lines joined) names no coding but `identity`.
    A body in any other (`gzip`, `br`, one unknown) is refused, not read as if it were plain
    (RFC 9110 15.5.16): a proxy or firewall that decoded it, or refused it, would have seen
    another request than runs."""
    return content_encoding is None or all(
        coding.strip(" \t").lower() in _IDENTITY for coding in content_encoding.split(",")
    )


_IDENTITY = frozenset({"identity", ""})  # (an empty list element is none: RFC 9110 5.6.1)


def is_json_body(content_type: str | None) -> bool:
    """Whether a POST's Content-Type is the one its body may have: `application/json`, in
    UTF-8 (a `charset` naming another is refused, not read as UTF-8)."""
    media_type, semicolon, parameters = (content_type or "").partition(";")
    if media_type.strip().lower() != JSON:
        return False
    return not semicolon or all(
        value.lower() in UTF8
        for name, value in media_parameters(";" + parameters)
        if name.lower() == "charset"
    )


def params_of_body(body: bytes) -> GraphQLParams:
    """The parameters of an `application/json` POST body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "BAD_REQUEST", "the request body is not valid UTF-8") from None
    data = parse_json(text, "the request body")
    if isinstance(data, dict):
        _refuse_repeated(text)
    return params_from(data)


def _refuse_repeated(text: str) -> None:
    """A GraphQL parameter given twice in the body's object is refused, as one given twice in
    a GET's query string is: a proxy or firewall that reads the first would check another
    document than runs (the parser keeps the last). Only a body that may repeat one (its name
    quoted twice, or an escaped ASCII letter, which could spell it) has its object's names
    read, values skipped unbuilt where they can be."""
    if not _ESCAPED_LETTER.search(text) and all(
        text.count(f'"{name}"') < 2 for name in GET_PARAMETERS
    ):
        return
    names = _object_names(text)
    for name in GET_PARAMETERS:
        if names.count(name) > 1:
            raise RequestError(400, "BAD_REQUEST", f"`{name}` is given more than once")


def _object_names(text: str) -> list[str]:
    """The names of the JSON object `text` holds, in order, repeats kept (`text` is known to
    be valid JSON: the body was parsed already)."""
    names: list[str] = []
    at = _past_space(text, 0) + 1  # past the `{`
    while True:
        at = _past_space(text, at)
        if text[at] == "}":
            return names
        name, at = _DECODER.raw_decode(text, at)
        names.append(name)
        at = _skip_value(text, _past_space(text, at) + 1)  # past the `:`
        at = _past_space(text, at)
        if text[at] == "}":
            return names
        at += 1  # past the `,`


def _skip_value(text: str, at: int) -> int:
    """Where the JSON value at `at` (or the spaces before it) ends: read by the C scanner
    (several times faster than a hook per object), or, nested past its recursion limit,
    skipped token by token (orjson reads 1,024 levels)."""
    at = _past_space(text, at)
    try:
        end: int = _DECODER.raw_decode(text, at)[1]
        return end
    except RecursionError:
        pass
    depth = 0
    for token in _STRUCTURE.finditer(text, at):
        if token[0] in "[{":
            depth += 1
        elif token[0] in "]}":
            depth -= 1
            if depth == 0:
                return token.end()
    raise ValueError("unbalanced JSON")  # not reached: the body was parsed


def _past_space(text: str, at: int) -> int:
    while text[at] in " \t\n\r":
        at += 1
    return at


_ESCAPED_LETTER = re.compile(r"\\u00[4-7][0-9A-Fa-f]")  # how `\u0071uery` spells `query`
_STRUCTURE = re.compile(rf"{_STRING.pattern}|[\[\]{{}}]")
_DECODER = json.JSONDecoder()


def _get_json(value: str | None, what: str) -> Any:
    """A GET's JSON parameter; empty, it is as if not given (GraphQL over HTTP)."""
    return None if not value else parse_json(value, what)


GET_PARAMETERS = ("query", "variables", "operationName", "extensions")
UTF8 = frozenset({"utf-8", "utf8"})  # the charsets a JSON body may name (RFC 8259: UTF-8)


def _get_arguments(query_string: bytes) -> dict[str, str]:
    """The GraphQL parameters of a GET's query string, as strictly as a POST body is read:
    escapes that are not UTF-8 are refused in them, not replaced, and so is one of them
    given twice (a proxy or firewall that reads the first would check another document
    than runs). Other parameters (a cache-buster) are left as they come."""
    try:
        text = query_string.decode("ascii")  # (a request target is ASCII, escapes and all)
    except UnicodeDecodeError:
        raise RequestError(400, "BAD_REQUEST", "the query string is not ASCII") from None
    args: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, errors="surrogateescape"):
        if name in GET_PARAMETERS:
            if name in args:
                raise RequestError(400, "BAD_REQUEST", f"`{name}` is given more than once")
            if not _utf8(value):
                raise RequestError(400, "BAD_REQUEST", f"`{name}` is not valid UTF-8")
            args[name] = value
    return args


def _utf8(value: str) -> bool:
    """Whether a parameter decoded with `surrogateescape` had only UTF-8 in it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
