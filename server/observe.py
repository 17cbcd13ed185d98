"""What operators see of each request: its id, chosen as it arrives; once answered, its line
in the access log, its figures in the metrics and its facts on the trace's request span.

A plain ASGI middleware (no Starlette request objects): it runs on every request, and costs
a few microseconds of one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOG_LEVELS

from core.config import Settings
from server.metrics import (
    OperationNames,
    Recorder,
    metrics_endpoint,
    multiprocess,
    path_label,
    waiting_for_pool,
    watch_pool,
)
from server.outcome import CLIENT_LEFT, Outcome, left_early, outcome_in
from server.reading import CLIENT_CLOSED_REQUEST
from server.request_id import header_name
from server.responses import REQUEST_ID_NAME
from server.shutdown import cut_off, cut_off_by_the_grace
from server.tracing import (
    exporting_provider,
    request_spans,
    shut_down,
    trace_statements,
    tracer,
)

ACCESS_LOGGER = "impact_graph.access"
access = logging.getLogger(ACCESS_LOGGER)
MAX_LOGGED_PATH = 200


class Observer:
    """Each request's record from arrival to answer: what the middleware below does for every
    request, and server/posts.py for the POSTs it answers before it."""

    def __init__(
        self, names: OperationNames, trusted_header: str | None = None, traced: bool = False
    ) -> None:
        self.metrics = Recorder(names, deferred=not multiprocess())
        self.trusted = header_name(trusted_header)
        self.traced = traced

    def begin(self, scope: Scope) -> Outcome:
        """The request's record, with its id and arrival time, in its state (where one was
        begun already, that one: the hits looked the request up first)."""
        return outcome_in(scope.setdefault("state", {}), scope["headers"], self.trusted)

    def finish(
        self, scope: Scope, status: int, outcome: Outcome, trace_id: str | None = None
    ) -> None:
        """The answered request in the metrics and the access log; as a client gone (499)
        where the edge says its client left before the answer's head was written (uvicorn
        then drops the answer without a word)."""
        seconds = time.perf_counter() - outcome.arrived
        if CLIENT_LEFT in scope["state"]:
            status = left_early(outcome)
        path: str = scope["path"]
        self.metrics.record(path_label(path), status, seconds, outcome)
        if access.isEnabledFor(logging.INFO):
            line = log_line(scope["method"], path, status, seconds, outcome, trace_id)
            # what `access.info` does, less looking up the caller's frame (no format
            # shows it): a third of the line's cost
            access.handle(access.makeRecord(ACCESS_LOGGER, logging.INFO, "", 0, line, (), None))


def with_request_id(headers: list[tuple[bytes, bytes]], outcome: Outcome) -> bool:
    """The request's id added to a response's headers that lack it; whether it was."""
    if any(name.lower() == REQUEST_ID_NAME for name, _ in headers):
        return False
    headers.append((REQUEST_ID_NAME, outcome.request_id.encode("ascii")))
    return True


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, *, observer: Observer) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        outcome = self.observer.begin(scope)
        traced = self.observer.traced
        status = 500  # what the server answers if the app fails before it responds
        trace_id = None
        started = False

        async def sending(message: Message) -> None:
            nonlocal status, trace_id, started
            gone = False
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                if traced:  # now: the request's span ends with its response
                    gone = CLIENT_LEFT in scope["state"]
                    if gone:
                        left_early(outcome)  # its refusal, on the span too
                    trace_id = describe_span(outcome)
                headers = list(message.get("headers", ()))
                if with_request_id(headers, outcome):
                    message = {**message, "headers": headers}
            try:
                await send(message)
            finally:
                if gone:  # the span says what the record says, not the status no one got
                    span_status(CLIENT_CLOSED_REQUEST)

        try:
            await self.app(scope, receive, sending)
        except asyncio.CancelledError as error:
            if started or not cut_off_by_the_grace(error):
                raise
            await cut_off(outcome)(scope, receive, sending)
        finally:
            self.observer.finish(scope, status, outcome, trace_id)


def describe_span(outcome: Outcome) -> str | None:
    """The request's facts on its span (the ASGI instrumentation's, current while the
    request is answered); its trace id, for the log line (None: a path it leaves out, or a
    trace not sampled, which no collector will have)."""
    current = trace.get_current_span()
    attributes: dict[str, Any] = {
        "impact_graph.request_id": outcome.request_id,
        "graphql.operation.name": outcome.operation_name,
        "impact_graph.executor": outcome.executor,
        "impact_graph.cost": outcome.cost,
        "impact_graph.cache": outcome.cache,
        "impact_graph.refusal": outcome.refusal,
        "impact_graph.error": outcome.error,
    }
    current.set_attributes({k: v for k, v in attributes.items() if v is not None})
    context = current.get_span_context()
    return format(context.trace_id, "032x") if context.trace_flags.sampled else None


# The span's status attributes, as the ASGI instrumentation sets them (the old conventions',
# the stable ones', or both: OTEL_SEMCONV_STABILITY_OPT_IN).
STATUS_ATTRIBUTES = ("http.status_code", "http.response.status_code")


def span_status(status: int) -> None:
    """The request span's status set to `status`, in the attributes its instrumentation set
    (once the response's start has passed it). An `error.type` it set for a 5xx the app
    answered stays: the app did fail, whoever was left to hear it."""
    current = trace.get_current_span()
    if isinstance(current, ReadableSpan) and current.attributes is not None:
        said = current.attributes
        current.set_attributes({key: status for key in STATUS_ATTRIBUTES if key in said})


def log_line(
    method: str,
    path: str,
    status: int,
    seconds: float,
    outcome: Outcome,
    trace_id: str | None = None,
) -> str:
    """One JSON object on one line (JSON escapes every control character)."""
    line: dict[str, Any] = {
        "time": round(time.time(), 3),
        "request_id": outcome.request_id,
        "request_id_from": outcome.request_id_from,
        "method": method,
        "path": path[:MAX_LOGGED_PATH],
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "operation": outcome.operation_name,
        "executor": outcome.executor,
        "cost": outcome.cost,
        "cache": outcome.cache,
        "refusal": outcome.refusal,
        "error": outcome.error,
    }
    if trace_id is not None:
        line["trace_id"] = trace_id
    return orjson.dumps(line).decode()


def configure_access_log(level: str) -> None:
    """`impact-graph serve`: each access line alone on its line of stderr, at `level` (the
    lines are INFO: "warning" and above turn them off), not in the other logs' format; at
    "debug" or "trace", our own loggers' debug lines too (the edge's refusals), which the
    process's INFO level leaves out otherwise."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.handlers[:] = [handler]
    access.propagate = False
    access.setLevel(LOG_LEVELS[level])  # uvicorn's, "trace" included
    debugging = LOG_LEVELS[level] <= logging.DEBUG
    logging.getLogger("impact_graph").setLevel(logging.DEBUG if debugging else logging.NOTSET)


class Observability:
    """Everything operators see, for `create_app`: the middleware, `/metrics`, the pool's
    figures and the spans; `close` when the app stops. `provider`: the tracer provider a test
    passes; else one exporting over OTLP where configured, else no tracing at all."""

    def __init__(
        self, settings: Settings, engine: AsyncEngine, provider: TracerProvider | None = None
    ) -> None:
        self.settings = settings
        self._owned = provider is None
        self.provider = exporting_provider(settings) if provider is None else provider
        self.tracer = None if self.provider is None else tracer(self.provider)
        capacity = settings.db_pool_size + settings.db_max_overflow
        self._stops = [watch_pool(engine, capacity)]
        if self.provider is not None:
            self._stops.append(trace_statements(engine, self.provider))
        self.waiting = waiting_for_pool
        self.observer = Observer(
            OperationNames(settings.metrics_operations, settings.metrics_operation_names),
            settings.request_id_header,
            traced=self.provider is not None,
        )

    def middleware(self) -> list[Middleware]:
        """Outermost first: the request's span, then the id, log line and metrics."""
        observe = Middleware(ObserveMiddleware, observer=self.observer)
        return [request_spans(self.provider), observe] if self.provider is not None else [observe]

    def routes(self) -> list[Route]:
        if not self.settings.metrics:
            return []
        token = self.settings.metrics_token
        secret = None if token is None else token.get_secret_value()
        scrape = metrics_endpoint(self.observer.metrics, secret)
        return [Route("/metrics", scrape, methods=["GET"])]

    def close(self) -> None:
        self.observer.metrics.flush()
        for stop in self._stops:
            stop()
        if self._owned and self.provider is not None:
            shut_down(self.provider)  # what is still batched is sent first, in a bound
