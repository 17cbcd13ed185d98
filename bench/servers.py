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
}
NODE_ENV = {"NODE_ENV": "production", "GRAPHILE_ENV": "production"}


@dataclass(frozen=True)
class Server:
    """One configuration under test; `label` names its row in the results."""

    family: str  # "ours", "floor", "postgraphile4", "postgraphile5"
    backend: str  # "postgresql", "sqlite", or "-" for the floor
    executor: str | None = None  # ours: IMPACT_GRAPH_EXECUTOR

    @property
    def label(self) -> str:
        if self.family == "ours":
            return f"ours/{self.backend}/{self.executor}"
        return self.family

    @property
    def is_peer(self) -> bool:
        return self.family.startswith("postgraphile")


def lineup(executors: list[str]) -> list[Server]:
    """Ours first (the first is the reference the others are checked against), then the rest."""
    ours = [
        Server("ours", backend, executor)
        for backend in ("postgresql", "sqlite")
        for executor in executors
    ]
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
        env.update(OURS_ENV, DATABASE_URL=database_url)
        argv = [sys.executable, "-m", "bench.floor", str(floor_answers), "--port", str(port)]
    elif server.family == "postgraphile4":
        env.update(NODE_ENV)
        argv = [machine_node(), str(PEERS / "postgraphile4.cjs"), database_url, str(port)]
    else:
        env.update(NODE_ENV)
        argv = [str(NODE22), str(PEERS / "postgraphile5.mjs"), database_url, str(port)]
    return processes.start(label, argv, env=env, cpu=0, cwd=REPO)
