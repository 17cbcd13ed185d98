"""How each server under test is launched: ours, the floor, PostGraphile 4 and 5.

All serve on 127.0.0.1 only, pinned to the server core. Ours gets the bench settings of
bench/throughput.py (a cost budget the traversals fit in, warning-level logs) plus longer
statement and execution timeouts, since the deep page under 8 connections may take seconds.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.processes import Processes, Started
from bench.stores import BENCH_DIR

REPO = BENCH_DIR.parent
PEERS = BENCH_DIR / "peers"
NODE22 = BENCH_DIR / "node_modules" / "node" / "bin" / "node"
OURS_ENV = {
    "IMPACT_GRAPH_LOG_LEVEL": "warning",
    "IMPACT_GRAPH_MAX_COST": str(10**9),
    "IMPACT_GRAPH_STATEMENT_TIMEOUT": "60",
    "IMPACT_GRAPH_EXECUTION_TIMEOUT": "120",
    "IMPACT_GRAPH_CACHE": "false",  # every request executes, unless a row says otherwise
}
# The response cache's rows: "warm" keeps answers (wrk repeats one body, so all but the first
# request hit); "miss" looks every request up and offers every answer, but keeps none (a bound
# of one byte), so it is the uncached path with the cache on, to compare with "off".
CACHE_ENV = {
    "off": {},
    "warm": {"IMPACT_GRAPH_CACHE": "true"},
    "miss": {"IMPACT_GRAPH_CACHE": "true", "IMPACT_GRAPH_CACHE_BYTES": "1"},
}
NODE_ENV = {"NODE_ENV": "production", "GRAPHILE_ENV": "production"}


@dataclass(frozen=True)
class Server:
    """One configuration under test; `label` names its row in the results."""

    family: str  # "ours", "floor", "postgraphile4", "postgraphile5"
    backend: str  # "postgresql", "sqlite", or "-" for the floor
    executor: str | None = None  # ours: IMPACT_GRAPH_EXECUTOR
    cache: str = "off"  # ours: a key of CACHE_ENV

    @property
    def label(self) -> str:
        if self.family == "ours":
            cache = "" if self.cache == "off" else f"+cache-{self.cache}"
            return f"ours/{self.backend}/{self.executor}{cache}"
        return self.family

    @property
    def is_peer(self) -> bool:
        return self.family.startswith("postgraphile")


def lineup(executors: list[str], caches: list[str] | None = None) -> list[Server]:
    """Ours first (the first is the reference the others are checked against), then the rest.
    Each executor runs with the cache off; the last executor also with each of `caches`."""
    ours: list[Server] = []
    for backend in ("postgresql", "sqlite"):
        ours += [Server("ours", backend, executor) for executor in executors]
        ours += [Server("ours", backend, executors[-1], cache) for cache in caches or []]
    peers = [Server("postgraphile4", "postgresql"), Server("postgraphile5", "postgresql")]
    return [*ours, Server("floor", "-"), *peers]


def machine_node() -> str:
    """The machine's own Node (20), not the Node 22 that bench/node_modules brings."""
    outside = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not Path(entry).resolve().is_relative_to(BENCH_DIR)
    ]
    found = shutil.which("node", path=os.pathsep.join(outside))
    if found is None:
        raise RuntimeError("PostGraphile 4 needs the machine's `node` on PATH")
    return found


def start(
    processes: Processes,
    server: Server,
    *,
    database_url: str,
    port: int,
    count_file: Path | None = None,
    floor_answers: Path | None = None,
    tag: str = "",
) -> Started:
    """Start `server` over `database_url`; `count_file` selects ours' SQL-counting launcher."""
    label = f"{server.label.replace('/', '-')}{tag}"
    env = {**os.environ}
    if server.family == "ours":
        env.update(OURS_ENV, DATABASE_URL=database_url)
        env.update(CACHE_ENV[server.cache])
        if server.executor:
            env["IMPACT_GRAPH_EXECUTOR"] = server.executor
        if count_file is not None:
            env["BENCH_SQL_COUNT_FILE"] = str(count_file)
            argv = [sys.executable, "-m", "bench.counted_ours", "--port", str(port)]
        else:
            argv = [
                str(Path(sys.executable).with_name("impact-graph")),
                "serve",
                "--port",
                str(port),
            ]
    elif server.family == "floor":
        assert floor_answers is not None
        env.update(OURS_ENV)  # its settings as ours (it reads no store)
        argv = [sys.executable, "-m", "bench.floor", str(floor_answers), "--port", str(port)]
    elif server.family == "postgraphile4":
        env.update(NODE_ENV)
        argv = [machine_node(), str(PEERS / "postgraphile4.cjs"), database_url, str(port)]
    else:
        env.update(NODE_ENV)
        argv = [str(NODE22), str(PEERS / "postgraphile5.mjs"), database_url, str(port)]
    return processes.start(label, argv, env=env, cpu=0, cwd=REPO)
