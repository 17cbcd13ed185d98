"""The real server on a free port over a fresh SQLite store, a throwaway Redis, and scripts of
tests/browser/ driving Debian's chromium against it (playwright-core; every request to another
host aborted). Screenshots are kept in test-output/ (ignored by git).

A fresh store is a copy of one `impact-graph seed` made once per run: a server starts ~2 s
sooner than one that migrates and seeds an empty store (which `test_cli` and
`test_adding_a_document` start, and see seed it)."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from redis import Redis
from redis.exceptions import RedisError

from tests.test_cli import COMMAND, free_port

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
NODE = shutil.which("node") or "node"  # the machines' Node 20
PERSIST_NOTHING = ("--save", "", "--appendonly", "no")  # a throwaway Redis's settings


@dataclass(frozen=True)
class Served:
    """A running `impact-graph serve`: its base URL, its process and its log file."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])


@cache
def _seeded_store() -> Path:
    """The seed data in a store of the current schema, as `impact-graph seed` writes it."""
    directory = Path(tempfile.mkdtemp(prefix="impact-graph-seeded-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "seeded.db"
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    seeded = subprocess.run(
        [COMMAND, "seed"], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert seeded.returncode == 0, seeded.stderr
    return path


def copy_seeded_store(target: Path) -> None:
    """A copy through SQLite's backup (whole, whatever its write-ahead log holds)."""
    with (
        closing(sqlite3.connect(_seeded_store())) as source,
        closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)


@contextmanager
def served(
    directory: Path, settings: Mapping[str, str] | None = None, arguments: Sequence[str] = ()
) -> Iterator[str]:
    """`impact-graph serve` on a free port over a new SQLite store in `directory` (a copy of
    the seeded one, see above), or over the store and seeds `settings` name (environment variables:
    `DATABASE_URL`, `IMPACT_GRAPH_SEEDS_DIR`, ...), with `arguments` (`--workers 2`); yields
    its base URL once it answers. Its output goes to served.log in `directory`."""
    with serving(directory, settings, arguments=arguments) as server:
        yield server.base


@contextmanager
def serving(
    directory: Path,
    settings: Mapping[str, str] | None = None,
    *,
    arguments: Sequence[str] = (),
    open_files: int | None = None,
) -> Iterator[Served]:
    """`served`, yielding the process too (to signal it, read its log); `open_files` sets its
    `ulimit -n`."""
    port = free_port()
    store = directory / "served.db"
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{store}",
        "IMPACT_GRAPH_PORT": str(port),
        "IMPACT_GRAPH_LOG_LEVEL": "warning",
        **(settings or {}),
    }
    own_seeds = "IMPACT_GRAPH_SEEDS_DIR" in environment  # the server seeds what they hold
    if environment["DATABASE_URL"] == f"sqlite:///{store}" and not store.exists() and not own_seeds:
        copy_seeded_store(store)
    command = [COMMAND, "serve", *arguments]
    if open_files is not None:  # the shell sets the limit and becomes the server
        command = ["sh", "-c", f'ulimit -n {open_files} && exec "$0" serve "$@"', COMMAND]
        command += arguments

    log = directory / "served.log"
    with log.open("w") as output:
        server = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, f"the server exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"the server never answered: {log.read_text()}"
            time.sleep(0.1)
        yield Served(base, server, log)
    finally:
        server.terminate()
        server.wait(timeout=30)


def drive(script: str, *args: str) -> Any:
    """Run tests/browser/<script> with the arguments; what it printed last, read as JSON."""
    return _driven([NODE, str(BROWSER_DIR / script), *args], None, 180)


def drive_module(source: str, timeout: float) -> Any:
    """Run the ES module `source` from tests/browser/ (where playwright-core is found); what
    it printed last, read as JSON."""
    return _driven([NODE, "--input-type=module"], source, timeout)


def _driven(command: list[str], source: str | None, timeout: float) -> Any:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), "chromium is missing: `make test` installs it (apt-get)"
    assert (BROWSER_DIR / "node_modules" / "playwright-core").is_dir(), "run `make test`"
    OUTPUT.mkdir(exist_ok=True)
    driven = subprocess.run(
        command,
        input=source,
        cwd=BROWSER_DIR,
        env={**os.environ, "CHROMIUM": chromium},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert driven.returncode == 0, driven.stderr[-2000:]
    return json.loads(driven.stdout.strip().splitlines()[-1])


def fill_up(redis: Redis) -> None:
    """Make `redis` full with no eviction policy: it refuses every write from now on (a
    limit of its memory in use less a byte would not do: the memory a reply held is freed
    once it is sent, and a write could slip in under it)."""
    redis.config_set("maxmemory-policy", "noeviction")
    redis.config_set("maxmemory", 1)


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A throwaway Redis of our own on `port`, to take away and bring back; nothing kept."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is missing (Debian's redis-server package)"
    server = subprocess.Popen(
        [binary, *("--port", str(port), "--bind", "127.0.0.1"), *PERSIST_NOTHING],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with Redis(port=port, socket_timeout=1) as probe:
                    if probe.ping():
                        break
            except RedisError:  # not listening yet
                pass
            assert server.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server never answered"
            time.sleep(0.05)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A plain HTTP server of the test's own on a free port (another origin's page, a trace
    collector), answered by `handler` on a thread; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
