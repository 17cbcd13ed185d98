"""Ours with the cache warm beside the floor, at the same moment: CPU per request of each.

    python -m bench.side_by_side [--seconds 10] [--rounds 3] [--queries traversal,node]

`python -m bench` times each server in turn, so a neighbour on the machine that wakes during
one server's run and not another's moves their ratio (the noise column says how much). Here
both run at once: ours (cache warm, so every timed request is a hit) and the floor each on
the server core, each driven by its own wrk on the load core. Whatever else the machine does
in a round, both live through it, and each is charged only its own CPU time per request.

Sharing the core, each server's caches are also cooled by the other. That weighs on the floor,
whose own working set is the smaller, so this ratio can read a little kinder to ours than
runs one after the other on a quiet machine: print both when reporting.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from bench.client import checked_data, post, wait_until_answering
from bench.pin import postgres_pinned, postmaster_pid
from bench.processes import Processes, Started, raise_on_sigterm
from bench.procstats import cpu_seconds, tree
from bench.run import free_port, seed_dataset
from bench.servers import Server, start
from bench.stores import seed_stores
from bench.wrk import LoadResult, ensure_wrk, lua_script, run_wrk

CACHE_HEADER = "x-cache"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.side_by_side", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per round")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8, help="per server")
    parser.add_argument("--queries", default="traversal,node")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    return parser.parse_args(argv)


def _at_once(*runs: Callable[[], LoadResult]) -> list[LoadResult]:
    """Each load on a thread of its own (wrk is a process: the GIL is not held meanwhile)."""
    results: list[LoadResult | BaseException | None] = [None] * len(runs)

    def running(index: int) -> None:
        try:
            results[index] = runs[index]()
        except BaseException as error:  # raised below, in the caller's thread
            results[index] = error

    threads = [threading.Thread(target=running, args=(i,)) for i in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = []
    for result in results:
        if not isinstance(result, LoadResult):
            raise RuntimeError(f"a load failed: {result!r}")
        done.append(result)
    return done


def _floor_answers(path: Path, body: bytes, answer: bytes) -> Path:
    item = {
        "body": base64.b64encode(body).decode(),
        "content_type": "application/json",
        "response": base64.b64encode(answer).decode(),
    }
    path.write_text(json.dumps([item]))
    return path


def _side_by_side(
    processes: Processes,
    store_url: str,
    backend: str,
    body: bytes,
    args: argparse.Namespace,
    work: Path,
    wrk: str,
) -> list[tuple[float, float]]:
    """(floor, ours) CPU microseconds per request, a pair per round."""
    ours_port, floor_port = free_port(), free_port()
    ours = start(
        processes,
        Server("ours", backend, "compiled", "warm"),
        database_url=store_url,
        port=ours_port,
    )
    floor: Started | None = None
    try:
        wait_until_answering(ours, ours_port)
        first = post(ours_port, body)
        checked_data(first)
        if post(ours_port, body).headers.get(CACHE_HEADER) != "hit":
            raise RuntimeError("ours did not keep the answer: no hit to time")
        answers = _floor_answers(work / f"floor-{backend}.json", body, first.body)
        floor = start(
            processes,
            Server("floor", "-"),
            database_url=store_url,
            port=floor_port,
            floor_answers=answers,
        )
        wait_until_answering(floor, floor_port)
        if post(floor_port, body).body != first.body:
            raise RuntimeError("the floor did not answer our exact bytes")
        script = lua_script(body, work)

        def load(port: int, seconds: float) -> Callable[[], LoadResult]:
            return lambda: run_wrk(
                wrk, port, script, seconds=seconds, connections=args.connections, cpu=1
            )

        _at_once(load(floor_port, args.warmup), load(ours_port, args.warmup))
        pairs = []
        for _ in range(args.rounds):
            floor_pids, ours_pids = tree(floor.pid), tree(ours.pid)
            before = cpu_seconds(floor_pids), cpu_seconds(ours_pids)
            floor_load, ours_load = _at_once(
                load(floor_port, args.seconds), load(ours_port, args.seconds)
            )
            after = cpu_seconds(floor_pids), cpu_seconds(ours_pids)
            if floor_load.failed or ours_load.failed:
                raise RuntimeError(f"errors: floor {floor_load.errors}, ours {ours_load.errors}")
            pairs.append(
                (
                    (after[0] - before[0]) * 1e6 / floor_load.requests,
                    (after[1] - before[1]) * 1e6 / ours_load.requests,
                )
            )
        return pairs
    finally:
        if floor is not None:
            processes.stop(floor)
        processes.stop(ours)


def main(argv: list[str]) -> int:
    args = parse(argv)
    raise_on_sigterm()
    wrk = ensure_wrk()
    stores = {store.backend: store for store in seed_stores(args.postgres)}
    dataset = seed_dataset(stores)
    bodies = {query.name: query.body for query in dataset.ours}
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        processes = Processes(work / "logs")
        postmaster = asyncio.run(postmaster_pid(args.postgres))
        print(f"{'store':<11} {'query':<10} {'floor us/req':>12} {'ours us/req':>12} {'ratio':>6}")
        try:
            # PostgreSQL works on the load core, never on the servers' (as in `python -m bench`)
            with postgres_pinned(postmaster, 1):
                for backend in args.stores.split(","):
                    for name in args.queries.split(","):
                        pairs = _side_by_side(
                            processes,
                            stores[backend].url,
                            backend,
                            bodies[name],
                            args,
                            work,
                            wrk,
                        )
                        for floor_us, ours_us in pairs:
                            ratio = floor_us / ours_us
                            print(
                                f"{backend:<11} {name:<10} {floor_us:12.1f} {ours_us:12.1f} "
                                f"{ratio:6.2f}"
                            )
                        median = statistics.median(f / o for f, o in pairs)
                        print(f"{backend:<11} {name:<10} median of floor/ours: {median:.2f}")
        finally:
            processes.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
