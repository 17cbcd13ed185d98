"""GraphQL over HTTP, as the GraphQL-over-HTTP specification words it.

Status codes follow the negotiated media type: with `application/graphql-response+json` a
request error (parse, validation, variables) is a 400; with `application/json` every
well-formed request gets a 200. Malformed HTTP requests are 4xx either way. Every body is a
GraphQL response whose errors carry `extensions.code`; unexpected exceptions are logged with
their stack and reach the client only as a generic message with the request id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLSchema, GraphQLSyntaxError, OperationType
from sqlalchemy.engine import Dialect
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry import Schema

from compiled.executor import CompiledExecutor, Plan
from core.errors import ClientError, ServiceUnavailable
from core.limits import Limits
from operation.prepare import (
    DocumentCache,
    MethodNotAllowed,
    Operation,
    OperationRequest,
    Refused,
    prepare,
)
from resolvers.context import Context
from schema.execute import execute
from server.graphiql import graphiql_html

logger = logging.getLogger("impact_graph.graphql")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
REQUEST_ID_HEADER = "X-Request-ID"
EXECUTOR_HEADER = "X-Executor"  # which executor answered: compiled or reference
RETRY_AFTER_SECONDS = "1"


class RequestError(Exception):
    """The HTTP request itself is unusable; answered before anything executes."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class GraphQLParams:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when we can offer nothing it takes."""
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, str] | None = None
    for media, quality in _media_ranges(accept):
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            candidate = (quality + 0.001, GRAPHQL_RESPONSE)  # preferred on a tie
        elif media in (JSON, "application/*", "*/*"):
            candidate = (quality, JSON)
        else:
            continue
        if best is None or candidate[0] > best[0]:
            best = candidate
    return None if best is None else best[1]


def wants_graphiql(request: Request) -> bool:
    """A browser's GET: `text/html` is asked for and preferred to every JSON type."""
    if request.method != "GET":
        return False
    ranges = _media_ranges(request.headers.get("accept", ""))
    html = max((q for media, q in ranges if media == "text/html"), default=0.0)
    json_types = (GRAPHQL_RESPONSE, JSON, "application/*")
    return html > 0 and html >= max((q for m, q in ranges if m in json_types), default=0.0)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's parser would accept NaN, Infinity


# orjson reads an integer past 64 bits (19 digits or more) as a float; the stdlib keeps it exact.
# Digits become "9" and all else a space, then one substring search: ~10x faster than a regex.
_DIGITS_TO_NINES = bytes(57 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"9" * 19


def parse_json(text: str, what: str) -> Any:
    """JSON from the client, refused when malformed, absurdly nested or not real Unicode.

    orjson itself refuses lone surrogates, NaN and nesting past 1,024 levels, so what it takes
    needs no further check; what it refuses goes to the stdlib path, which words the refusal.
    """
    if _LONG_NUMBER not in text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_NINES):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return _parse_json_exactly(text, what)


def _parse_json_exactly(text: str, what: str) -> Any:
    try:
        data = json.loads(text, parse_constant=_not_json)
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
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(400, "BAD_REQUEST", "`query` must be a non-empty string")
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "BAD_REQUEST", "`variables` must be a JSON object")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestError(400, "BAD_REQUEST", "`operationName` must be a string")
    return GraphQLParams(query, variables, operation_name or None)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed `limit` (declared or streamed)."""
    too_large = RequestError(
        413, "PAYLOAD_TOO_LARGE", f"the request body is larger than {limit:,} bytes"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_params(request: Request, max_body_bytes: int) -> GraphQLParams:
    if request.method == "GET":
        if len(request.url.query) > max_body_bytes:
            raise RequestError(
                414, "URI_TOO_LONG", f"the query string is longer than {max_body_bytes:,} bytes"
            )
        args = request.query_params
        return params_from(
            {
                "query": args.get("query"),
                "variables": _get_variables(args.get("variables")),
                "operationName": args.get("operationName"),
            }
        )
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != JSON:
        raise RequestError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST bodies must be application/json",
            {"Accept-Post": JSON},
        )
    body = await read_body(request, max_body_bytes)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "BAD_REQUEST", "the request body is not valid UTF-8") from None
    return params_from(parse_json(text, "the request body"))


def _get_variables(value: str | None) -> Any:
    return None if value is None else parse_json(value, "`variables`")


def _error_code(error: GraphQLError, before_execution: bool) -> str:
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if before_execution:
        return "GRAPHQL_VALIDATION_FAILED"
    return "BAD_USER_INPUT"  # raised by graphql-core before any field: variable coercion


def _is_server_fault(error: GraphQLError) -> bool:
    """An exception of ours, or graphql-core refusing a value we produced (it has a path)."""
    original = error.original_error
    if isinstance(original, ClientError):
        return False
    if original is not None and not isinstance(original, GraphQLError):
        return True
    return error.path is not None


def format_error(error: GraphQLError, *, before_execution: bool, request_id: str) -> dict[str, Any]:
    """A client-safe error: our refusals as they are, graphql-core's own, anything else masked."""
    original = error.original_error
    formatted: dict[str, Any] = {}
    if isinstance(original, ServiceUnavailable):
        logger.warning(
            "request %s at %s: %s (%r)",
            request_id,
            error.path,
            original.message,
            original.__cause__,
        )
        formatted["message"] = original.message
        extensions: dict[str, Any] = {**original.extensions(), "requestId": request_id}
    elif isinstance(original, ClientError):
        formatted["message"] = original.message
        extensions = original.extensions()
    elif _is_server_fault(error):
        trace = None if original is None else (type(original), original, original.__traceback__)
        logger.error(
            "unexpected error (request %s) at %s: %s",
            request_id,
            error.path,
            error.message,
            exc_info=trace,
        )
        formatted["message"] = "Internal server error"
        extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    else:
        formatted["message"] = error.message
        extensions = {"code": _error_code(error, before_execution)}
    if error.locations:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    if error.path:
        formatted["path"] = list(error.path)
    formatted["extensions"] = extensions
    return formatted


GET_OPERATIONS = frozenset({OperationType.QUERY})
# Over POST every type is allowed through; validation then refuses what the schema lacks.
POST_OPERATIONS = frozenset(OperationType)


class GraphQLEndpoint:
    """The `/graphql` route: negotiate, read the request, prepare the operation, execute it
    with a fresh context, answer."""

    def __init__(
        self,
        schema: Schema,
        contract: GraphQLSchema,
        context_factory: Callable[[str], Context],
        *,
        limits: Limits,
        dialect: Dialect,
        executor: str = "auto",
        graphiql: bool,
        max_body_bytes: int,
        execution_timeout: float,
        max_concurrent_queries: int,
    ) -> None:
        self.schema = schema
        self.contract = contract
        self.documents = DocumentCache()
        self.context_factory = context_factory
        self.limits = limits
        self.dialect = dialect
        self.executor = executor
        self.compiled = CompiledExecutor(contract)
        self.graphiql = graphiql
        self.max_body_bytes = max_body_bytes
        self.execution_timeout = execution_timeout
        # Executions in flight at once; the rest wait their turn (within their timeout), so a
        # crowd of expensive queries queues up instead of multiplying the process's memory.
        self._slots = asyncio.Semaphore(max_concurrent_queries)
        self._closing: set[asyncio.Task[None]] = set()

    async def handle(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex
        if request.method not in ("GET", "POST"):
            return _error_response(
                RequestError(405, "METHOD_NOT_ALLOWED", "use GET or POST", {"Allow": "GET, POST"}),
                JSON,
                request_id,
            )
        if self.graphiql and wants_graphiql(request):
            return HTMLResponse(graphiql_html(), headers={"Vary": "Accept"})
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            return _error_response(
                RequestError(
                    406,
                    "NOT_ACCEPTABLE",
                    f"responses are {GRAPHQL_RESPONSE} or {JSON}; the Accept header allows neither",
                ),
                JSON,
                request_id,
            )
        try:
            params = await read_params(request, self.max_body_bytes)
            operation = self._prepare(request, params)
        except RequestError as error:
            return _error_response(error, media_type, request_id)
        except Refused as refused:
            body = _request_errors(refused.errors, request_id)
            if refused.estimated is not None:
                body["extensions"] = {"cost": self._cost(refused.estimated)}
            status = 400 if media_type == GRAPHQL_RESPONSE else 200
            return _json_response(body, status, media_type, request_id)
        try:
            body, status, executor = await self._execute(operation, params, media_type, request_id)
        except RequestError as error:
            return _error_response(error, media_type, request_id)
        response = _json_response(body, status, media_type, request_id)
        response.headers[EXECUTOR_HEADER] = executor
        return response

    def _prepare(self, request: Request, params: GraphQLParams) -> Operation:
        allowed = GET_OPERATIONS if request.method == "GET" else POST_OPERATIONS
        wanted = OperationRequest(params.query, params.operation_name, params.variables, allowed)
        try:
            return prepare(self.contract, self.documents, wanted, self.limits)
        except MethodNotAllowed:
            raise RequestError(
                405,
                "METHOD_NOT_ALLOWED",
                "only queries may be sent with GET; send other operations with POST",
                {"Allow": "POST"},
            ) from None

    def _cost(self, estimated: int, actual: int | None = None) -> dict[str, int]:
        cost = {"estimated": estimated, "budget": self.limits.max_cost}
        if actual is not None:
            cost["actual"] = actual
        return cost

    async def _execute(
        self, operation: Operation, params: GraphQLParams, media_type: str, request_id: str
    ) -> tuple[dict[str, Any], int, str]:
        """The response body, its status and the executor that answered it."""
        if self.executor != "reference":
            plan = self.compiled.plan(operation, params.variables, self.dialect)
            if plan is not None:
                answered = await self._run_compiled(plan, operation, request_id)
                if answered is not None:
                    return answered, 200, "compiled"
            elif self.executor == "compiled":
                logger.warning(
                    "request %s: not compiled; the reference executor answers", request_id
                )
        body, status = await self._run_reference(operation, params, media_type, request_id)
        return body, status, "reference"

    async def _run_compiled(
        self, plan: Plan, operation: Operation, request_id: str
    ) -> dict[str, Any] | None:
        """The body, or None when the reference executor should answer after all (the store
        failed in a way whose partial answer only the reference executor can give)."""
        context = self.context_factory(request_id)
        try:
            async with asyncio.timeout(self.execution_timeout), self._slots:
                data, actual = await context.loaders.reader.run(
                    lambda session: CompiledExecutor.run(session, plan)
                )
        except TimeoutError:
            self._close_later(context)
            raise self._timed_out(request_id) from None
        except ServiceUnavailable:
            await context.loaders.reader.close()
            return None
        except Exception:
            logger.exception("request %s: the compiled statement failed", request_id)
            await context.loaders.reader.close()
            return None
        await context.loaders.reader.close()
        return {"data": data, "extensions": {"cost": self._cost(operation.estimated, actual)}}

    def _timed_out(self, request_id: str) -> RequestError:
        logger.warning("request %s stopped after %s s", request_id, self.execution_timeout)
        return RequestError(
            503,
            "QUERY_TIMEOUT",
            f"The query did not finish within {self.execution_timeout:g} s and was stopped.",
        )

    async def _run_reference(
        self, operation: Operation, params: GraphQLParams, media_type: str, request_id: str
    ) -> tuple[dict[str, Any], int]:
        context = self.context_factory(request_id)
        timed_out = False
        try:
            async with asyncio.timeout(self.execution_timeout), self._slots:
                result = await execute(self.schema, operation, params.variables, context)
        except TimeoutError:
            timed_out = True
            raise self._timed_out(request_id) from None
        finally:
            if timed_out:  # a batch may still hold the session; answer now, close when it ends
                self._close_later(context)
            else:
                await context.loaders.reader.close()
        cost = self._cost(operation.estimated, context.usage.objects)
        return _graphql_body(result.data, result.errors or [], cost, request_id, media_type)

    def _close_later(self, context: Context) -> None:
        task = asyncio.create_task(context.loaders.reader.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _request_errors(errors: list[GraphQLError], request_id: str) -> dict[str, Any]:
    """The body of a request that did not execute: its errors and no `data` entry at all."""
    return {
        "errors": [format_error(e, before_execution=True, request_id=request_id) for e in errors]
    }


def _graphql_body(
    data: dict[str, Any] | None,
    errors: list[GraphQLError],
    cost: dict[str, int],
    request_id: str,
    media_type: str,
) -> tuple[dict[str, Any], int]:
    # Variables refused by graphql-core (errors without a path) leave no `data` entry at all.
    request_error = any(e.path is None for e in errors)
    body: dict[str, Any] = {}
    if errors:
        body["errors"] = [
            format_error(e, before_execution=False, request_id=request_id) for e in errors
        ]
    if not request_error:
        body["data"] = data
    body["extensions"] = {"cost": cost}
    status = 400 if request_error and media_type == GRAPHQL_RESPONSE else 200
    if any(isinstance(e.original_error, ServiceUnavailable) for e in errors):
        status = 503
    return body, status


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


def _json_response(body: dict[str, Any], status: int, media_type: str, request_id: str) -> Response:
    headers = {REQUEST_ID_HEADER: request_id, "Vary": "Accept"}
    if status == 503:  # every 503 is "try again shortly": a database outage or a timeout
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    return Response(
        encode_json(body),
        status_code=status,
        media_type=media_type,
        headers=headers,
    )


def _error_response(error: RequestError, media_type: str, request_id: str) -> Response:
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    response = _json_response(body, error.status, media_type, request_id)
    response.headers.update(error.headers)
    return response
