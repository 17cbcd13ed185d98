"""One query against one running server: checked once, then timed with wrk, then counted.

A `Cell` is one row of the results table. Timing and statement counting happen against
different processes (counting goes through a proxy or an instrumented launcher, which would
slow the timed server), so a cell is filled in two passes.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.client import checked_data, post
from bench.processes import Started
from bench.procstats import (
    cpu_seconds,
    machine_busy_seconds,
    peak_rss_bytes,
    reset_peak,
    tree,
)
from bench.queries import Query
from bench.wrk import LoadResult, lua_script, run_wrk

CONTROL_KEYWORDS = frozenset(
    {"BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET", "RESET", "(empty)"}
)


@dataclass
class Cell:
    dataset: str
    query: str
    server: str
    family: str
    backend: str
    executor_requested: str | None
    executor_seen: str = "-"
    status: str = "not run"
    response_bytes: int = 0
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    cpu_ms_per_request: float | None = None
    db_cpu_ms_per_request: float | None = None
    peak_rss_mb: float | None = None
    sql_per_request: float | None = None
    sql_by_keyword: dict[str, float] = field(default_factory=dict)
    sql_method: str = "-"
    # Noise: CPU that neither the server, its database backends nor wrk used during the
    # timed run (other work on this shared machine), in percent of one core.
    others_cpu_percent: float | None = None
    quiet_wait_s: float = 0.0  # how long the run waited for a quieter machine before timing

    @property
    def reads_per_request(self) -> float | None:
        """Statements that read data: all but transaction control, settings and pings."""
        if self.sql_per_request is None:
            return None
        return sum(n for k, n in self.sql_by_keyword.items() if k not in CONTROL_KEYWORDS)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reads_per_request": self.reads_per_request}


@dataclass(frozen=True)
class LoadSettings:
    warmup: float
    seconds: float
    connections: int
    counted_requests: int
    wrk: str
    scripts: Path
    min_requests: int = 30  # slow queries get a longer run, up to `max_seconds`
    max_seconds: float = 60.0
    quiet_wait: float = 20.0  # at most this long for other work on the machine to calm down

    def durations(self, single_request: float) -> tuple[float, float]:
        """Warm-up and timed seconds for a query whose lone request took `single_request`.

        Under a closed loop one core serves the connections in turn, so a request takes about
        `connections` times as long; the warm-up lets each connection finish one and a half,
        and the timed run lasts long enough for `min_requests` (both capped).
        """
        warmup = max(
            self.warmup, min(self.max_seconds / 2, single_request * self.connections * 1.5)
        )
        wanted = max(self.min_requests, 2 * self.connections)
        timed = max(self.seconds, min(self.max_seconds, single_request * wanted))
        return warmup, timed


async def _backend_cpu(admin_url: str, database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to `database`."""
    connection = await asyncpg.connect(admin_url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await connection.close()
    return {int(r["pid"]): cpu_seconds([int(r["pid"])]) for r in rows}


async def _active_queries(admin_url: str, database: str) -> int:
    connection = await asyncpg.connect(admin_url)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' "
                "AND pid <> pg_backend_pid()",
                database,
            )
        )
    finally:
        await connection.close()


def wait_until_idle(pids: list[int], database: tuple[str, str] | None, seconds: float) -> None:
    """Let requests that wrk abandoned at the end of the warm-up finish before timing starts.

    Servers go on with a request whose client left; a slow query's timed run would otherwise
    start behind a backlog. Idle: under 2% of a core over 0.25 s and no active statement.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = cpu_seconds(pids)
        time.sleep(0.25)
        busy = cpu_seconds(pids) - before > 0.005
        if not busy and not (database and asyncio.run(_active_queries(*database))):
            return


def wait_for_quiet(seconds: float, threshold: float = 0.3) -> float:
    """Wait (at most `seconds`) until the machine uses under `threshold` of a core for 1 s.

    Called while our server is idle, so what is busy then is other work on the shared
    machine. Returns the seconds waited beyond the first sample.
    """
    if seconds <= 0:
        return 0.0
    started = time.monotonic()
    while True:
        before = machine_busy_seconds()
        time.sleep(1.0)
        if machine_busy_seconds() - before < threshold:
            break
        if time.monotonic() - started >= seconds:
            break
    return time.monotonic() - started - 1.0


def _children_cpu() -> float:
    """CPU of this process's reaped children: around a wrk run, wrk's own."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _db_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def time_query(
    cell: Cell,
    server: Started,
    port: int,
    query: Query,
    load: LoadSettings,
    database: tuple[str, str] | None,
    single_request: float,
) -> None:
    """Warm up, let the server go idle, then one timed wrk run; CPU and peak RSS around it.

    `database` (admin URL, name) adds the CPU of PostgreSQL's backends for that database.
    """
    script = lua_script(query.body, load.scripts)
    warmup, seconds = load.durations(single_request)
    reset_peak(tree(server.pid))
    run_wrk(load.wrk, port, script, seconds=warmup, connections=load.connections, cpu=1)
    pids = tree(server.pid)
    wait_until_idle(pids, database, seconds=single_request * load.connections * 2 + 5)
    cell.quiet_wait_s = wait_for_quiet(load.quiet_wait)
    db_before = asyncio.run(_backend_cpu(*database)) if database else {}
    cpu_before = cpu_seconds(pids)
    machine_before, wrk_before = machine_busy_seconds(), _children_cpu()
    result: LoadResult = run_wrk(
        load.wrk, port, script, seconds=seconds, connections=load.connections, cpu=1
    )
    machine_busy, wrk_cpu = (
        machine_busy_seconds() - machine_before,
        _children_cpu() - wrk_before,
    )
    mid_db = asyncio.run(_backend_cpu(*database)) if database else {}
    ours_during = cpu_seconds(pids) - cpu_before + _db_cpu_delta(db_before, mid_db) + wrk_cpu
    if result.seconds:
        cell.others_cpu_percent = max(0.0, machine_busy - ours_during) * 100 / result.seconds
    # The `connections` requests in flight when wrk stops are finished by the server anyway:
    # their CPU is counted once the server is idle again, and so are they.
    pids = tree(server.pid)
    wait_until_idle(pids, database, seconds=single_request * load.connections * 2 + 5)
    cpu_after = cpu_seconds(pids)
    db_after = asyncio.run(_backend_cpu(*database)) if database else {}
    served = result.requests + load.connections
    cell.requests, cell.seconds = result.requests, result.seconds
    cell.rps, cell.p50_ms, cell.p99_ms = result.per_second, result.p50_ms, result.p99_ms
    cell.errors = {k: v for k, v in result.errors.items() if v}
    cell.peak_rss_mb = peak_rss_bytes(pids) / 2**20
    if result.requests:
        cell.cpu_ms_per_request = (cpu_after - cpu_before) * 1000 / served
        if database:
            delta = _db_cpu_delta(db_before, db_after)
            cell.db_cpu_ms_per_request = delta * 1000 / served
    if result.failed:
        cell.status = f"{result.failed} failed requests: {cell.errors}"
    elif not result.requests:
        cell.status = f"no request completed in {seconds:.0f} s"


def count_statements(
    cell: Cell,
    port: int,
    query: Query,
    load: LoadSettings,
    snapshot: Any,
    method: str,
) -> None:
    """Up to `counted_requests` sequential requests (at most ~30 s); statements per request.

    `snapshot()` returns the statement counts so far (by first keyword).
    """
    checked_data(post(port, query.body))  # warm caches and pools out of the count
    time.sleep(0.2)
    before: Counter[str] = snapshot()
    started, sent = time.monotonic(), 0
    while sent < load.counted_requests and time.monotonic() - started < 30:
        checked_data(post(port, query.body))
        sent += 1
    time.sleep(0.3)  # the proxy thread accounts for the last messages
    after: Counter[str] = snapshot()
    delta = after - before
    cell.sql_per_request = sum(delta.values()) / sent
    cell.sql_by_keyword = {k: v / sent for k, v in sorted(delta.items())}
    cell.sql_method = method


def file_counts(path: Path) -> Counter[str]:
    try:
        return Counter(json.loads(path.read_text()))
    except (OSError, ValueError):
        return Counter()
