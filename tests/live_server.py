"""The real server as a user starts it, for tests that drive it from another process (a
browser, Node clients): `impact-graph serve` on a free port over a new SQLite store."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.test_cli import COMMAND, free_port


@contextlib.contextmanager
def served(store: Path) -> Iterator[str]:
    """Serve a new SQLite store at `store` (migrated and seeded as it starts) and yield the
    URL of its /graphql once it answers; the server's output goes to `store` + `.log`."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{store}",
        "IMPACT_GRAPH_PORT": str(port),
        "IMPACT_GRAPH_LOG_LEVEL": "warning",
    }
    log = store.with_name(store.name + ".log")
    with log.open("w") as output:
        server = subprocess.Popen(
            [COMMAND, "serve"], env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, f"the server exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"the server never answered: {log.read_text()}"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        server.terminate()
        server.wait(timeout=30)
