"""OpenTelemetry spans: the request's (continuing a W3C traceparent), preparing, executing and
each SQL statement under it, on both stores and both executors (an in-memory exporter); and
a real server exporting them over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from core.config import Settings
from core.logs import OncePerWindow
from server.observe import ACCESS_LOGGER, STATUS_ATTRIBUTES
from server.tracing import EXPORT_AT_EXIT_SECONDS, exporting_provider, shut_down
from tests.conftest import make_client, throwaway_database
from tests.serving import http_server, served, serving
from tests.test_connections import HELD_UP, ask_for_programs, programs_locked, recorded

COMPANY = 'query Company { company(slug: "sony-music") { name programs { totalCount } } }'
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


def recording() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, [span.name for span in spans]
    return found[0]


@pytest.mark.parametrize("executor", ["compiled", "reference"])
async def test_a_request_is_a_trace_of_preparing_executing_and_statements(store, executor, caplog):
    provider, exporter = recording()
    async with make_client(store.engine, provider, executor=executor) as http:
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            response = await http.post(
                "/graphql", json={"query": COMPANY}, headers={"traceparent": TRACEPARENT}
            )
    assert response.status_code == 200
    assert response.headers["x-executor"] == executor
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)]
    (request,) = [span for span in spans if span.kind == SpanKind.SERVER]
    assert parent_of(request) == int(PARENT_ID, 16)  # the caller's trace, continued
    assert request.attributes["graphql.operation.name"] == "Company"
    assert request.attributes["impact_graph.executor"] == executor
    assert request.attributes["impact_graph.request_id"] == response.headers["x-request-id"]
    assert request.attributes["impact_graph.cost"] >= 1
    prepare = only(spans, "prepare")
    execute = only(spans, "execute")
    assert parent_of(prepare) == parent_of(execute) == request.context.span_id
    assert prepare.end_time <= execute.start_time
    statements = [span for span in spans if "db.statement" in span.attributes]
    executed = [span for span in statements if parent_of(span) == execute.context.span_id]
    assert executed, [(span.name, parent_of(span)) for span in spans]
    for span in executed:
        assert span.attributes["db.system"] == store.backend
        assert span.kind == SpanKind.CLIENT
        assert execute.start_time <= span.start_time <= span.end_time <= execute.end_time
    if executor == "compiled":  # the request's one statement, run on the driver
        assert len(executed) == 1
    else:  # the loaders' batches, through SQLAlchemy
        assert len(executed) >= 2
    assert all(parent_of(span) is not None for span in statements)  # none starts a trace
    # not the instrumentation's span for each message sent and received: nothing they say
    messages = [span.name for span in spans if span.name.endswith(("http send", "http receive"))]
    assert messages == []
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [line["trace_id"] for line in lines] == [TRACE_ID]  # the log line finds its trace


async def test_without_traceparent_a_request_starts_its_own_trace(store):
    provider, exporter = recording()
    async with make_client(store.engine, provider) as http:
        first = await http.post("/graphql", json={"query": COMPANY})
        second = await http.post("/graphql", json={"query": COMPANY})
    assert first.status_code == second.status_code == 200
    requests = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert len(requests) == 2
    assert all(span.parent is None for span in requests)
    assert requests[0].context.trace_id != requests[1].context.trace_id


async def test_a_span_is_named_by_its_route_never_by_the_path_sent(store):
    """Names from the routes the metrics label: a path of no route is named by the method
    alone (a client cannot fill a tracing backend with names, or break them over lines)."""
    provider, exporter = recording()
    async with make_client(store.engine, provider) as http:
        await http.post("/graphql", json={"query": COMPANY})
        await http.get("/nowhere/abc%0Adef")
        await http.get("/healthz")
        await http.request("BREW", "/graphql")  # a method of no convention: "HTTP", not "_OTHER"
    requests = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
    names = [span.name for span in requests]
    assert names == ["POST /graphql", "GET", "GET /healthz", "HTTP /graphql"]
    assert "/nowhere/abc\ndef" in requests[1].attributes.values()  # (the path as sent)


async def test_a_trace_not_sampled_is_not_named_in_the_log(store, caplog):
    """A caller's trace it chose not to sample (flags 00): no span is kept, so the log line
    names no trace that no collector will have."""
    provider, exporter = recording()
    unsampled = f"00-{TRACE_ID}-{PARENT_ID}-00"
    async with make_client(store.engine, provider) as http:
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            response = await http.post(
                "/graphql", json={"query": COMPANY}, headers={"traceparent": unsampled}
            )
    assert response.status_code == 200
    assert [
        s for s in exporter.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)
    ] == []
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(lines) == 1
    assert "trace_id" not in lines[0]


async def test_the_store_s_version_reads_are_in_no_trace(store):
    """A version read serves every request waiting for it and none in particular: its
    statements are neither in a request's trace (which may have ended) nor traces of their
    own (one per read, on a primary one every lease)."""
    provider, exporter = recording()
    async with make_client(store.engine, provider, version_leases=False) as http:
        exporter.clear()  # (start-up's own reads, before any request)
        body = {"query": COMPANY}
        for _ in range(5):  # each hit reads the version now
            assert (await http.post("/graphql", json=body)).status_code == 200
    spans = exporter.get_finished_spans()
    statements = [span.attributes.get("db.statement") for span in spans if span.parent is None]
    assert [s for s in statements if s is not None] == [], statements
    assert len([span for span in spans if span.kind == SpanKind.SERVER]) == 5


async def test_untraced_apps_make_no_spans(store, caplog):
    """Tracing off (no provider, no endpoint): no SDK runs and the log line has no trace."""
    async with make_client(store.engine) as http:
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            response = await http.post(
                "/graphql", json={"query": COMPANY}, headers={"traceparent": TRACEPARENT}
            )
    assert response.status_code == 200
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(lines) == 1
    assert "trace_id" not in lines[0]


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver: keeps every export request it is sent."""

    received: list[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Receiving", (Collector,), {"received": received})
    with http_server(handler) as url:
        yield url, received


def exported(received: list[tuple[str, str, bytes]]) -> Iterator[tuple[str, Span]]:
    """Each span a collector received, with its service's name."""
    for path, content_type, body in list(received):
        assert path == "/v1/traces"
        assert content_type == "application/x-protobuf"
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
            service = next(
                (
                    attribute.value.string_value
                    for attribute in resource_spans.resource.attributes
                    if attribute.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    yield service, span


def request_span(
    received: list[tuple[str, str, bytes]], trace_id: str, seconds: float = 20
) -> Span | None:
    """The request span of the trace `trace_id`, once its export is received."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _, span in exported(received):
            if span.trace_id.hex() == trace_id and span.kind == Span.SPAN_KIND_SERVER:
                return span
        time.sleep(0.1)
    return None


def test_a_server_exports_its_spans_over_otlp(collector, tmp_path):
    endpoint, received = collector
    settings = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    with served(tmp_path, settings) as base:
        response = httpx.post(
            f"{base}/graphql",
            json={"query": COMPANY},
            headers={"traceparent": TRACEPARENT},
            timeout=10,
        )
        assert response.status_code == 200
        names: set[str] = set()
        services: set[str] = set()
        deadline = time.monotonic() + 20
        while "execute" not in names and time.monotonic() < deadline:
            time.sleep(0.1)
            for service, span in exported(received):
                services.add(service)
                if span.trace_id.hex() == TRACE_ID:
                    names.add(span.name)
    assert {"prepare", "execute", "POST /graphql"} <= names, names
    assert names & {"SELECT", "WITH"}, names
    assert services == {"impact-graph"}


def test_otel_service_name_names_the_service(monkeypatch):
    """The service is "impact-graph" unless the operator names it (OTEL_SERVICE_NAME, as
    every OpenTelemetry SDK reads it): one deploy's spans told apart from another's."""
    settings = Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "impact-graph-eu")
    named = exporting_provider(settings)
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    unnamed = exporting_provider(settings)
    try:
        assert named is not None
        assert unnamed is not None
        assert named.resource.attributes["service.name"] == "impact-graph-eu"
        assert unnamed.resource.attributes["service.name"] == "impact-graph"
    finally:
        for provider in (named, unnamed):
            if provider is not None:
                shut_down(provider)


@pytest.fixture
def frozen_collector() -> Iterator[str]:
    """A collector that takes connections and never answers them."""
    listening = socket.create_server(("127.0.0.1", 0))
    taken: list[socket.socket] = []

    def take() -> None:
        with contextlib.suppress(OSError):  # (closed at the end)
            while True:
                taken.append(listening.accept()[0])

    threading.Thread(target=take, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    finally:
        listening.close()
        for connection in taken:
            connection.close()


@pytest.mark.parametrize("answering", [True, False], ids=["collector", "frozen collector"])
def test_the_spans_at_exit_hold_the_exit_at_most_their_bound(
    answering, collector, frozen_collector, tmp_path
):
    """Spans still batched at SIGTERM are sent (to a collector that answers) or dropped
    with one warning once EXPORT_AT_EXIT_SECONDS have passed: the exporter's own timeout (10
    s an attempt) would hold the exit past what the shutdown promises."""
    endpoint = collector[0] if answering else frozen_collector
    settings = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "600000"}
    with serving(tmp_path, settings) as server:
        response = httpx.post(f"{server.base}/graphql", json={"query": COMPANY}, timeout=10)
        assert response.status_code == 200
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        took = time.monotonic() - signalled
    log = server.log.read_text()
    dropped = "the spans still batched were not sent" in log
    if answering:  # sent at exit: the batch was not yet due
        assert collector[1], log
        assert not dropped, log
    else:
        assert dropped, log
        # a warning: spans lost are the operator's to hear of at the default level
        said = [line for line in log.splitlines() if "the spans still batched" in line]
        assert [line.split(":")[0] for line in said] == ["WARNING impact_graph.tracing"], log
        assert "Traceback" not in log
    # the 2 s bound, and the wind-down and start-up's share of a slow machine (not 10 s more)
    assert took < EXPORT_AT_EXIT_SECONDS + 5, (took, log)


def test_a_collector_away_is_one_exporter_line_a_minute(tmp_path):
    """The exporter logs each retry and each batch it gives up (four lines every few seconds
    here, in every worker): the first of a minute of each level is let through."""
    with socket.create_server(("127.0.0.1", 0)) as taken:  # a port nothing answers on
        away = f"http://127.0.0.1:{taken.getsockname()[1]}"
    settings = {"OTEL_EXPORTER_OTLP_ENDPOINT": away, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    with serving(tmp_path, settings) as server:
        until = time.monotonic() + 5  # three retries, and a batch given up
        while time.monotonic() < until:
            response = httpx.post(f"{server.base}/graphql", json={"query": COMPANY}, timeout=10)
            assert response.status_code == 200
            time.sleep(0.2)
        lines = [
            line for line in server.log.read_text().splitlines() if "opentelemetry.exporter" in line
        ]
    # a retry's warning, and (on a slow machine) at most one lost batch's error
    assert len([line for line in lines if line.startswith("WARNING")]) == 1, lines
    assert len([line for line in lines if line.startswith("ERROR")]) <= 1, lines
    assert "Traceback" not in server.log.read_text()


def test_once_per_window_says_how_many_it_left_out(caplog):
    said = logging.getLogger("tests.once_per_window")
    window = OncePerWindow(0.3)
    said.addFilter(window)
    try:
        with caplog.at_level(logging.WARNING, logger=said.name):
            for attempt in range(5):
                said.warning("attempt %d failed", attempt)
            said.error("gave up")  # another level: not hidden by the warnings
            said.error("gave up again")
            time.sleep(0.35)
            said.warning("attempt %d failed", 5)
    finally:
        said.removeFilter(window)
    assert [record.getMessage() for record in caplog.records] == [
        "attempt 0 failed",
        "gave up",
        "attempt 5 failed (4 more such line(s) left out since)",
    ]


@pytest.mark.postgres
async def test_a_client_gone_before_its_answer_is_499_on_its_span_as_in_its_record(
    collector, tmp_path
):
    """The app's 200 reached no one (tests/test_connections.py): the request's span says 499
    and CLIENT_CLOSED_REQUEST, as its access line does, not the status no client got."""
    endpoint, received = collector
    settings = {**HELD_UP, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    async with throwaway_database() as url:
        with serving(tmp_path, {**settings, "DATABASE_URL": url}) as server:
            async with programs_locked(url):
                with ask_for_programs(server, "Left") as connection:
                    await asyncio.sleep(0.3)
                    connection.close()
                await asyncio.sleep(0.3)  # gone well before the query may run
            line = await asyncio.to_thread(recorded, server, "Left")

            span = await asyncio.to_thread(request_span, received, line["trace_id"])
    assert (line["status"], line["refusal"]) == (499, "CLIENT_CLOSED_REQUEST"), line
    assert span is not None
    said = {attribute.key: attribute.value for attribute in span.attributes}
    statuses = {key: said[key].int_value for key in STATUS_ATTRIBUTES if key in said}
    assert statuses, said
    assert set(statuses.values()) == {499}, statuses
    assert said["impact_graph.refusal"].string_value == "CLIENT_CLOSED_REQUEST"


def test_trace_headers_a_client_gets_wrong_are_a_line_a_minute_not_one_a_request(
    collector, tmp_path
):
    """The API logs each `traceparent`, `tracestate` and `baggage` it refuses: any client
    could write a warning a request through them, the access log off or not."""
    settings = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector[0],
        "IMPACT_GRAPH_LOG_LEVEL": "warning",  # access lines off
    }
    wrong = [
        {"traceparent": "00-" + "a" * 600},
        {"traceparent": TRACEPARENT, "tracestate": ",".join(f"k{i}=v" for i in range(40))},
        {"baggage": ",".join(f"k{i}=v" for i in range(200))},
    ]
    with serving(tmp_path, settings) as server:
        for _ in range(10):
            for headers in wrong:
                response = httpx.get(f"{server.base}/healthz", headers=headers, timeout=10)
                assert response.status_code == 200
        log = server.log.read_text()
    lines = [line for line in log.splitlines() if line.startswith("WARNING opentelemetry")]
    by_logger = Counter(line.split(":")[0] for line in lines)
    assert set(by_logger) == {
        "WARNING opentelemetry.trace.propagation.tracecontext",
        "WARNING opentelemetry.trace.span",
        "WARNING opentelemetry.baggage.propagation",
    }, lines
    assert set(by_logger.values()) == {1}, by_logger
