"""Serving from a read replica: a real streaming replica of the local PostgreSQL (a hot
standby built by pg_basebackup, tests/replica.py) behind `DATABASE_READ_URL`, seeds and
migrations through `DATABASE_URL`. A seed reaches clients once the replica has replayed it,
and not before; with the replica down, readiness says so and queries answer 503 (the rule
README's "Running at scale" gives), until it is back."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, throwaway_database
from tests.factories import graph_data, without_program, write_seed_tree
from tests.replica import Replica, streaming_replica
from tests.serving import served
from tests.test_cli import run

DROPPED = "impact-fellows-program"
QUERY = {"query": "{ programs(first: 50) { totalCount } }"}
FULL, SMALLER = 23, 22  # programs in the seeds, and in the seeds less DROPPED
REPLAY_SECONDS = 60  # a busy machine; replay itself takes milliseconds


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with throwaway_database() as url:
        yield url


def programs(base: str) -> int:
    answer = httpx.post(f"{base}/graphql", json=QUERY, timeout=30)
    assert answer.status_code == 200, answer.text
    count: int = answer.json()["data"]["programs"]["totalCount"]
    return count


def eventually(condition: Callable[[], Any], seconds: float = REPLAY_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.1)


def replayed_version(replica: Replica, database: str) -> str:
    """The data version the replica has replayed, read on the replica itself."""
    name = make_url(database).database
    assert name is not None
    return replica.sql("SELECT value FROM store_state WHERE key = 'data_version'", name)


def test_a_server_reads_from_a_streaming_replica(tmp_path: Path, database: str):
    with streaming_replica(POSTGRES_URL) as replica:
        read_url = make_url(database).set(port=replica.port).render_as_string(False)
        settings = {"DATABASE_URL": database, "DATABASE_READ_URL": read_url}
        with served(tmp_path, settings) as base:  # it migrated and seeded the primary
            eventually(lambda: programs(base) == FULL)  # once the replica has replayed that

            # A seed through the primary while the replica is held back (as a lagging one):
            # clients still see the store the replica has, whole.
            replica.pause_replay()
            smaller = write_seed_tree(tmp_path / "smaller", without_program(graph_data(), DROPPED))
            environment = {**os.environ, **settings, "IMPACT_GRAPH_SEEDS_DIR": str(smaller)}
            seeded = run("seed", env=environment)
            assert seeded.returncode == 0, seeded.stderr
            assert [programs(base) for _ in range(5)] == [FULL] * 5

            # Replayed: every client sees the new store at once (a standby grants no version
            # lease, db/lease.py: the answers above are kept, yet not served), and nothing
            # goes back.
            held = replayed_version(replica, database)
            replica.resume_replay()
            deadline = time.monotonic() + REPLAY_SECONDS
            while replayed_version(replica, database) == held:
                assert time.monotonic() < deadline, f"not replayed within {REPLAY_SECONDS} s"
                time.sleep(0.02)
            assert [programs(base) for _ in range(5)] == [SMALLER] * 5

            # The replica down: not ready, and queries are 503 with Retry-After.
            replica.stop()
            ready = httpx.get(f"{base}/readyz", timeout=30)
            assert ready.status_code == 503
            assert ready.json() == {"status": "unavailable", "database": "unreachable"}
            down = httpx.post(f"{base}/graphql", json=QUERY, timeout=30)
            assert down.status_code == 503
            assert down.headers["retry-after"] == "1"
            codes = {e["extensions"]["code"] for e in down.json()["errors"]}
            assert codes == {"DATABASE_UNAVAILABLE"}
            assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200

            # Back: ready again, and answering, with nothing restarted.
            replica.start()
            eventually(lambda: httpx.get(f"{base}/readyz", timeout=30).status_code == 200)
            assert programs(base) == SMALLER
