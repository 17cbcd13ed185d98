"""GraphQL over HTTP, as the GraphQL-over-HTTP specification words it.

Status codes follow the negotiated media type: with `application/graphql-response+json` a
request error (parse, validation, variables) is a 400; with `application/json` every
well-formed request gets a 200. Malformed HTTP requests are 4xx either way. Every body is a
GraphQL response whose errors carry `extensions.code`; unexpected exceptions are logged with
their stack and reach the client only as a generic message with the request id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationType
from opentelemetry.trace import Tracer
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from compiled.executor import CompiledExecutor, Plan
from core.errors import ResponseTooLarge, ServiceUnavailable
from core.limits import Limits
from core.lru import LRU, REMEMBERED_HEADER_CHARS
from core.spans import span
from db.errors import StoreFailures
from db.state import StoreSnapshot
from db.watch import StoreWatch
from operation.prepare import (
    DocumentCache,
    MethodNotAllowed,
    Operation,
    OperationRequest,
    Refused,
    prepare,
    variables_key,
)
from operation.size import too_large
from schema.execute import ReferenceExecutor, TimedOut
from server.answers import CACHE_HEADER, REVALIDATED, Answers, CachedAnswer, CacheUnavailable
from server.caching import AnswerKey, answer_key
from server.compression import matching_etag
from server.errors import RequestError, masked, timeouts, without_suggestions
from server.graphiql import GRAPHIQL_HEADERS, graphiql_html
from server.negotiation import GRAPHQL_RESPONSE, JSON, listed, negotiate, wants_graphiql
from server.outcome import (
    CACHE_HIT,
    CACHE_MISS,
    CACHE_UNAVAILABLE,
    Outcome,
    outcome_in,
    outcome_of,
    refuse,
)
from server.persisted import persisted_queries, sha256_hex
from server.ratelimit import RateLimit
from server.reading import GraphQLParams, params_of_body, read_params
from server.responses import (
    EXECUTOR_HEADER,
    NO_STORE,
    bytes_response,
    encode_json,
    graphql_body,
    json_response,
    raw_header,
    request_errors,
)
from server.shutdown import cut_off, cut_off_by_the_grace

logger = logging.getLogger("impact_graph.graphql")


# Answers of operations that read only the schema (GraphiQL's and codegen's introspection),
# kept per query, operation, variables and media type: exact for the life of the process.
SCHEMA_ANSWERS = 32

GET_OPERATIONS = frozenset({OperationType.QUERY})
# POST bodies read lately, by their bytes and Accept header (up to this many, this long)
REMEMBERED_POSTS = 256
REMEMBERED_BODY_BYTES = 4096
LOOKED_UP = "looked_up"  # its key in the request's state (Starlette's `request.state`)


@dataclass(frozen=True)
class LookedUp:
    """A POST looked up before routing and not found: its parameters and the key it missed."""

    params: GraphQLParams
    key: AnswerKey | None
    deadline: float  # the request's execution deadline, running since it was looked up


# Over POST every type is allowed through; validation then refuses what the schema lacks.
POST_OPERATIONS = frozenset(OperationType)


class GraphQLEndpoint:
    """The `/graphql` route: negotiate, read the request, prepare the operation, have an
    executor run it (the compiled one, or `reference`), answer."""

    def __init__(
        self,
        reference: ReferenceExecutor,
        contract: GraphQLSchema,
        *,
        limits: Limits,
        compiled: CompiledExecutor,
        executor: str = "auto",
        graphiql: bool,
        max_body_bytes: int,
        execution_timeout: float,
        max_concurrent_queries: int,
        store: StoreWatch,
        build: str,
        cache_control: str = "no-cache",
        trusted: dict[str, str] | None = None,
        pinned: Mapping[str, str] | None = None,
        rate_limit: RateLimit | None = None,
        tracer: Tracer | None = None,
        answers: Answers | None = None,
        failures: StoreFailures | None = None,
    ) -> None:
        self.reference = reference
        self.tracer = tracer  # spans for preparing and executing (none: tracing is off)
        self.contract = contract
        self.documents = DocumentCache()
        self.limits = limits
        self.executor = executor
        self.compiled = compiled
        self.persisted = persisted_queries()
        self.store = store
        self.failures = failures or StoreFailures()  # which failures are the store's (503)
        self.build = build  # what else an answer depends on: the code that wrote it
        self.cache_control = cache_control
        self.answers = answers  # the response cache; None: every request runs
        # Documents that always run, by hash or whole, manifest or not: the server's own pages'
        # (server/explorer.py). Never evicted, so their hash alone always finds them.
        self.pinned = dict(pinned or {})
        # With a manifest, only its documents (and the pinned) run, and nothing registers.
        self.trusted = None if trusted is None else {**self.pinned, **trusted}
        self._schema_answers: LRU[tuple[Any, ...], tuple[dict[str, Any], int]] = LRU(SCHEMA_ANSWERS)
        self._posts: LRU[tuple[bytes, str | None], tuple[str, GraphQLParams, AnswerKey | None]]
        self._posts = LRU(REMEMBERED_POSTS)
        self.graphiql = graphiql
        self.max_body_bytes = max_body_bytes
        self.execution_timeout = execution_timeout
        # Executions in flight at once, of either executor; the rest wait their turn (within
        # their timeout), so a crowd of expensive queries queues up instead of multiplying the
        # process's memory.
        self._slots = asyncio.Semaphore(max_concurrent_queries)
        self.rate_limit = rate_limit

    async def handle(self, request: Request) -> Response:
        try:
            response = await self._handle(request)
        except Exception:
            response = _failed(request)
        except asyncio.CancelledError as error:
            if cut_off_by_the_grace(error):  # answered here, so it passes CORS as any answer
                response = cut_off(outcome_of(request))
            else:
                task = asyncio.current_task()
                if task is None or task.cancelling():  # this request is being stopped
                    raise
                response = _failed(request)  # something it awaited was cancelled under it
        if request.method == "GET":
            headers = response.headers
            page = "text/html" in headers.get("content-type", "")  # GraphiQL
            if "etag" not in headers and not page:
                headers.update(NO_STORE)  # errors and uncached answers
        return response

    async def _handle(self, request: Request) -> Response:
        outcome = outcome_of(request)
        request_id = outcome.request_id
        method = request.method
        if self.rate_limit is not None:  # every request to /graphql counts, first of all
            too_soon = await self.rate_limit.check(request)
            if too_soon is not None:
                return self._refuse(
                    too_soon, negotiate(listed(request.headers, "accept")) or JSON, outcome
                )
        if method not in ("GET", "POST"):
            return self._refuse(
                RequestError(405, "METHOD_NOT_ALLOWED", "use GET or POST", {"Allow": "GET, POST"}),
                JSON,
                outcome,
            )
        if self.graphiql and wants_graphiql(request):
            return HTMLResponse(graphiql_html(), headers={**GRAPHIQL_HEADERS, "Vary": "Accept"})
        media_type = negotiate(listed(request.headers, "accept"))
        if media_type is None:
            return self._refuse(
                RequestError(
                    406,
                    "NOT_ACCEPTABLE",
                    f"responses are {GRAPHQL_RESPONSE} or {JSON}; the Accept header allows neither",
                ),
                JSON,
                outcome,
            )
        looked_up: LookedUp | None = getattr(request.state, LOOKED_UP, None)
        try:
            if looked_up is None:
                params = await read_params(request, self.max_body_bytes)
                # one deadline from here: the store's state, then whichever executor answers
                deadline = asyncio.get_running_loop().time() + self.execution_timeout
                key = self._key(method, params, media_type)
            else:  # read and looked up before routing (server/posts.py), its deadline running
                params, key, deadline = looked_up.params, looked_up.key, looked_up.deadline
            query = self._persisted_query(params)
            if_none_match = listed(request.headers, "if-none-match")
            if key is not None and method == "GET" and if_none_match:
                key = await self._current(key, deadline)  # revalidated against the store now
        except RequestError as error:
            return self._refuse(error, media_type, outcome)
        # `*` names no answer here: the tag is known only once an answer is (not an error)
        if key is not None and key.current and matching_etag(key.etag, if_none_match, star=False):
            # the client has this answer: nothing runs (the operation it names, as the answer
            # tagged so did: the key holds the name)
            outcome.operation_name = params.operation_name
            headers = {**self._cache_headers(key.etag), CACHE_HEADER: REVALIDATED}
            return Response(status_code=304, headers=headers)
        cached = None if looked_up else await self._cached(key, outcome, deadline)
        if cached is not None:  # nothing is parsed, validated or executed
            answer, key = cached
            self._register(params, query)
            response = self._answer(answer, media_type, outcome, CACHE_HIT)
            if method == "GET":
                response.headers.update(self._cache_headers(key.etag))
            return response
        if query is None:  # a hash this process does not know, and no answer kept under it
            outcome.cache = None  # (a refusal: no answer could have been kept)
            return self._refuse(_not_found(media_type), media_type, outcome)
        try:
            # the sizes the cost counts, of the version `snapshot.version` (the key's, or
            # newer if a seed committed since): the answer shows the estimate they price
            snapshot = await self.store.snapshot(deadline)
            with span(self.tracer, "prepare"):
                operation = self._prepare(request, params, query, snapshot)
            outcome.operation_name = operation.own_name
            self._register(params, query)
        except RequestError as error:
            return self._refuse(error, media_type, outcome)
        except Refused as refused:
            outcome.cost = refused.estimated
            body = request_errors(refused.errors, request_id)
            outcome.refusal = body["errors"][0]["extensions"]["code"] if body["errors"] else None
            if refused.estimated is not None:
                body["extensions"] = {"cost": self._cost(refused.estimated)}
            status = 400 if media_type == GRAPHQL_RESPONSE else 200
            return json_response(body, status, media_type, request_id)
        try:
            with span(self.tracer, "execute"):
                body, status, executor, read = await self._execute(
                    operation, params, media_type, request_id, deadline
                )
        except RequestError as error:
            return self._refuse(error, media_type, outcome)
        if "errors" in body and not self.limits.introspection:
            without_suggestions(body)
        if read is not None:
            await self.store.saw(read, deadline)
        cost = body.get("extensions", {}).get("cost", {}).get("actual")
        content = encode_json(body)
        if len(content) > self.limits.max_response_bytes:  # cut off: never sent, never kept
            cut = too_large(len(content), self.limits)
            return self._cut_off(cut, operation, media_type, outcome)
        if status != 200 or "errors" in body:  # errors and partial answers are never kept
            outcome.executor, outcome.cost = executor, cost
            code = body["errors"][0]["extensions"]["code"]  # (every error has one)
            if status == 503 or "data" not in body:  # the store's trouble (a 503's errors are
                # the store's alone: `graphql_body`, server/responses.py), or a request error
                # (variables refused): counted by its code, as a timeout is
                outcome.refusal = code
            else:  # executed, with errors: a field's (its data null or partial)
                outcome.error = code
            return bytes_response(
                content, status, media_type, request_id, (_executor_header(executor),)
            )
        answer = CachedAnswer(content, executor, cost, operation.own_name)
        exact = _exact_key(key, snapshot.version, read)
        if (
            exact is not None
            and outcome.cache == CACHE_MISS
            and operation.definition.operation is OperationType.QUERY  # (see `_keep`)
        ):
            pending = self._keep(exact, answer, outcome)
            if pending is not None:  # kept elsewhere (Redis)
                await pending
        response = self._answer(answer, media_type, outcome, outcome.cache)
        if method == "GET" and exact is not None:
            response.headers.update(self._cache_headers(exact.etag))
        return response

    @property
    def answers_before_routing(self) -> bool:
        """Whether a POST may be answered before routing (server/posts.py): no rate limit
        must count each request first."""
        return self.rate_limit is None

    async def kept_answer(
        self, state: dict[str, Any], accept: str | None, body: bytes
    ) -> Response | None:
        """The kept answer to a POST whose body has been read (server/posts.py: before
        routing), as `_handle` would answer it; None where there is none (with the cache
        off, never). Then the request carries what was read and looked up (`LOOKED_UP`), and
        the endpoint neither reads nor looks it up again; without it, the request goes the
        whole way."""
        if not self.answers_before_routing:
            return None
        read = self._read_post(body, accept)
        if read is None:
            return None
        media_type, params, unversioned = read
        outcome = outcome_in(state)
        try:
            query = self._persisted_query(params)
        except RequestError:
            return None  # refused the whole way, in the same words
        key = None if unversioned is None else unversioned.at(self.store.last_version)
        deadline = asyncio.get_running_loop().time() + self.execution_timeout
        cached = await self._cached(key, outcome, deadline)
        if cached is None:
            # variables read again: its own, the remembered ones serving later requests as
            # they are (the body was read once already: it reads the same)
            own = params if params.variables is None else params_of_body(body)
            state[LOOKED_UP] = LookedUp(own, key, deadline)
            return None
        self._register(params, query)
        return self._answer(cached[0], media_type, outcome, CACHE_HIT)

    def _read_post(
        self, body: bytes, accept: str | None
    ) -> tuple[str, GraphQLParams, AnswerKey | None] | None:
        """A POST's media type, parameters and key (its version yet to be set), as read
        before (the same bytes and Accept header are the same request: a repeated one is
        neither parsed nor hashed again); None where it is refused."""
        remembered = len(body) <= REMEMBERED_BODY_BYTES and (
            accept is None or len(accept) <= REMEMBERED_HEADER_CHARS
        )
        found = self._posts.get((body, accept)) if remembered else None
        if found is not None:
            return found
        media_type = negotiate(accept)
        if media_type is None:
            return None
        try:
            params = params_of_body(body)
        except RequestError:
            return None
        read = media_type, params, self._key("POST", params, media_type)
        if remembered:
            self._posts.put((body, accept), read)
        return read

    def _key(self, method: str, params: GraphQLParams, media_type: str) -> AnswerKey | None:
        """The answer's key (the response cache's and the ETag's) under the data version this
        process last read, not yet checked against the store (`_current`); None where it
        goes unkeyed: a POST with the cache off, or variables too large to key by."""
        if method != "GET" and self.answers is None:
            return None
        variables = variables_key(params.variables)
        if variables is None:
            return None
        # the document sent, or the one persisted under its hash (a manifest's document has
        # the hash of the query sent: the same text)
        document = params.persisted_hash or sha256_hex(params.query or "")
        return answer_key(
            self.build,
            self.store.last_version,
            document,
            params.operation_name,
            variables,
            media_type,
        )

    async def _current(self, key: AnswerKey, deadline: float) -> AnswerKey | None:
        """`key` under the data version now, from a read that started after the request
        arrived (one read serves every request waiting); None when the store cannot say."""
        version = await self.store.version(deadline)
        return None if version is None else key.at(version, current=True)

    async def _cached(
        self, key: AnswerKey | None, outcome: Outcome, deadline: float
    ) -> tuple[CachedAnswer, AnswerKey] | None:
        """The kept answer and its key, under the data version now; None (a miss) where
        there is none or the cache cannot say.

        A miss costs no read of the store: the answer is looked up under the version last
        read, and an answer that is not kept under it is built and kept under the version
        its executor reads. Only a found answer waits for the version now (`_current`): it
        is served if kept under that version, else the one kept under it is looked for.
        """
        if key is None or self.answers is None:
            return None
        while True:  # twice at most: the second time under the version now
            try:
                found = self.answers.get(key)
                if found is not None and not isinstance(found, CachedAnswer):
                    found = await found  # kept elsewhere (Redis)
            except CacheUnavailable:
                outcome.cache = CACHE_UNAVAILABLE
                return None
            outcome.cache = CACHE_MISS if found is None else CACHE_HIT
            if found is None or key.current:
                return None if found is None else (found, key)
            now = await self._current(key, deadline)
            if now is None:  # the store cannot say: not served from the cache
                outcome.cache = CACHE_MISS
                return None
            if now.version == key.version:
                return found, now
            key = now

    def _keep(
        self, key: AnswerKey, answer: CachedAnswer, outcome: Outcome
    ) -> Awaitable[None] | None:
        """Keep the answer under `key`, the version it is exact for (`_exact_key`), at once
        or by awaiting what this returns. Its caller keeps only queries' answers (so a kept
        answer may answer a GET as well as a POST)."""
        pending = None if self.answers is None else self.answers.put(key, answer)
        return None if pending is None else self._unless_unavailable(pending, outcome)

    @staticmethod
    async def _unless_unavailable(pending: Awaitable[None], outcome: Outcome) -> None:
        try:
            await pending
        except CacheUnavailable:
            outcome.cache = CACHE_UNAVAILABLE

    def _register(self, params: GraphQLParams, query: str | None) -> None:
        """A valid document sent with its hash is registered for hash-only requests."""
        if params.persisted_hash is not None and self.trusted is None and query is not None:
            self.persisted.put(params.persisted_hash, query)

    @staticmethod
    def _answer(
        answer: CachedAnswer, media_type: str, outcome: Outcome, cache: str | None
    ) -> Response:
        """A successful answer, fresh or kept: the same bytes and headers either way."""
        outcome.operation_name = answer.operation_name
        outcome.cost = answer.cost
        if cache != CACHE_HIT:
            outcome.executor = answer.executor
        executor = _executor_header(answer.executor)  # the executor that built it
        more = (executor,) if cache is None else (executor, _CACHE_HEADERS[cache])
        return bytes_response(answer.body, 200, media_type, outcome.request_id, more)

    _refuse = staticmethod(refuse)

    def _cut_off(
        self, error: ResponseTooLarge, operation: Operation, media_type: str, outcome: Outcome
    ) -> Response:
        """An answer found over the size limit once built: refused as the estimate would
        have refused it, and nothing of it sent."""
        request_id = outcome.request_id
        outcome.refusal = error.code
        logger.warning("request %s: %s", request_id, error.message)
        body = request_errors([GraphQLError(error.message, original_error=error)], request_id)
        body["extensions"] = {"cost": self._cost(operation.estimated)}
        status = 400 if media_type == GRAPHQL_RESPONSE else 200
        return json_response(body, status, media_type, request_id)

    def _cache_headers(self, etag: str) -> dict[str, str]:
        return {"ETag": etag, "Cache-Control": self.cache_control, "Vary": "Accept"}

    def _persisted_query(self, params: GraphQLParams) -> str | None:
        """The document: sent, or persisted under the hash sent alone; None for a hash this
        process does not know (the answer kept under it, here or in Redis, or the client's
        tag, may still answer it: the hash names the document, checked when it was sent)."""
        if self.trusted is not None:
            return self._trusted_query(params)
        if params.query is not None:
            return params.query
        assert params.persisted_hash is not None, "a request without a query has a hash"
        return self.pinned.get(params.persisted_hash) or self.persisted.get(params.persisted_hash)

    def _trusted_query(self, params: GraphQLParams) -> str:
        assert self.trusted is not None
        digest = params.persisted_hash
        if digest is None and params.query is not None:
            digest = sha256_hex(params.query)
        found = None if digest is None else self.trusted.get(digest)
        if found is None:
            raise RequestError(
                400,
                "OPERATION_NOT_TRUSTED",
                "this server runs only the documents of its manifest; send one of them, or "
                "its SHA-256 as extensions.persistedQuery",
            )
        return found

    def _prepare(
        self, request: Request, params: GraphQLParams, query: str, snapshot: StoreSnapshot
    ) -> Operation:
        allowed = GET_OPERATIONS if request.method == "GET" else POST_OPERATIONS
        wanted = OperationRequest(query, params.operation_name, params.variables, allowed)
        try:
            return prepare(self.contract, self.documents, wanted, self.limits, snapshot=snapshot)
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
        self,
        operation: Operation,
        params: GraphQLParams,
        media_type: str,
        request_id: str,
        deadline: float,
    ) -> tuple[dict[str, Any], int, str, int | None]:
        """The response body, its status, the executor that answered it and the data version
        of the one snapshot of the store it was read from (None where it names none: it
        read nothing, or not one snapshot, as after a failed statement).

        One deadline covers the request whichever executor answers. When the compiled
        statement fails, the reference executor answers; if the store was found unavailable,
        its reads fail at once rather than ask the store again.

        An operation that reads only the schema is the reference executor's, and its answer is
        kept when it has no errors (`_schema_key`).
        """
        unavailable = None
        kept = None  # the key an answer that reads only the schema is kept under
        if operation.reads_only_the_schema:
            kept = _schema_key(operation, params, media_type)
            found = None if kept is None else self._schema_answers.get(kept)
            if found is not None:
                return found[0], found[1], "reference", None
        elif self.executor != "reference":
            plan = self.compiled.plan(operation, params.variables)
            if plan is not None:
                answered = await self._run_compiled(plan, operation, request_id, deadline)
                if isinstance(answered, tuple):
                    return answered[0], 200, "compiled", answered[1]
                unavailable = answered
            elif self.executor == "compiled":
                logger.warning(
                    "request %s: not compiled; the reference executor answers", request_id
                )
        try:
            result, fetched, version = await self.reference.run(
                operation, params.variables, request_id, deadline, self._slots, unavailable
            )
        except TimedOut:
            raise self._timed_out(request_id) from None
        cost = self._cost(operation.estimated, fetched)
        body, status = graphql_body(result.data, result.errors or [], cost, request_id, media_type)
        if kept is not None and status == 200 and "errors" not in body:
            self._schema_answers.put(kept, (body, status))
        return body, status, "reference", version

    async def _run_compiled(
        self, plan: Plan, operation: Operation, request_id: str, deadline: float
    ) -> tuple[dict[str, Any], int] | ServiceUnavailable | None:
        """The body and the data version it read; else the reference executor answers after
        all: told the store is unavailable (the error), or as if the compiled statement had
        not run (None)."""
        limit = asyncio.timeout_at(deadline)
        try:
            async with limit, self._slots:
                ran = await self.compiled.run(plan)
        except Exception as error:
            if limit.expired():
                raise self._timed_out(request_id) from None
            # (a TimeoutError of its own is the store's: a connection not made in time)
            unavailable = await self.failures.unavailable(error, deadline)
            if unavailable is None:
                logger.exception("request %s: the compiled statement failed", request_id)
            else:
                unavailable.__cause__ = error  # what the database said, for the outage's line
            return unavailable
        cost = self._cost(operation.estimated, ran.fetched)
        return {"data": ran.data, "extensions": {"cost": cost}}, ran.version

    def _timed_out(self, request_id: str) -> RequestError:
        timeouts.warning("request %s stopped after %s s", request_id, self.execution_timeout)
        return RequestError(
            503,
            "QUERY_TIMEOUT",
            f"The query did not finish within {self.execution_timeout:g} s and was stopped.",
        )


def _failed(request: Request) -> Response:
    """A defect that passed every other handler, answered as a field's is (logged with its
    stack, "Internal server error" and the request's id), not as Starlette's plain-text 500."""
    request_id = outcome_of(request).request_id
    logger.exception("unexpected error (request %s)", request_id)
    message, extensions = masked(request_id)
    body = {"errors": [{"message": message, "extensions": extensions}]}
    media_type = negotiate(listed(request.headers, "accept")) or JSON
    return json_response(body, 500, media_type, request_id)


def _not_found(media_type: str) -> RequestError:
    """A hash sent alone that names no document here: the client sends the document next
    (Apollo's protocol), a request error for the spec."""
    status = 400 if media_type == GRAPHQL_RESPONSE else 200
    return RequestError(status, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")


_CACHE_HEADERS = {
    result: raw_header(CACHE_HEADER, result)
    for result in (CACHE_HIT, CACHE_MISS, CACHE_UNAVAILABLE)
}


def _executor_header(executor: str) -> tuple[bytes, bytes]:
    return raw_header(EXECUTOR_HEADER, executor)


def _schema_key(
    operation: Operation, params: GraphQLParams, media_type: str
) -> tuple[Any, ...] | None:
    """The key an answer of an operation that reads only the schema is kept under; None where
    it is not kept (variables too large to key by). Introspection does not change while the
    process runs, and GraphiQL and code generators ask it again and again (it costs ~25 ms of
    CPU each time)."""
    variables = variables_key(params.variables)
    if variables is None:
        return None
    return operation.query, operation.name, variables, media_type


def _exact_key(key: AnswerKey | None, priced: int, read: int | None) -> AnswerKey | None:
    """The key of an answer just built, under the one data version it is exact for; None
    where there is none, and then it is neither kept nor tagged.

    That version is the one of the snapshot its executor read (`read`; None: it read nothing
    from the store, and holds under whichever version priced it). The answer also shows its
    cost estimate, priced by the list sizes of version `priced`: only where the two agree are
    its bytes what any request under that version gets (a seed may commit between pricing
    and reading: the next request builds it).
    """
    if key is None:
        return None
    version = priced if read is None else read
    if version != priced:
        return None
    return key.at(version)
