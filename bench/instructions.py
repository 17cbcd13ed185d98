"""Instructions a request costs our server, counted by callgrind: two settings side by side.

    python -m bench.instructions [--versus off:miss] [--requests 300] [--jobs 2]

Times taken on a shared machine stray by a percent or two between two identical servers
(`python -m bench.side_by_side --versus off:off`). Counted instructions stray by about 0.2%,
so they tell apart differences of a percent, such as what looking an answer up and offering
it adds to a request that misses (`off:miss`, the default). A count is not a time (a cache
miss in the processor costs more than an instruction), so a ratio of times is still the
harness's figure; this one says where a difference is, and how large.

Each side is a process of its own under `valgrind --tool=callgrind`. It builds the app as
`impact-graph serve` does (the cache as `bench.servers.CACHE_ENV` names it) and answers the
request through uvicorn's protocol (server/connections.py's `EdgeProtocol`) from an in-memory
transport: a request's bytes in, the response's bytes out, without the sockets' system calls.
After a warm-up, `--requests` requests run inside one call that callgrind counts alone
(`--toggle-collect`); start-up and warm-up are outside the count, and so is what the server
does by the clock (`COUNTED_ENV`). Only the event loop's thread is counted: the statements'
own work (PostgreSQL's process, or on SQLite aiosqlite's thread) is not, so both stores count
the server's own code. The last response of the warm-up and the last one counted are checked
to be the one meant (answered, and `X-Cache` as the side says).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import operator
import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.run import seed_dataset
from bench.servers import CACHE_ENV, OURS_ENV
from bench.stores import seed_stores
from bench.wrk import ensure_command

WARMUP_REQUESTS = 300
# The one C function the counted requests run inside, and nothing else calls.
COUNTED_CALL = "_operator_call"
EXPECTED_CACHE = {"miss": b"miss", "warm": b"hit", "off": None}
# What the server does by the clock would come ~50 times as often per request under
# callgrind's slowdown: the list sizes' re-check (every second) is put off past the count. A
# warm PostgreSQL side still renews its version lease every 0.125 s, at callgrind's pace.
COUNTED_ENV = {"IMPACT_GRAPH_STORE_CHECK_SECONDS": "86400"}
_COLLECTED = re.compile(rb"Collected : (\d+)")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument(
        "--versus", default="off:miss", help="two cache modes of ours (off, warm, miss)"
    )
    parser.add_argument("--requests", type=int, default=300, help="counted, per side")
    parser.add_argument("--queries", default="traversal,node")
    parser.add_argument("--stores", default="postgresql,sqlite")
    parser.add_argument("--jobs", type=int, default=2, help="sides counted at once")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # a counted process's own
    parser.add_argument("--body", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


class _Transport(asyncio.Transport):
    """What uvicorn writes a response to: kept in memory. A response with a Content-Length
    (every answer here) is written as its head, then its body: the second write ends it."""

    def __init__(self, answered: Callable[[], None]) -> None:
        super().__init__()
        self.written = bytearray()
        self.writes = 0
        self.answered = answered
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.writes == 0:  # a response's head: the last response is all that is kept
            self.written.clear()
        self.written += data
        self.writes += 1
        if self.writes == 2:
            self.writes = 0
            self.answered()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        peers = {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}
        return peers.get(name, default)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def _checked(response: bytes, side: str) -> None:
    """A counted request must be the one meant: answered, and hit or missed as the side says."""
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in lines[1:])
    if not lines[0].endswith(b" 200 OK") or "errors" in json.loads(body):
        raise SystemExit(f"{side}: not answered: {response[:300]!r}")
    if headers.get(b"x-cache") != EXPECTED_CACHE[side]:
        raise SystemExit(f"{side}: X-Cache {headers.get(b'x-cache')!r}, not as meant")


def _count_in_process(side: str, body: bytes, requests: int) -> None:
    """Inside callgrind: the app as `serve` builds it, warmed up, then the counted requests."""
    import uvloop
    from uvicorn.lifespan.on import LifespanOn
    from uvicorn.server import ServerState

    from core.config import get_settings
    from server.app import create_app
    from server.connections import EdgeProtocol, edge_config
    from server.observe import configure_access_log

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    settings = get_settings()
    configure_access_log(settings.log_level)
    config = edge_config(create_app(settings), settings)
    config.load()
    lifespan = LifespanOn(config)
    loop.run_until_complete(lifespan.startup())
    waiting: list[asyncio.Future[None]] = []
    transport = _Transport(lambda: waiting.pop().set_result(None))
    protocol = EdgeProtocol(config, ServerState(), lifespan.state, loop)
    protocol.connection_made(transport)
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
        b"Accept: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )

    async def answer(count: int) -> None:
        for _ in range(count):
            answered = loop.create_future()
            waiting.append(answered)
            protocol.data_received(request)
            await answered

    loop.run_until_complete(answer(WARMUP_REQUESTS))
    _checked(bytes(transport.written), side)
    gc.collect()
    gc.freeze()  # as `serve` does after start-up
    operator.call(loop.run_until_complete, answer(requests))  # counted
    _checked(bytes(transport.written), side)
    protocol.connection_lost(None)
    loop.run_until_complete(lifespan.shutdown())


def _counted(side: str, url: str, body: bytes, requests: int, valgrind: str) -> int:
    """Instructions a request costs on `side`, over `requests` requests."""
    env = {**os.environ, **OURS_ENV, **CACHE_ENV[side], **COUNTED_ENV, "DATABASE_URL": url}
    command = [
        valgrind,
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--toggle-collect={COUNTED_CALL}",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.instructions",
        "--side",
        side,
        "--body",
        body.decode(),
        "--requests",
        str(requests),
    ]
    done = subprocess.run(command, env=env, capture_output=True, check=False)  # noqa: S603
    found = _COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found or int(found[-1]) == 0:  # 0: the toggle never fired
        raise SystemExit(f"{side}: the counted run failed:\n{done.stderr.decode()[-2000:]}")
    return int(found[-1]) // requests


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.side is not None:  # the counted process
        _count_in_process(args.side, args.body.encode(), args.requests)
        return 0
    sides = tuple(args.versus.split(":"))
    if len(sides) != 2 or not set(sides) <= set(CACHE_ENV):
        raise SystemExit(f"--versus: two of {', '.join(CACHE_ENV)} (as off:miss)")
    valgrind = ensure_command("valgrind")
    stores = {store.backend: store for store in seed_stores(args.postgres)}
    bodies = {query.name: query.body for query in seed_dataset(stores).ours}
    first, second = sides
    print(f"{'store':<11} {'query':<10} {first:>12} {second:>12} {'ratio':>7} {'more':>8}")
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for backend in args.stores.split(","):
            for name in args.queries.split(","):
                url, body = stores[backend].url, bodies[name]
                counting = [
                    pool.submit(_counted, side, url, body, args.requests, valgrind)
                    for side in sides
                ]
                left, right = (count.result() for count in counting)
                print(
                    f"{backend:<11} {name:<10} {left:12,} {right:12,} {left / right:7.4f} "
                    f"{right - left:+8,}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
