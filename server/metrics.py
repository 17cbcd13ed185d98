"""What `/metrics` shows Prometheus: requests, their latency, cache lookups, refusals and the
database pool, in one process or summed over every worker of `impact-graph serve`.

With `PROMETHEUS_MULTIPROC_DIR` set (before this module is first imported: prometheus-client
chooses how it stores values then), each worker writes its values to files there and a scrape
of any worker sums them all; otherwise the process's own registry answers.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from server.errors import RequestError
from server.negotiation import JSON
from server.outcome import Outcome, outcome_of, refuse
from server.responses import NO_SNIFF, NO_STORE

# A scrape without the token IMPACT_GRAPH_METRICS_TOKEN sets (RFC 6750's challenge).
NOT_AUTHORIZED = RequestError(
    401,
    "UNAUTHORIZED",
    "the metrics need the scrape's bearer token (Authorization: Bearer <token>)",
    {"WWW-Authenticate": 'Bearer realm="metrics"', **NO_STORE, **NO_SNIFF},
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own name for it
# The paths labelled by name; every other (static assets, unknown paths) is "other".
PATHS = frozenset({"/graphql", "/graphql/schema.graphql", "/healthz", "/readyz", "/metrics", "/"})
OTHER = "other"

REQUESTS = Counter(
    "impact_graph_requests",
    "HTTP requests answered, by path, GraphQL operation name, status and executor",
    ["path", "operation", "status", "executor"],
)
LATENCY = Histogram(
    "impact_graph_request_duration_seconds",
    "Time from a request's arrival to its response's last byte",
    ["path", "operation", "executor"],
    # from 0.1 ms: a cached answer takes well under 1 ms, where one bucket told nothing apart
    buckets=(
        0.0001,
        0.00025,
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
    ),
)
CACHE = Counter(
    "impact_graph_cache_lookups", "Response cache lookups of /graphql, by result", ["result"]
)
REFUSALS = Counter(
    "impact_graph_refusals",
    "Requests refused (or stopped by their timeout), by their error code",
    ["code"],
)
ANSWER_ERRORS = Counter(
    "impact_graph_answer_errors",
    "Answers executed with errors (their data null or partial: a field refused its arguments, "
    "or failed), by the first error's code",
    ["code"],
)


class OneLabel:
    """A counter of one label, each label's series looked up once and kept: prometheus-client's
    lookup costs more than the increment, and the labels are ours (a handful of codes)."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._series: dict[str, Any] = {}

    def inc(self, label: str, count: int = 1) -> None:
        series = self._series.get(label)
        if series is None:
            series = self._series[label] = self._counter.labels(label)
        series.inc(count)


_LOOKUPS = OneLabel(CACHE)  # by cache result (three of them)
_REFUSED = OneLabel(REFUSALS)
_ERRORS = OneLabel(ANSWER_ERRORS)


def count_refusals(code: str, count: int = 1) -> None:
    """Refusals counted at once: the app's as `Recorder` counts them, and each one the edge
    answers below the app (server/connections.py), which no request's record holds; a
    dictionary lookup and an increment, as a flood of them may come."""
    _REFUSED.inc(code, count)


# Gauges of every live worker add up: the pools of the whole server.
POOL_IN_USE = Gauge(
    "impact_graph_db_pool_in_use",
    "Database connections checked out of the pool (the compiled executor's held ones included)",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "impact_graph_db_pool_waiting",
    "Reads waiting for a database connection",
    multiprocess_mode="livesum",
)
POOL_CAPACITY = Gauge(
    "impact_graph_db_pool_capacity",
    "Connections the pool may open (its size and overflow)",
    multiprocess_mode="livesum",
)


# A name longer is labelled "other": a name may be as long as the query (20,000 characters), and
# 100 of those made every scrape 37 MB.
MAX_LABELLED_NAME = 100


class OperationNames:
    """Operation names come from clients: the first `limit` names seen (none longer than
    MAX_LABELLED_NAME) are labelled as they are, every later one as "other", so that no
    client can grow the metrics without bound. Where the operator names them (`listed`),
    only those are labelled: first come, a client's made-up names could take every place
    before the apps' own were seen."""

    def __init__(self, limit: int, listed: Iterable[str] = ()) -> None:
        self._known = set(listed)
        self._limit = 0 if self._known else limit  # (no more places: the list is all)

    def label(self, name: str | None) -> str:
        if name is None:
            return ""
        if name in self._known:
            return name
        if len(self._known) < self._limit and len(name) <= MAX_LABELLED_NAME:
            self._known.add(name)
            return name
        return OTHER


def path_label(path: str) -> str:
    return path if path in PATHS else OTHER


# Answered requests waiting to be counted, at most (server/observe.py: in one process); the
# request that reaches it counts them all (~1 ms), so it stays small.
MAX_PENDING = 256


class Recorder:
    """Records answered requests. Each label set's series are looked up once and kept (the
    labels are bounded, so are they): prometheus-client's lookup costs more than the count.

    `deferred` (one process, no PROMETHEUS_MULTIPROC_DIR): a request is only noted, and the
    notes are counted when `/metrics` is scraped (`flush`), or every MAX_PENDING requests. A
    scrape shows every request answered before it, and counting in one loop costs a fraction
    of counting between requests (a cached answer's largest cost after its lookup). Across
    processes each request is counted at once: a worker's scrape reads the others' files."""

    def __init__(self, names: OperationNames, *, deferred: bool = False) -> None:
        self._names = names
        self._deferred = deferred
        self._pending: list[tuple[str, int, float, Outcome]] = []
        self._series: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}

    def record(self, path: str, status: int, seconds: float, outcome: Outcome) -> None:
        """One answered request in the metrics (its outcome is final: it is not changed
        after it is answered)."""
        self._pending.append((path, status, seconds, outcome))
        if not self._deferred or len(self._pending) >= MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        """Count the requests noted so far: each latency observed, the counts added up first
        (one increment per label set, not per request)."""
        pending, self._pending = self._pending, []
        answered: dict[tuple[str, str, int, str], list[float]] = {}
        lookups: dict[str, int] = {}
        refusals: dict[str, int] = {}
        errors: dict[str, int] = {}
        for path, status, seconds, outcome in pending:
            key = (path, self._names.label(outcome.operation_name), status, outcome.executor or "")
            answered.setdefault(key, []).append(seconds)
            if outcome.cache is not None:
                lookups[outcome.cache] = lookups.get(outcome.cache, 0) + 1
            if outcome.refusal is not None:
                refusals[outcome.refusal] = refusals.get(outcome.refusal, 0) + 1
            if outcome.error is not None:
                errors[outcome.error] = errors.get(outcome.error, 0) + 1
        # (all added up before any is counted: what is counted moves together)
        for key, latencies in answered.items():
            requests, latency = self._series_of(key)
            requests.inc(len(latencies))
            for seconds in latencies:
                latency.observe(seconds)
        for result, count in lookups.items():
            _LOOKUPS.inc(result, count)
        for code, count in refusals.items():
            count_refusals(code, count)
        for code, count in errors.items():
            _ERRORS.inc(code, count)

    def _series_of(self, key: tuple[str, str, int, str]) -> tuple[Any, Any]:
        """The request counter and latency histogram of one label set."""
        series = self._series.get(key)
        if series is None:
            path, operation, status, executor = key
            series = (
                REQUESTS.labels(path, operation, str(status), executor),
                LATENCY.labels(path, operation, executor),
            )
            self._series[key] = series
        return series


def watch_pool(
    engine: AsyncEngine, capacity: int, in_use: Gauge = POOL_IN_USE, size: Gauge = POOL_CAPACITY
) -> Callable[[], None]:
    """Count the engine's checked-out connections as the pool hands them out and takes them
    back (its checkout and checkin events); returns what stops counting. Only a connection
    counted out is counted back: the pool also checks in the slot of a connection that was
    never made (the database refused it, or the wait was cancelled), with no checkout before."""
    pool = engine.sync_engine.pool
    out: set[object] = set()  # the connection records checked out

    def checked_out(_: object, record: object, __: object) -> None:
        out.add(record)
        in_use.inc()

    def checked_in(_: object, record: object) -> None:
        if record in out:
            out.remove(record)
            in_use.dec()

    event.listen(pool, "checkout", checked_out)
    event.listen(pool, "checkin", checked_in)
    size.inc(capacity)

    def stop() -> None:
        event.remove(pool, "checkout", checked_out)
        event.remove(pool, "checkin", checked_in)
        size.dec(capacity)

    return stop


def waiting_for_pool() -> AbstractContextManager[object]:
    """Around a wait for a connection: counted while it lasts."""
    return POOL_WAITING.track_inprogress()


def multiprocess() -> bool:
    """Whether values are kept in files shared by every worker (prometheus-client's mode)."""
    return bool(os.environ.get(MULTIPROCESS_DIR))


class WorkersMetrics(Collector):
    """Every worker's values, read from their files at each scrape and summed (as
    prometheus-client's MultiProcessCollector does), less a file not yet sized: a worker
    creates its file, then sizes it, and read in between the file fails the whole scrape (a
    worker killed in between leaves it empty, and every scrape failing: client_python#1199)."""

    def __init__(self, directory: str) -> None:
        self._directory = Path(directory)

    def collect(self) -> Iterable[Metric]:
        try:
            return self._merged()
        except FileNotFoundError:  # a dead worker's live gauges, which a scrape removes
            return self._merged()  # (another worker's, meanwhile)

    def _merged(self) -> Iterable[Metric]:
        files = [str(path) for path in self._directory.glob("*.db") if _sized(path)]
        merged: Iterable[Metric] = MultiProcessCollector.merge(  # type: ignore[no-untyped-call]
            files, accumulate=True
        )
        return merged


def _sized(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _registry(directory: str | None) -> CollectorRegistry:
    if directory:
        registry = CollectorRegistry()
        registry.register(WorkersMetrics(directory))
        return registry
    return REGISTRY


def _alive(pid: int) -> bool:
    """Whether process `pid` is there, in this pid namespace (the directory is one server's,
    on one host)."""
    try:
        os.kill(pid, 0)  # no signal: only whether the process is there
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # there, someone else's
    return True


def forget_dead_workers(directory: str) -> None:
    """The live gauges of workers that died without winding down (killed, crashed) are
    dropped (prometheus-client's `mark_process_dead`, which a server with no hook for a
    worker's death calls here): a worker restarted by `serve --workers` would otherwise count
    its pool twice."""
    named = (path.stem.rsplit("_", 1)[-1] for path in Path(directory).glob("gauge_live*_*.db"))
    dead = {int(pid) for pid in named if pid.isdigit() and not _alive(int(pid))}
    for pid in dead:  # (files named gauge_<mode>_<pid>.db)
        with suppress(FileNotFoundError):  # another worker's scrape removed them first
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


# After a scrape's exposition is built, the next is begun no sooner than this many times as
# long as that one took: scrapes, however many clients send them, take at most a fifth of a
# core (a build of many labelled series takes a few tenths of a second).
SCRAPE_SPACING = 4.0


class Scrapes:
    """Expositions built one at a time, off the event loop, and spaced (`SCRAPE_SPACING`):
    a scrape sums every worker's files (or walks every series), which on the loop held up
    every request for as long, and scrapers in a loop (`/metrics` is open to whoever reaches
    the server) kept a core busy. Each scrape is answered by a build begun after it arrived,
    so it still shows every request answered before it; those arriving while one is built
    share the next."""

    def __init__(self, build: Callable[[], bytes]) -> None:
        self._build = build  # the exposition now (run in a thread)
        self._running: asyncio.Future[bytes] | None = None
        self._next: asyncio.Future[bytes] | None = None  # not begun: a scrape now joins it
        self._not_before = 0.0

    async def exposition(self) -> bytes:
        if self._next is None or self._next.done():  # (done: cancelled before it began)
            self._next = asyncio.ensure_future(self._after(self._running))
            self._next.add_done_callback(_seen)
        return await asyncio.shield(self._next)  # a scraper gone does not stop the others'

    async def _after(self, running: asyncio.Future[bytes] | None) -> bytes:
        if running is not None:
            await asyncio.wait([running])  # however it ended: its scrapes have its outcome
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self._not_before - loop.time()))
        self._running, self._next = self._next, None  # begun: later scrapes wait for the next
        started = loop.time()
        try:
            return await asyncio.to_thread(self._build)
        finally:
            self._not_before = loop.time() + SCRAPE_SPACING * (loop.time() - started)


def _seen(build: asyncio.Future[bytes]) -> None:
    """A build's failure is its scrapes' to answer (500); where all of them have left, it
    is not logged as never retrieved."""
    if not build.cancelled():
        build.exception()


def metrics_endpoint(
    recorder: Recorder, token: str | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """The `/metrics` route: the text exposition format, summed over workers if there are
    (less the live gauges of workers gone), with every request `recorder` has noted counted
    first. With a `token`, only for a scrape that sends it as a bearer token (compared in
    constant time); any other is a 401 that says how to send one."""
    directory = os.environ.get(MULTIPROCESS_DIR)  # (set: `multiprocess()`)
    registry = _registry(directory)

    def build() -> bytes:
        if directory:
            forget_dead_workers(directory)
        return generate_latest(registry)

    scrapes = Scrapes(build)

    expected = None if token is None else token.encode()

    async def metrics(request: Request) -> Response:
        if expected is not None:
            # the scheme in any case (RFC 9110 section 11.1), one or more spaces, the token
            scheme, _, sent = request.headers.get("authorization", "").partition(" ")
            given = sent.lstrip(" ").encode("latin-1")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
                return refuse(NOT_AUTHORIZED, JSON, outcome_of(request))
        recorder.flush()
        exposition = await scrapes.exposition()
        return Response(exposition, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)

    return metrics
