"""Many processes on one PostgreSQL and one Redis: `serve --workers 2` beside a second
`serve`, both real processes. A seed through the command line is seen at once by clients of
either, never a stale answer (nor a stale ETag), though every process answers from the
response cache they share in Redis."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from seeds.read import SEEDS_DIR
from tests.conftest import throwaway_database
from tests.factories import graph_data, without_program, write_seed_tree
from tests.serving import served
from tests.test_cli import run

REDIS_URL = "redis://127.0.0.1:6379/0"
DROPPED = "impact-fellows-program"  # the second seed set is the first less this program
QUERY = "{ programs(first: 50) { totalCount nodes { slug } } }"


def metrics_dirs(temporary: Path) -> set[Path]:
    return set(temporary.glob("impact-graph-metrics-*"))


def programs(body: dict[str, Any]) -> tuple[int, bool]:
    """How many programs an answer lists, and whether the dropped one is among them."""
    found = body["data"]["programs"]
    assert found["totalCount"] == len(found["nodes"]), body
    return found["totalCount"], {"slug": DROPPED} in found["nodes"]


def seed(settings: dict[str, str], seeds: Path) -> None:
    seeded = run("seed", env={**os.environ, **settings, "IMPACT_GRAPH_SEEDS_DIR": str(seeds)})
    assert seeded.returncode == 0, seeded.stderr


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A PostgreSQL database of its own, for server processes (dropped after)."""
    async with throwaway_database() as url:
        yield url


def test_a_seed_is_seen_at_once_by_every_process(tmp_path, database):
    smaller = write_seed_tree(tmp_path / "smaller", without_program(graph_data(), DROPPED))
    stores = {SEEDS_DIR: (23, True), smaller: (22, False)}
    settings = {"DATABASE_URL": database, "CACHE_URL": REDIS_URL}
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    temporary = tmp_path / "temporary"  # the workers' process's own, so others' do not count
    temporary.mkdir()
    with (
        served(tmp_path / "one", {**settings, "TMPDIR": str(temporary)}, ["--workers", "2"]) as one,
        served(tmp_path / "two", settings) as two,
    ):
        # the workers' metrics directory, made by the parent before they started
        assert len(metrics_dirs(temporary)) == 1
        tags: dict[str, str] = {}
        for seeds in (smaller, SEEDS_DIR):
            for base in (one, two):  # each has answered (and could keep) the store as it is
                got = httpx.get(f"{base}/graphql", params={"query": QUERY}, timeout=30)
                assert got.status_code == 200, got.text
                tags[base] = got.headers["etag"]
            # the answer kept in the shared cache: every process answers it from there
            shared = httpx.get(f"{two}/graphql", params={"query": QUERY}, timeout=30)
            assert shared.headers["x-cache"] == "hit"
            seed(settings, seeds)
            caches = []
            for base in (one, two) * 3:  # new connections: either worker may answer
                posted = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=30)
                assert programs(posted.json()) == stores[seeds], base
                caches.append(posted.headers["x-cache"])
                revalidated = httpx.get(
                    f"{base}/graphql",
                    params={"query": QUERY},
                    headers={"If-None-Match": tags[base]},
                    timeout=30,
                )
                assert revalidated.status_code == 200, "the old ETag still matched"
                assert programs(revalidated.json()) == stores[seeds], base
            # nothing was kept under the new version before the seed: the first answer is
            # built, and the later ones (checked above) come from the shared cache
            assert caches[0] == "miss", caches
            assert "hit" in caches[1:], caches
    assert metrics_dirs(temporary) == set()  # removed when the server stopped
