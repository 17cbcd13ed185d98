"""Two servers timed at the same moment: CPU per request of each, and their ratio.

    python -m bench.side_by_side [--versus floor:warm] [--seconds 10] [--rounds 4]

`--versus floor:warm` (the default) sets ours with the cache warm (every timed request a hit)
beside the floor; `off:miss` sets ours with the cache off beside ours with every request
missing it (the uncached path with the cache on). Two alike (`off:off`) measure the harness
itself: how far from 1.0 a ratio strays when nothing differs.

`python -m bench` times each server in turn, so a neighbour on the machine that wakes during
one server's run and not another's moves their ratio (the noise column says how much). Here
both run at once, each on the server core, each driven by its own wrk on the load core.
Whatever else the machine does in a round, both live through it, and each is charged only its
own CPU time per request.

Sharing the core, each server's caches are also cooled by the other. That weighs on the floor,
whose own working set is the smaller, so this ratio can read a little kinder to ours than
runs one after the other on a quiet machine: print both when reporting.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from bench.client import checked_data, post, wait_until_answering
from bench.floor import write_answers
from bench.pin import postgres_pinned, postmaster_pid
from bench.processes import Processes, Started, raise_on_sigterm
from bench.procstats import cpu_seconds, tree
from bench.run import free_port, seed_dataset
from bench.servers import CACHE_ENV, Server, start
from bench.stores import seed_stores
from bench.wrk import LoadResult, ensure_wrk, lua_script, run_wrk

CACHE_HEADER = "x-cache"
FLOOR = "floor"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.side_by_side", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per round")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--rounds", type=int, default=4, help="even: each side starts first as often"
    )
    parser.add_argument("--connections", type=int, default=8, help="per server")
    parser.add_argument("--queries", default="traversal,node")
    parser.add_argument(
        "--versus",
        default="floor:warm",
        help="the two sides, `floor` or a cache mode of ours (off, warm, miss): floor:warm "
        "(a cached answer against the floor), off:miss (every request missing the cache "
        "against the cache off); the ratio is the first's CPU per request over the second's",
    )
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


EXPECTED_CACHE = {"warm": "hit", "miss": "miss"}  # what a repeated request's X-Cache says


def _server(side: str, backend: str) -> Server:
    """`floor`, or ours on `backend` with the cache as `side` names it (servers.CACHE_ENV)."""
    return Server("floor", "-") if side == FLOOR else Server("ours", backend, "compiled", side)


def _start_checked(
    processes: Processes,
    side: str,
    backend: str,
    store_url: str,
    body: bytes,
    answer: bytes,
    work: Path,
    tag: str,
) -> tuple[Started, int, bytes]:
    """One side started and checked: it answers `body` with `answer` (ours the first time:
    empty, and its answer is then the one), and ours as its cache mode says it will."""
    port = free_port()
    floor_answers = None
    if side == FLOOR:
        floor_answers = write_answers(
            work / f"floor-{backend}.json", {body: ("application/json", answer)}
        )
    started = start(
        processes,
        _server(side, backend),
        database_url=store_url,
        port=port,
        floor_answers=floor_answers,
        tag=tag,
    )
    wait_until_answering(started, port)
    first = post(port, body)
    checked_data(first)
    answer = answer or first.body
    again = post(port, body)
    if again.body != answer:
        raise RuntimeError(f"{side} did not answer the same bytes")
    wanted = EXPECTED_CACHE.get(side)
    if wanted is not None and again.headers.get(CACHE_HEADER) != wanted:
        raise RuntimeError(f"{side}: a repeated request was not a {wanted}")
    return started, port, answer


def _side_by_side(
    processes: Processes,
    sides: tuple[str, str],
    store_url: str,
    backend: str,
    body: bytes,
    args: argparse.Namespace,
    work: Path,
    wrk: str,
) -> list[tuple[float, float]]:
    """CPU microseconds per request of each side, a pair per round.

    Each round starts both servers anew, each side first in every other round: the server
    started first was charged 2-5% more CPU per request, round after round (off:miss read
    0.99 and miss:off 1.05 with the servers kept), whichever load started first. The first
    round starts ours first: the floor answers with the bytes ours answered."""
    first_ours = tuple(sorted(range(len(sides)), key=lambda index: sides[index] == FLOOR))
    script = lua_script(body, work)

    def load(port: int, seconds: float) -> Callable[[], LoadResult]:
        return lambda: run_wrk(
            wrk, port, script, seconds=seconds, connections=args.connections, cpu=1
        )

    answer = b""
    pairs = []
    for round_number in range(args.rounds):
        order = first_ours if round_number % 2 == 0 else first_ours[::-1]
        started: dict[int, Started] = {}  # by side: the two may be alike (off:off)
        ports: dict[int, int] = {}
        try:
            for index in order:
                started[index], ports[index], answer = _start_checked(
                    processes, sides[index], backend, store_url, body, answer, work, f"-{index}"
                )

            _at_once(*(load(ports[index], args.warmup) for index in order))
            pids = [tree(started[index].pid) for index in range(len(sides))]
            before = [cpu_seconds(each) for each in pids]
            done = _at_once(*(load(ports[index], args.seconds) for index in order))
            ran = dict(zip(order, done, strict=True))
            after = [cpu_seconds(each) for each in pids]
        finally:
            for each in started.values():
                processes.stop(each)
        loads = [ran[index] for index in range(len(sides))]
        if any(each.failed or not each.requests for each in loads):
            raise RuntimeError(f"errors: {[each.errors for each in loads]}")
        left, right = ((after[i] - before[i]) * 1e6 / loads[i].requests for i in range(len(sides)))
        pairs.append((left, right))
    return pairs


def main(argv: list[str]) -> int:
    args = parse(argv)
    sides = tuple(args.versus.split(":"))
    if len(sides) != 2 or not set(sides) <= {FLOOR, *CACHE_ENV}:
        raise SystemExit(f"--versus: two of {FLOOR}, {', '.join(CACHE_ENV)} (as floor:warm)")
    if args.rounds < 2 or args.rounds % 2:
        raise SystemExit("--rounds: an even number, so that each side starts first as often")
    raise_on_sigterm()
    wrk = ensure_wrk()
    stores = {store.backend: store for store in seed_stores(args.postgres)}
    dataset = seed_dataset(stores)
    bodies = {query.name: query.body for query in dataset.ours}
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        processes = Processes(work / "logs")
        postmaster = asyncio.run(postmaster_pid(args.postgres))
        first, second = sides
        print(f"{'store':<11} {'query':<10} {first + ' us':>10} {second + ' us':>10} {'ratio':>6}")
        try:
            # PostgreSQL works on the load core, never on the servers' (as in `python -m bench`)
            with postgres_pinned(postmaster, 1):
                for backend in args.stores.split(","):
                    for name in args.queries.split(","):
                        pairs = _side_by_side(
                            processes,
                            sides,
                            stores[backend].url,
                            backend,
                            bodies[name],
                            args,
                            work,
                            wrk,
                        )
                        for left, right in pairs:
                            print(
                                f"{backend:<11} {name:<10} {left:10.1f} {right:10.1f} "
                                f"{left / right:6.2f}"
                            )
                        median = statistics.median(left / right for left, right in pairs)
                        print(f"{backend:<11} {name:<10} median {first}/{second}: {median:.2f}")
        finally:
            processes.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
