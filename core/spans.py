"""Spans where tracing is on, and nothing at all where it is off: with no tracer, a span is a
shared do-nothing context, so untraced requests pay no SDK and no context switching."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import Attributes

NO_SPAN: AbstractContextManager[None] = nullcontext()


def span(
    tracer: Tracer | None,
    name: str,
    attributes: Attributes = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> AbstractContextManager[Span | None]:
    """A child span of the current one named `name`; ended (and an exception recorded) when
    the block exits. None where instrumentation is suppressed, as every instrumentation
    honours it (db/watch.py: the store's version reads, which serve no one request)."""
    if tracer is None or not is_instrumentation_enabled():
        return NO_SPAN
    return tracer.start_as_current_span(name, kind=kind, attributes=attributes)
