"""`python -m bench`: build or reuse the stores, benchmark every server, print and save results.

Everything started here (servers, Node, the counting proxy) is stopped in `finally`, and
PostgreSQL's CPU affinity is restored, also on Ctrl-C or a failure. Talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from typing import Any

from bench.generate import Size
from bench.measure import Cell, LoadSettings
from bench.pin import postgres_pinned, postmaster_pid
from bench.processes import Processes, raise_on_sigterm
from bench.report import plot, table, write_json
from bench.run import Context, bench_dataset, large_dataset, seed_dataset
from bench.servers import NODE22, lineup, machine_node
from bench.sql_count_proxy import CountingProxy
from bench.stores import BENCH_DIR, large_stores, row_counts, seed_stores
from bench.wrk import ensure_wrk

RESULTS = BENCH_DIR / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s warm-up, 2 s runs")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed run per query")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up per query")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--min-requests", type=int, default=30, help="slow queries run longer to complete this many"
    )
    parser.add_argument("--max-seconds", type=float, default=60.0, help="cap of a longer run")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="before each timed run, wait up to this long for other work on the machine to calm",
    )
    parser.add_argument("--counted-requests", type=int, default=20, help="per statement count")
    parser.add_argument("--seed", type=int, default=1, help="seed number of the large store")
    parser.add_argument("--programs", type=int, default=Size().programs, help="large store size")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin URL (trust auth); bench databases are created beside it",
    )
    parser.add_argument(
        "--executors", default="reference,compiled", help="IMPACT_GRAPH_EXECUTOR values for ours"
    )
    parser.add_argument("--datasets", default="seed,large", help="which stores to run")
    parser.add_argument(
        "--caches",
        default="warm,miss",
        help="response cache rows beside the cache-off ones, for the last executor (warm, miss)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.counted_requests = 2.0, 1.0, 3
        args.min_requests, args.max_seconds, args.quiet_wait = 5, 15.0, 0.0
    return args


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(  # noqa: S603 (our own tool paths)
            argv, capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip()
    except OSError as error:
        return f"unavailable ({error})"


def _package_version(name: str) -> str:
    try:
        manifest = BENCH_DIR / "node_modules" / name / "package.json"
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "not installed"


def _meta(args: argparse.Namespace, ctx: Context, counts: dict[str, Any]) -> dict[str, Any]:
    return {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "arguments": vars(args),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "node_machine": _version([machine_node(), "--version"]),
            "node_22": _version([str(NODE22), "--version"]),
            "postgraphile4": _package_version("postgraphile4"),
            "postgraphile5": _package_version("postgraphile"),
            "load_average_at_end": os.getloadavg(),
        },
        "pinning": "servers on CPU 0; wrk and PostgreSQL on CPU 1",
        "uvicorn_settings_from_cli": ctx.uvicorn_settings,
        "row_counts": counts,
        "notes": ctx.notes,
    }


def main(argv: list[str]) -> int:
    args = parse(argv)
    raise_on_sigterm()
    wrk = ensure_wrk()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = RESULTS / stamp
    processes = Processes(results_dir / "logs")
    load = LoadSettings(
        args.warmup,
        args.seconds,
        args.connections,
        args.counted_requests,
        wrk,
        results_dir / "lua",
        args.min_requests,
        args.max_seconds,
        args.quiet_wait,
    )
    print("preparing stores", flush=True)
    try:
        seed = {s.backend: s for s in seed_stores(args.postgres)}
    except OSError as error:
        print(
            f"cannot reach PostgreSQL at {args.postgres} ({error}); start it, e.g. "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            file=sys.stderr,
        )
        return 2
    large = (
        {}
        if "large" not in args.datasets
        else {s.backend: s for s in large_stores(args.postgres, args.seed, Size(args.programs))}
    )
    counts = {"seed": row_counts(seed["postgresql"])}
    if large:
        counts["large"] = row_counts(large["postgresql"])
    servers = lineup(
        [e.strip() for e in args.executors.split(",") if e.strip()],
        [c.strip() for c in args.caches.split(",") if c.strip()],
    )
    postmaster = asyncio.run(postmaster_pid(args.postgres))
    upstream_port = int(args.postgres.rsplit(":", 1)[1].split("/")[0])
    cells: list[Cell] = []
    with CountingProxy(upstream_port) as proxy:
        ctx = Context(processes, load, args.postgres, proxy, results_dir)
        try:
            with postgres_pinned(postmaster, cpu=1):
                if "seed" in args.datasets:
                    cells += bench_dataset(ctx, seed_dataset(seed), servers)
                if large:
                    cells += bench_dataset(ctx, large_dataset(large), servers)
        finally:
            processes.stop_all()
    meta = _meta(args, ctx, counts)
    write_json(results_dir / "results.json", cells, meta)
    title = f"Impact Graph vs floor and PostGraphile ({stamp}, {args.connections} connections)"
    plot(results_dir / "throughput.png", cells, title)
    print()
    print(table(cells))
    for note in ctx.notes:
        print(f"note: {note}")
    print(f"\nrows: {counts}")
    print(f"uvicorn settings (from server/cli.py, mirrored by the floor): {ctx.uvicorn_settings}")
    print(f"wrote {results_dir / 'results.json'} and {results_dir / 'throughput.png'}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        raise SystemExit(130) from None
