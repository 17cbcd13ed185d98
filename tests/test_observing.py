"""What operators see of a real `impact-graph serve`: `/metrics` after requests, one JSON log
line per request on its stderr, request ids (a trusted proxy's header only when configured),
and metrics summed over processes that share PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from core.config import Settings
from db.engine import PoolOptions, create_engine, session_factory
from db.raw import SqlText, Statements
from loaders.reader import Reader
from server import app as app_module
from server import metrics
from server.metrics import MAX_LABELLED_NAME, OperationNames, Recorder, watch_pool
from server.observe import ACCESS_LOGGER
from server.outcome import Outcome
from tests.conftest import REFUSED_DATABASE_URL, make_client
from tests.serving import served

COMPANY = 'query Company { company(slug: "sony-music") { name } }'
PROGRAMS = "query Programs { programs { totalCount } }"
TYPENAME = "query Typename { __typename }"  # answered from the schema: the reference executor
# a field's arguments refused as it runs: its list null, the answer a 200 with an error
WIDE = 'query Wide { company(slug: "sony-music") { programs(first: 101) { totalCount } } }'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server with default settings, logging at info; its base URL and its log."""
    directory = tmp_path_factory.mktemp("observed")
    # every request executes (the response cache off): each is counted by its executor
    settings = {"IMPACT_GRAPH_LOG_LEVEL": "info", "IMPACT_GRAPH_CACHE": "false"}
    with served(directory, settings) as base:
        yield base, directory / "served.log"


def post(base: str, query: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{base}/graphql", json={"query": query}, headers=headers, timeout=10)


def scrape(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, by name and labels."""
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return scrape_text(response.text)


def scrape_text(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(path: str, operation: str, status: str, executor: str) -> dict[str, str]:
    return {"path": path, "operation": operation, "status": status, "executor": executor}


def log_lines(log: Path, request_id: str) -> list[dict[str, Any]]:
    """The access lines of one request, waiting a little: a line is written once its
    response is sent."""
    deadline = time.monotonic() + 5
    while True:
        lines = [
            json.loads(line)
            for line in log.read_text().splitlines()
            if line.startswith("{") and request_id in line
        ]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_metrics_count_requests_by_operation_status_and_executor(server):
    base, _ = server
    before = scrape(base)
    for _ in range(3):
        assert post(base, COMPANY).status_code == 200
    assert post(base, TYPENAME).json() == {
        "data": {"__typename": "Query"},
        "extensions": {"cost": {"estimated": 0, "budget": 25000, "actual": 0}},
    }
    assert post(base, "{ nope }").status_code == 200  # a validation error, refused
    assert post(base, WIDE).json()["data"] == {"company": {"programs": None}}  # a field's error
    assert httpx.get(f"{base}/no/such/path/{'x' * 50}").status_code == 404
    named = ("/healthz", "/readyz", "/graphql/schema.graphql", "/")
    for path in named:
        assert httpx.get(f"{base}{path}", timeout=10).status_code == 200, path
    after = scrape(base)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total = "impact_graph_requests_total"
    assert moved(total, **requests("/graphql", "Company", "200", "compiled")) == 3
    assert moved(total, **requests("/graphql", "Typename", "200", "reference")) == 1
    assert moved(total, **requests("/graphql", "", "200", "")) == 1  # refused: no operation
    assert moved(total, **requests("other", "", "404", "")) == 1  # unknown paths: one label
    for path in named:  # the probes, the schema and the explorer: each labelled by its path
        assert moved(total, **requests(path, "", "200", "")) == 1, path
    assert moved("impact_graph_refusals_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    # executed with errors: a 200 that is not a success, counted (it was invisible here)
    assert moved(total, **requests("/graphql", "Wide", "200", "reference")) == 1
    assert moved("impact_graph_answer_errors_total", code="BAD_USER_INPUT") == 1
    assert moved("impact_graph_refusals_total", code="BAD_USER_INPUT") == 0
    latency = "impact_graph_request_duration_seconds"
    labels = {"path": "/graphql", "operation": "Company", "executor": "compiled"}
    assert moved(f"{latency}_count", **labels) == 3
    assert moved(f"{latency}_bucket", **labels, le="+Inf") == 3
    # buckets from 0.1 ms: a cached answer takes well under 1 ms, one bucket below it
    bounds = {dict(found)["le"] for name, found in after if name == f"{latency}_bucket"} - {"+Inf"}
    assert min(map(float, bounds)) == 0.0001
    assert 0 < moved(f"{latency}_sum", **labels) < 30
    # the pool: 10 and 5 by default; nothing waits; what is in use is within the bounds
    assert value(after, "impact_graph_db_pool_capacity") == 15
    assert value(after, "impact_graph_db_pool_waiting") == 0
    assert 0 <= value(after, "impact_graph_db_pool_in_use") <= 15
    # no path a client makes up becomes a label
    assert not any("/no/such" in str(labels) for _, labels in after)


def test_metrics_count_cache_lookups_by_result():
    """What the response cache records in a request's outcome (server/outcome.py `cache`)
    is counted by result. Nothing sets it yet on this branch: the record is fed directly."""
    recorder = Recorder(OperationNames(10))

    def count(result: str) -> float:
        return REGISTRY.get_sample_value("impact_graph_cache_lookups_total", {"result": result})

    before = {result: count(result) or 0 for result in ("hit", "miss")}
    recorder.record("/graphql", 200, 0.001, Outcome("a", operation_name="Q", cache="hit"))
    recorder.record("/graphql", 200, 0.001, Outcome("b", operation_name="Q", cache="miss"))
    recorder.record("/graphql", 200, 0.001, Outcome("c", operation_name="Q", cache="hit"))
    after = {result: count(result) or 0 for result in ("hit", "miss")}
    assert after["hit"] - before["hit"] == 2
    assert after["miss"] - before["miss"] == 1


def test_in_one_process_requests_are_counted_by_the_scrape(monkeypatch):
    """Deferred (no PROMETHEUS_MULTIPROC_DIR): noted requests count once flushed, as every
    scrape does first, and never more than MAX_PENDING wait."""
    monkeypatch.setattr(metrics, "MAX_PENDING", 5)
    recorder = Recorder(OperationNames(10), deferred=True)

    def hits() -> float:
        return REGISTRY.get_sample_value("impact_graph_cache_lookups_total", {"result": "hit"}) or 0

    before = hits()
    for n in range(4):
        recorder.record("/graphql", 200, 0.001, Outcome(f"d{n}", operation_name="D", cache="hit"))
    assert hits() == before  # noted, not yet counted
    recorder.flush()
    assert hits() == before + 4
    for n in range(5):
        recorder.record("/graphql", 200, 0.001, Outcome(f"e{n}", operation_name="D", cache="hit"))
    assert hits() == before + 9  # the fifth waiting one counted them all


def test_operation_names_beyond_the_bound_are_other():
    names = OperationNames(2)
    long = "L" * (MAX_LABELLED_NAME + 1)  # (neither labelled nor taking a place)
    assert [names.label(n) for n in ("A", long, "B", "A", "C", None, "B", "D")] == [
        "A",
        "other",
        "B",
        "A",
        "other",
        "",
        "B",
        "other",
    ]
    assert OperationNames(2).label("L" * MAX_LABELLED_NAME) == "L" * MAX_LABELLED_NAME


async def test_only_the_operation_names_the_operator_lists_are_labelled(store):
    """First come, a client's made-up names took every place before the apps' own were
    seen (or deployed), until a restart: listed, only theirs are labelled."""
    ours, made_up = f"Dashboard{uuid.uuid4().hex[:8]}", f"Made{uuid.uuid4().hex[:8]}"
    async with make_client(store.engine, metrics_operation_names=[ours]) as http:
        for n in range(3):
            query = f"query {made_up}{n} {{ __typename }}"
            assert (await http.post("/graphql", json={"query": query})).status_code == 200
        named = await http.post("/graphql", json={"query": f"query {ours} {{ __typename }}"})
        assert named.status_code == 200
        scraped = (await http.get("/metrics")).text
    assert f'operation="{ours}"' in scraped
    assert made_up not in scraped


def test_a_list_of_operation_names_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("IMPACT_GRAPH_METRICS_OPERATION_NAMES", "Traversal, Search,")
    assert Settings().metrics_operation_names == ["Traversal", "Search"]
    names = OperationNames(2, Settings().metrics_operation_names)
    assert [names.label(n) for n in ("A", "B", "Search", "Traversal")] == [
        "other",
        "other",
        "Search",
        "Traversal",
    ]


def test_one_json_log_line_per_request(server):
    base, log = server
    answered = post(base, COMPANY)
    refused = post(base, "{ nope }")
    partial = post(base, WIDE)
    variables = httpx.post(  # refused before it ran: a request error, not an answer's
        f"{base}/graphql",
        json={"query": "query V($n: Int!) { programs(first: $n) { totalCount } }", "variables": {}},
    )
    unknown = httpx.post(  # a persisted query's hash this server does not know
        f"{base}/graphql",
        json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
    )
    health = httpx.get(f"{base}/healthz")
    long_path = httpx.get(f"{base}/{'x' * 5_000}")  # a 404: its path cut to 200 characters
    lines = {}
    for response in (answered, refused, partial, variables, unknown, health, long_path):
        request_id = response.headers["x-request-id"]
        found = log_lines(log, request_id)
        assert len(found) == 1, found
        lines[request_id] = found[0]
    answer = lines[answered.headers["x-request-id"]]
    assert answer.keys() >= {"time", "request_id", "status", "duration_ms", "cost", "cache"}
    assert answer["method"] == "POST"
    assert answer["path"] == "/graphql"
    assert answer["status"] == 200
    assert answer["operation"] == "Company"
    assert answer["executor"] == "compiled"
    assert answer["cost"] == 1
    assert answer["refusal"] is None
    assert answer["error"] is None
    assert answer["request_id_from"] == "server"
    assert 0 < answer["duration_ms"] < 30_000
    refusal = lines[refused.headers["x-request-id"]]
    assert refusal["refusal"] == "GRAPHQL_VALIDATION_FAILED"
    assert refusal["executor"] is None
    assert refusal["error"] is None
    with_errors = lines[partial.headers["x-request-id"]]
    assert (with_errors["status"], with_errors["refusal"]) == (200, None)
    assert (with_errors["error"], with_errors["operation"]) == ("BAD_USER_INPUT", "Wide")
    not_run = lines[variables.headers["x-request-id"]]
    assert "data" not in variables.json()
    assert (not_run["refusal"], not_run["error"]) == ("BAD_USER_INPUT", None)
    not_found = lines[unknown.headers["x-request-id"]]
    assert (not_found["refusal"], not_found["cache"]) == ("PERSISTED_QUERY_NOT_FOUND", None)
    assert lines[health.headers["x-request-id"]]["path"] == "/healthz"
    assert lines[long_path.headers["x-request-id"]]["path"] == "/" + "x" * 199


def test_a_revalidated_answer_is_logged_under_its_operation(server):
    """A 304 names the operation the client named (the tag's key holds the name): it was
    logged and counted as an anonymous request."""
    base, log = server
    params = {"query": COMPANY, "operationName": "Company"}
    first = httpx.get(f"{base}/graphql", params=params)
    again = httpx.get(
        f"{base}/graphql", params=params, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    [line] = log_lines(log, again.headers["x-request-id"])
    assert (line["status"], line["operation"]) == (304, "Company")


def test_a_clients_request_id_is_not_trusted_by_default(server):
    base, log = server
    response = post(base, "query Broken { nope }", headers={"X-Request-ID": "client-chosen"})
    request_id = response.headers["x-request-id"]
    assert request_id != "client-chosen"
    assert log_lines(log, "client-chosen") == []
    assert log_lines(log, request_id)[0]["request_id_from"] == "server"


def test_kept_answers_are_logged_and_counted_like_the_rest(tmp_path):
    """A hit served before routing (server/posts.py) gets its id (a trusted proxy's too), its
    log line and its metrics from the same record as every other request."""
    settings = {"IMPACT_GRAPH_LOG_LEVEL": "info", "IMPACT_GRAPH_REQUEST_ID_HEADER": "X-Request-ID"}
    with served(tmp_path, settings) as base:
        assert post(base, PROGRAMS).headers["x-cache"] == "miss"
        before = scrape(base)
        hits = [post(base, PROGRAMS, headers={"X-Request-ID": f"hit-{n}"}) for n in range(3)]
        after = scrape(base)
        assert [hit.headers["x-cache"] for hit in hits] == ["hit"] * 3
        assert [hit.headers["x-request-id"] for hit in hits] == ["hit-0", "hit-1", "hit-2"]

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        # a hit ran no executor: counted under none
        assert (
            moved("impact_graph_requests_total", **requests("/graphql", "Programs", "200", "")) == 3
        )
        assert moved("impact_graph_cache_lookups_total", result="hit") == 3
        labels = {"path": "/graphql", "operation": "Programs", "executor": ""}
        assert moved("impact_graph_request_duration_seconds_count", **labels) == 3
        (line,) = log_lines(tmp_path / "served.log", "hit-1")
        assert line["request_id_from"] == "proxy"
        assert (line["status"], line["cache"], line["operation"]) == (200, "hit", "Programs")
        assert line["cost"] == hits[1].json()["extensions"]["cost"]["actual"]
        assert 0 < line["duration_ms"] < 30_000


async def test_of_two_trusted_headers_the_last_is_the_id(store):
    """A proxy that appends its header (HAProxy's `add-header`) rather than replacing it puts
    its own after the client's: the client must not pick the id."""
    headers = [("X-Request-ID", "from-client"), ("X-Request-ID", "from-proxy")]
    unsafe = [("X-Request-ID", "from-client"), ("X-Request-ID", "not safe")]
    async with make_client(store.engine, request_id_header="X-Request-ID") as http:
        answer = await http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        # the proxy's own unsafe: a new id, never the client's before it
        renamed = await http.post("/graphql", json={"query": "{ __typename }"}, headers=unsafe)
    assert answer.headers["x-request-id"] == "from-proxy"
    assert re.fullmatch("[0-9a-f]{32}", renamed.headers["x-request-id"])


async def test_a_hit_served_before_routing_has_the_same_record(store, early_hits, caplog):
    """The same, in process, where it can be seen that the hits (server/posts.py) answered: its
    id, log line and metrics are recorded there, by the Observer every request goes through."""
    query = "query EarlyHit { programs(first: 2) { totalCount } }"
    async with make_client(store.engine, request_id_header="X-Request-ID") as http:
        assert (await http.post("/graphql", json={"query": query})).headers["x-cache"] == "miss"
        before = scrape_text((await http.get("/metrics")).text)
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            hit = await http.post(
                "/graphql", json={"query": query}, headers={"X-Request-ID": "early-1"}
            )
        after = scrape_text((await http.get("/metrics")).text)
    assert early_hits.count == 1
    assert (hit.headers["x-cache"], hit.headers["x-request-id"]) == ("hit", "early-1")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [(line["request_id"], line["request_id_from"]) for line in lines] == [
        ("early-1", "proxy")
    ]
    assert (lines[0]["status"], lines[0]["cache"], lines[0]["operation"]) == (
        200,
        "hit",
        "EarlyHit",
    )
    total = "impact_graph_requests_total"
    labels = requests("/graphql", "EarlyHit", "200", "")
    assert value(after, total, **labels) - value(before, total, **labels) == 1
    hits = "impact_graph_cache_lookups_total"
    assert value(after, hits, result="hit") - value(before, hits, result="hit") == 1


@pytest.fixture(scope="module")
def shared_metrics(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, Path, Path]]:
    """Two servers writing their metrics to one PROMETHEUS_MULTIPROC_DIR (as the workers of
    one `serve --workers` do), trusting X-Request-ID and labelling two operation names."""
    metrics_dir = tmp_path_factory.mktemp("prometheus")
    settings = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "IMPACT_GRAPH_REQUEST_ID_HEADER": "X-Request-ID",
        "IMPACT_GRAPH_METRICS_OPERATIONS": "2",
        "IMPACT_GRAPH_LOG_LEVEL": "info",
        "IMPACT_GRAPH_CACHE": "false",  # every request executes: counted by its executor
    }
    first_dir = tmp_path_factory.mktemp("first")
    second_dir = tmp_path_factory.mktemp("second")
    with served(first_dir, settings) as first, served(second_dir, settings) as second:
        yield first, second, first_dir / "served.log", metrics_dir


def test_metrics_add_up_over_processes_sharing_a_directory(shared_metrics):
    first, second, _, metrics_dir = shared_metrics
    before = scrape(second)
    for _ in range(4):
        assert post(first, COMPANY).status_code == 200
    assert post(second, COMPANY).status_code == 200
    after = scrape(second)  # one process's scrape shows both
    labels = requests("/graphql", "Company", "200", "compiled")
    total = "impact_graph_requests_total"
    assert value(after, total, **labels) - value(before, total, **labels) == 5
    assert value(after, "impact_graph_db_pool_capacity") == 30  # both pools
    assert any(metrics_dir.iterdir())  # the values live in the shared files
    assert value(scrape(first), total, **labels) == value(after, total, **labels)


def test_a_workers_file_not_yet_sized_fails_no_scrape(shared_metrics):
    """A worker creates its file, then sizes it: a scrape between the two (a worker starting),
    or after a worker killed between them, sums the others and leaves it out."""
    first, _, _, metrics_dir = shared_metrics
    before = scrape(first)
    empty = metrics_dir / "counter_4194303.db"  # (no process has that pid: above pid_max)
    empty.touch()
    try:
        after = scrape(first)
    finally:
        empty.unlink()
    total = "impact_graph_requests_total"
    labels = requests("/metrics", "", "200", "")
    assert value(after, total, **labels) == value(before, total, **labels) + 1


def test_a_process_that_stops_leaves_the_pool_gauges(tmp_path):
    """Gauges sum over live processes: one that stops takes its pool out of the sums."""
    settings = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")}
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with served(tmp_path / "first", settings) as first:
        with served(tmp_path / "second", settings):
            assert value(scrape(first), "impact_graph_db_pool_capacity") == 30
        assert value(scrape(first), "impact_graph_db_pool_capacity") == 15


def test_operation_names_are_bounded(shared_metrics):
    first, _, _, _ = shared_metrics
    names = [f"Op{n}" for n in range(4)]
    for name in names:
        assert post(first, f"query {name} {{ __typename }}").status_code == 200
    samples = scrape(first)
    labelled = {
        dict(labels)["operation"]
        for name, labels in samples
        if name == "impact_graph_requests_total" and dict(labels)["path"] == "/graphql"
    }
    assert "other" in labelled
    assert len(labelled - {"", "other"}) <= 2 * 2  # two names in each of the two processes


def test_a_trusted_proxys_request_id_is_used_when_safe(shared_metrics):
    first, _, log, _ = shared_metrics
    chosen = "proxy-7f3a:01"
    response = post(first, "query Broken { nope }", headers={"X-Request-ID": chosen})
    assert response.headers["x-request-id"] == chosen
    line = log_lines(log, chosen)
    assert len(line) == 1
    assert line[0]["request_id_from"] == "proxy"
    for unsafe in ("x" * 129, "two words", 'quote"d', "<script>", ""):
        response = post(first, COMPANY, headers={"X-Request-ID": unsafe})
        request_id = response.headers["x-request-id"]
        assert request_id != unsafe
        assert len(request_id) == 32  # a new one
        assert log_lines(log, request_id)[0]["request_id_from"] == "server"
    healthz = httpx.get(f"{first}/healthz", headers={"X-Request-ID": chosen + "-2"})
    assert healthz.headers["x-request-id"] == chosen + "-2"  # every response carries it


def refused_below_the_app(base: str, request: bytes) -> tuple[int, str]:
    """What the edge answers `request` with (its status, its X-Request-ID): it closes after."""
    url = httpx.URL(base)
    with socket.create_connection((url.host, url.port), timeout=5) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    [request_id] = [
        line.split(":", 1)[1].strip() for line in head if line.startswith("x-request-id:")
    ]
    return int(head[0].split()[1]), request_id


def test_the_edges_refusals_are_counted_over_processes_under_a_trusted_id(shared_metrics):
    """Refused below the app (an unknown method, a framing fault): counted at once, in the
    shared files, so the other process's scrape shows them; the 400, whose head was read,
    carries the id the trusted proxy sent; the 405, refused at its method, a new one."""
    first, second, _, _ = shared_metrics
    before = scrape(second)
    chosen = "proxy-edge:02"
    assert refused_below_the_app(first, b"BREW /graphql HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 405
    status, request_id = refused_below_the_app(
        first,
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + chosen.encode() + b"\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    assert (status, request_id) == (400, chosen)
    after = scrape(second)
    for code in ("METHOD_NOT_ALLOWED", "BAD_REQUEST"):
        name = "impact_graph_refusals_total"
        assert value(after, name, code=code) - value(before, name, code=code) == 1


@pytest.mark.parametrize("trusted", [None, "X-Request-ID"])
async def test_errors_the_header_and_the_log_line_name_one_request_id(trusted, caplog):
    """A store that is down answers with errors naming the request id (for support); it is
    the response's X-Request-ID and the access line's, the proxy's only where trusted."""
    engine = create_engine(REFUSED_DATABASE_URL, pool=PoolOptions(connect_timeout=1.0))
    settings = {} if trusted is None else {"request_id_header": trusted}
    try:
        async with make_client(engine, **settings) as http:
            with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
                response = await http.post(
                    "/graphql", json={"query": COMPANY}, headers={"X-Request-ID": "lb-42"}
                )
    finally:
        await engine.dispose()
    assert response.status_code == 503
    request_id = response.headers["x-request-id"]
    assert (request_id == "lb-42") == (trusted is not None)
    assert {e["extensions"]["requestId"] for e in response.json()["errors"]} == {request_id}
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [(line["request_id"], line["status"]) for line in lines] == [(request_id, 503)]
    assert lines[0]["request_id_from"] == ("proxy" if trusted else "server")
    # counted by its code, as a timeout is: which 503 it was stays told
    assert lines[0]["refusal"] == "DATABASE_UNAVAILABLE"


async def test_metrics_can_be_turned_off(store):
    async with make_client(store.engine, metrics=False) as http:
        assert (await http.get("/metrics")).status_code == 404
    async with make_client(store.engine) as http:
        assert (await http.get("/metrics")).status_code == 200


async def test_metrics_with_a_token_answer_only_a_scrape_that_sends_it(store):
    """On the open internet without a proxy's rule for /metrics: a bearer token, as
    Prometheus's `authorization` setting sends it; any other request is a 401 that says how,
    and never the token."""
    token = "scrape-token-0123456789"
    async with make_client(store.engine, metrics_token=token) as http:
        refusals = [
            "Bearer " + "x" * len(token),
            token,
            f"Basic {token}",  # (another scheme, however right its token)
            "Bearer ",  # (no token, a part of it, more than it)
            f"Bearer {token[:-1]}",
            f"Bearer {token}x",
        ]
        for sent in ({}, *({"Authorization": value} for value in refusals)):
            refused = await http.get("/metrics", headers=sent)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
            assert token not in refused.text  # (nor what was sent, nor any metric)
            told = [value.split(" ")[-1] for value in sent.values()]  # the tokens sent
            assert not [given for given in told if given and given in refused.text]
            assert "impact_graph" not in refused.text
        # a scheme is read in any case, and the token after one space or more (RFC 6750's
        # `1*SP`)
        for scheme in ("Bearer ", "bearer ", "Bearer   "):
            sent = {"Authorization": f"{scheme}{token}"}
            scraped = await http.get("/metrics", headers=sent)
            assert scraped.status_code == 200
            assert "impact_graph_requests_total" in scraped.text


def test_a_metrics_token_too_short_to_guard_anything_is_refused():
    with pytest.raises(ValidationError, match="16 characters or more"):
        Settings(IMPACT_GRAPH_METRICS_TOKEN="x" * 15)


class SlowBuilds:
    """A build of the exposition that takes `seconds` (in its thread), numbered, and when each
    began."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.began: list[float] = []

    def __call__(self) -> bytes:
        self.began.append(time.monotonic())
        time.sleep(self.seconds)
        return b"%d" % len(self.began)


async def test_scrapes_arriving_during_a_build_share_the_next_one():
    """A scrape is answered by a build begun after it arrived (it shows every request
    answered before it), and any number arriving meanwhile by one build, not one each."""
    builds = SlowBuilds(0.2)
    scrapes = metrics.Scrapes(builds)
    first = asyncio.ensure_future(scrapes.exposition())
    await asyncio.sleep(0.05)  # the first build is running
    later = await asyncio.gather(*(scrapes.exposition() for _ in range(6)))
    assert (await first, later) == (b"1", [b"2"] * 6)


async def test_a_failed_build_fails_its_scrapes_alone():
    """A build that raises answers its scrapes with its error (a 500); the next scrape is
    built anew, and a build whose scrapers all left is not logged as never retrieved."""
    failing = True

    def build() -> bytes:
        if failing:
            raise OSError("a worker's file went away")
        return b"built"

    scrapes = metrics.Scrapes(build)
    with pytest.raises(OSError, match="went away"):
        await scrapes.exposition()
    failing = False
    assert await scrapes.exposition() == b"built"


async def test_scrapes_are_spaced_by_their_builds_time():
    """However fast scrapes come, a build begins no sooner than `SCRAPE_SPACING` times the
    last one's time after it ended: scrapes take at most a fifth of a core."""
    builds = SlowBuilds(0.1)
    scrapes = metrics.Scrapes(builds)
    for _ in range(3):
        await scrapes.exposition()
    gaps = [later - earlier for earlier, later in zip(builds.began, builds.began[1:], strict=False)]
    assert all(gap >= 0.1 * (1 + metrics.SCRAPE_SPACING) for gap in gaps), gaps


async def test_a_scrape_does_not_hold_up_requests(store, monkeypatch):
    """The exposition is built off the event loop: a slow one (many workers' files, many
    series) no longer holds up every request of the process meanwhile."""
    real = metrics.generate_latest

    def slow(registry: CollectorRegistry) -> bytes:
        time.sleep(0.6)
        return real(registry)

    monkeypatch.setattr(metrics, "generate_latest", slow)
    async with make_client(store.engine) as http:
        scrape = asyncio.ensure_future(http.get("/metrics"))
        await asyncio.sleep(0.1)  # building
        started = time.monotonic()
        assert (await http.get("/healthz")).status_code == 200
        assert time.monotonic() - started < 0.4
        assert not scrape.done()
        answered = await scrape
    assert answered.status_code == 200
    assert "impact_graph_requests_total" in answered.text


async def test_the_pool_gauges_count_connections_in_use_and_reads_waiting(tmp_path):
    """A pool of one, its connection held: the reference executor's reader and the compiled
    executor's statements each wait for it, counted as waiting until it comes back. Gauges
    of their own, so that other apps of this test process cannot move them."""
    registry = CollectorRegistry()
    in_use = Gauge("in_use", "", registry=registry)
    waiting = Gauge("waiting", "", registry=registry)
    size = Gauge("size", "", registry=registry)
    engine = create_engine(
        f"sqlite:///{tmp_path / 'pool.db'}", pool=PoolOptions(size=1, max_overflow=0, timeout=10)
    )
    stop = watch_pool(engine, 1, in_use, size)
    reader = Reader(session_factory(engine), 1, waiting.track_inprogress)
    statements = Statements(engine, 1, 10, hold=False, waiting=waiting.track_inprogress)
    select_one = SqlText("SELECT 1", (), {}, postgres=False)

    async def waiters(count: int) -> None:
        for _ in range(1000):  # 10 s at most
            if registry.get_sample_value("waiting") == count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{registry.get_sample_value('waiting')} waiting, not {count}")

    try:
        assert registry.get_sample_value("size") == 1
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            assert registry.get_sample_value("in_use") == 1
            reads = [
                asyncio.create_task(reader.run(lambda s: s.scalar(text("SELECT 1")))),
                asyncio.create_task(statements.fetch_value(select_one, {})),
            ]
            await waiters(2)
            assert registry.get_sample_value("in_use") == 1
        async with asyncio.timeout(10):  # one at a time: the reader holds its connection
            assert await reads[0] == 1
            await reader.close()
            assert await reads[1] == 1
        assert registry.get_sample_value("waiting") == 0
        await statements.close()
        assert registry.get_sample_value("in_use") == 0
    finally:
        stop()
        await engine.dispose()
    assert registry.get_sample_value("size") == 0


def test_a_worker_killed_holding_connections_leaves_none_in_use(tmp_path):
    """A worker killed while its connections are checked out (a query running) never counts
    them back: its in-use gauge goes with it once a scrape finds it dead, as its capacity
    does, not counted in the sums for good."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    worker = (
        "import os\n"
        "from server.metrics import POOL_CAPACITY, POOL_IN_USE\n"
        "POOL_CAPACITY.inc(15)\n"
        "POOL_IN_USE.inc(3)\n"
        "os._exit(0)  # no winding down: as SIGKILL leaves it\n"
    )
    environment = {**os.environ, metrics.MULTIPROCESS_DIR: str(directory)}
    subprocess.run([sys.executable, "-c", worker], env=environment, check=True, timeout=60)
    registry = CollectorRegistry()
    registry.register(metrics.WorkersMetrics(str(directory)))
    written = scrape_text(generate_latest(registry).decode())
    assert value(written, "impact_graph_db_pool_in_use") == 3  # (the worker's file)
    metrics.forget_dead_workers(str(directory))  # as every scrape does first
    after = scrape_text(generate_latest(registry).decode())
    assert value(after, "impact_graph_db_pool_capacity") == 0
    assert value(after, "impact_graph_db_pool_in_use") == 0


async def test_a_request_the_app_fails_before_answering_is_recorded_as_its_500(
    store, monkeypatch, caplog
):
    """A fault no handler of ours answers (Starlette's last resort sends its plain 500 once
    the request has left the middleware): its line and its count say 500, what the client
    got, not a status no one sent."""

    def broken(*_: Any) -> Any:
        raise RuntimeError("a defect")

    monkeypatch.setattr(app_module, "matching_etag", broken)  # the schema's route fails
    app = app_module.create_app(Settings(), engine=store.engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            response = await http.get("/graphql/schema.graphql")
    assert response.status_code == 500
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [(line["path"], line["status"]) for line in lines] == [("/graphql/schema.graphql", 500)]


@pytest.mark.parametrize("name", ["X Request Id", "X-Request-ID:", "é"])
def test_the_trusted_header_must_be_a_header_name(name):
    with pytest.raises(ValidationError, match="not an HTTP header name"):
        Settings(request_id_header=name)
    assert Settings(request_id_header="").request_id_header is None  # set empty: none trusted


def test_routing_refusals_carry_the_request_id_of_their_log_line(server):
    """404s and 405s are answered by the app's exception handlers, not the GraphQL route:
    the same id in the header, the body's request and the log line; counted as refusals."""
    base, log = server
    before = scrape(base)
    for response, code in (
        (httpx.put(f"{base}/graphql", timeout=10), "METHOD_NOT_ALLOWED"),
        (httpx.get(f"{base}/nowhere", timeout=10), "NOT_FOUND"),
    ):
        request_id = response.headers["x-request-id"]
        (line,) = log_lines(log, request_id)
        assert (line["status"], line["refusal"]) == (response.status_code, code)
    after = scrape(base)
    for code in ("METHOD_NOT_ALLOWED", "NOT_FOUND"):
        name = "impact_graph_refusals_total"
        assert value(after, name, code=code) - value(before, name, code=code) == 1


def _worker_pids(temporary: Path) -> set[int]:
    """The workers that have written live gauges to the metrics directory of the one server
    whose TMPDIR is `temporary` (files named gauge_<mode>_<pid>.db)."""
    return {
        int(path.stem.rsplit("_", 1)[-1])
        for path in temporary.glob("impact-graph-metrics-*/gauge_livesum_*.db")
    }


def test_a_killed_worker_is_replaced_and_its_pool_no_longer_counted(tmp_path):
    """`serve --workers 2` after a worker is killed (it cannot wind down: its live gauges stay
    in the shared directory): uvicorn starts another, and a scrape sums the two live workers'
    pools only, not the dead one's as well."""
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    settings = {"IMPACT_GRAPH_WORKERS": "2", "TMPDIR": str(temporary)}
    with served(tmp_path, settings) as base:
        deadline = time.monotonic() + 60
        while value(scrape(base), "impact_graph_db_pool_capacity") < 30:
            assert time.monotonic() < deadline, "the second worker never started"
            time.sleep(0.2)
        workers = _worker_pids(temporary)
        assert len(workers) == 2
        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(_worker_pids(temporary) - {killed}) < 2:  # its replacement's pool, counted
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.2)
        while value(after := scrape(base), "impact_graph_db_pool_capacity") < 30:
            assert time.monotonic() < deadline, "the replacement never started serving"
            time.sleep(0.2)
        assert value(after, "impact_graph_db_pool_capacity") == 30  # not 45
        assert killed not in _worker_pids(temporary)


def test_the_workers_of_one_server_log_and_count_every_request(tmp_path):
    """`serve --workers 2`: each worker writes its own access lines and its metrics to the
    directory the command shares; a scrape, whichever worker answers it, counts them all."""
    settings = {
        "IMPACT_GRAPH_WORKERS": "2",
        "IMPACT_GRAPH_LOG_LEVEL": "info",
        "IMPACT_GRAPH_CACHE": "false",  # every request executes: counted by its executor
    }
    with served(tmp_path, settings) as base:
        deadline = time.monotonic() + 60  # the second worker may still be starting
        while value(before := scrape(base), "impact_graph_db_pool_capacity") < 30:
            assert time.monotonic() < deadline, "the second worker never started"
            time.sleep(0.2)
        ids = []
        for _ in range(3):  # a new connection each: the kernel spreads them over the workers
            with httpx.Client(base_url=base, timeout=10) as http:
                for _ in range(4):
                    response = http.post("/graphql", json={"query": COMPANY})
                    assert response.status_code == 200
                    ids.append(response.headers["x-request-id"])
        after = scrape(base)
        labels = requests("/graphql", "Company", "200", "compiled")
        total = "impact_graph_requests_total"
        assert value(after, total, **labels) - value(before, total, **labels) == 12
        assert value(after, "impact_graph_db_pool_capacity") == 30  # two workers' pools, summed
        for request_id in ids:
            assert len(log_lines(tmp_path / "served.log", request_id)) == 1
        # a worker's other logs are set up as the command's are: an info line, in their format
        url = httpx.URL(base)
        for _ in range(4):  # whichever workers take them
            with socket.create_connection((url.host, url.port)) as upload:
                upload.sendall(
                    b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\n\r\n{"
                )
                time.sleep(0.2)  # the worker is reading the body when the client leaves
        left = "INFO impact_graph.graphql: the client left before sending its whole body"
        deadline = time.monotonic() + 10
        while left not in (tmp_path / "served.log").read_text():
            assert time.monotonic() < deadline, "a worker's info lines are lost"
            time.sleep(0.1)


async def test_a_connection_never_made_is_not_counted_back_into_the_pool(tmp_path):
    """The pool checks in the slot of a connection it failed to make again (the database
    refused it, or the wait was cancelled), with no checkout before it: the gauge stays at 0,
    not one below for each (a reviewer read -36 after an outage)."""
    registry = CollectorRegistry()
    in_use = Gauge("in_use", "", registry=registry)
    size = Gauge("size", "", registry=registry)
    engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}", pool=PoolOptions(size=1))
    refusing = False

    @event.listens_for(engine.sync_engine, "do_connect")
    def connect(*_: object) -> None:
        if refusing:
            raise sqlite3.OperationalError("the database went away")

    stop = watch_pool(engine, 1, in_use, size)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await connection.invalidate()  # its slot must connect again
        refusing = True
        for _ in range(3):
            with pytest.raises(DBAPIError):
                async with engine.connect():
                    pass
        assert registry.get_sample_value("in_use") == 0
        refusing = False
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            assert registry.get_sample_value("in_use") == 1
        assert registry.get_sample_value("in_use") == 0
    finally:
        stop()
        await engine.dispose()
