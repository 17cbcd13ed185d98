"""Throughput and latency of the real server on loopback, for a few representative queries.

Starts `impact-graph serve` on a free port over a fresh store (SQLite file, or PostgreSQL with
--postgres), then drives it from this process with concurrent keep-alive clients for a fixed
time per query, and prints requests/s and latency percentiles. Bounded in time and count;
talks only to 127.0.0.1. Compare ratios between runs of one invocation: machines are noisy.

    .venv/bin/python bench/throughput.py [--seconds 5] [--clients 8] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

QUERIES = {
    "by-slug": '{ company(slug: "sony-music") { name foundedYear } }',
    "list-20": "{ programs { totalCount nodes { slug name kind } } }",
    "traversal": """{ companies { nodes { name programs(first: 50) { nodes { name
        partners { edges { citations { quote } node { name locations { nodes { name countryCode }
        } } } } } } } } }""",
}
MAX_REQUESTS = 200_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def drive(url: str, query: str, seconds: float, clients: int) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=30) as http:

        async def worker() -> None:
            while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
                start = time.perf_counter()
                response = await http.post(url, json={"query": query})
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200 or "errors" in response.json():
                    raise RuntimeError(f"bad answer: {response.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--postgres", help="PostgreSQL URL to bench against instead of SQLite")
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.postgres or f"sqlite:///{Path(tmp) / 'bench.db'}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "IMPACT_GRAPH_LOG_LEVEL": "warning",
            # The traversal's pages (20 x 50 x 20 x 20) are priced far over the default budget;
            # it stays as it was so that runs compare with earlier ones.
            "IMPACT_GRAPH_MAX_COST": str(10**9),
        }
        command = Path(sys.executable).with_name("impact-graph")
        server = subprocess.Popen(  # noqa: S603 (our own console command)
            [str(command), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}/graphql"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/readyz").raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        print(server.stdout.read() if server.stdout else "", file=sys.stderr)
                        return 1
                    time.sleep(0.2)
            store = "postgresql" if args.postgres else "sqlite"
            print(f"store={store} clients={args.clients} seconds={args.seconds}")
            print(f"{'query':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9}")
            for name, query in QUERIES.items():
                asyncio.run(drive(url, query, 0.5, args.clients))  # warm-up
                latencies = asyncio.run(drive(url, query, args.seconds, args.clients))
                latencies.sort()
                p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                print(
                    f"{name:<10} {len(latencies) / args.seconds:>8.0f} "
                    f"{statistics.median(latencies) * 1000:>8.2f} {p99 * 1000:>8.2f} "
                    f"{len(latencies):>9}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
