"""OpenTelemetry traces: a span for each HTTP request (continuing the W3C `traceparent` a
client or proxy sent), for preparing and executing its operation, and for each SQL statement.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set (or a test passes its own provider): then no
middleware, instrumentation or SDK runs at all. When on, spans are batched and sent over
OTLP/HTTP; the exporter reads the standard `OTEL_EXPORTER_OTLP_*` variables itself.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer
from opentelemetry.util.http import sanitize_method
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware

from core.config import Settings
from core.logs import once_a_window
from server.metrics import OTHER, path_label

logger = logging.getLogger("impact_graph.tracing")

SERVICE_NAME = "impact-graph"  # unless OTEL_SERVICE_NAME names it otherwise
# At exit, how long the spans still batched have to reach the collector. The exporter's own
# bound is per attempt (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s): a collector that takes connections
# and never answers would hold the exit that long, past what the shutdown promises.
EXPORT_AT_EXIT_SECONDS = 2.0
# While the collector is away the exporter logs each retry and each batch given up (four
# lines every few seconds, in every worker): a warning and an error a minute say it as well.
EXPORTER_LOG_SECONDS = 60.0
# The API's loggers that write a line for each request whose trace headers they refuse (a
# `traceparent` over 512 characters, a `tracestate` of over 32 pairs, a `baggage` entry out of
# form): any client could write them at its own pace, the access log off or not. A line a
# minute of each says it as well.
CLIENT_HEADER_LOGGERS = (
    "opentelemetry.trace.propagation.tracecontext",
    "opentelemetry.trace.span",
    "opentelemetry.baggage.propagation",
)


def exporting_provider(settings: Settings) -> TracerProvider | None:
    """Spans batched to the OTLP endpoint configured, or None where none is."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    once_a_window(OTLPSpanExporter.__module__, EXPORTER_LOG_SECONDS)  # the exporter's own
    return provider


def shut_down(provider: TracerProvider, seconds: float = EXPORT_AT_EXIT_SECONDS) -> None:
    """Send what is still batched and stop, within `seconds`: the SDK's shutdown takes no
    bound, so it runs on a daemon thread the exit does not wait for (the spans it still holds
    then are dropped, with one warning)."""
    ending = threading.Thread(target=provider.shutdown, name="spans-at-exit", daemon=True)
    ending.start()
    ending.join(seconds)
    if ending.is_alive():
        logger.warning(
            "the spans still batched were not sent within %g s (is the collector answering?); "
            "they are dropped",
            seconds,
        )


def tracer(provider: TracerProvider) -> Tracer:
    return provider.get_tracer("impact_graph", version("impact-graph"))


def span_name(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A request span's name: its method and route, as the metrics label paths (the
    instrumentation's own takes the path as sent: any client could fill a tracing backend with
    names of its choosing, line breaks and all). A path of no route is named by its method
    alone, as OpenTelemetry's conventions name a request with no route; the path as sent is
    still the span's `url.path`."""
    method = sanitize_method(scope.get("method", "").strip())
    method = "HTTP" if method == "_OTHER" else method
    route = path_label(scope.get("path", ""))
    return (method if route == OTHER else f"{method} {route}"), {}


def request_spans(provider: TracerProvider) -> Middleware:
    """The request's span, outermost, so that everything else happens inside it. The ASGI
    instrumentation's spans for each message sent and received are left out: they say
    nothing a request span does not, and cost as much."""
    for name in CLIENT_HEADER_LOGGERS:  # the headers are read from here on
        once_a_window(name, EXPORTER_LOG_SECONDS)
    return Middleware(
        OpenTelemetryMiddleware,
        tracer_provider=provider,
        exclude_spans=["receive", "send"],
        default_span_details=span_name,
    )


def trace_statements(engine: AsyncEngine, provider: TracerProvider) -> Callable[[], None]:
    """A span for each statement SQLAlchemy runs on `engine` (the reference executor's, the
    store's state); returns what stops it. Its declared range stops below SQLAlchemy 2.1,
    which it serves as well (tests/test_tracing.py checks its spans on both stores): the
    check of that range is skipped. One engine per process is traced at a time (the
    instrumentor is one per process)."""
    instrumentor = SQLAlchemyInstrumentor()
    instrumentor.instrument(
        engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )

    def stop() -> None:
        instrumentor.uninstrument()

    return stop
