"""Pin PostgreSQL to the load generator's core during runs, and put every process back after.

The servers under test own core 0; PostgreSQL shares core 1 with wrk, so database work is
never free CPU for the server. Each PostgreSQL process's affinity is saved before pinning;
backends forked while pinned inherit the pin, so on restore every process of the cluster
gets the postmaster's original affinity (its own saved one when it had one).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import asyncpg

from bench.procstats import tree


async def postmaster_pid(admin_url: str) -> int:
    """The parent of our own backend: the cluster's postmaster, found without matching names."""
    connection = await asyncpg.connect(admin_url)
    try:
        backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
        return _parent(backend)  # while the backend still exists
    finally:
        await connection.close()


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    return int(text[text.rindex(")") + 2 :].split()[1])


def _set(pid: int, cpus: set[int]) -> None:
    """Every thread of `pid` (what `taskset -a -p` does)."""
    with contextlib.suppress(OSError):
        for thread in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(thread), cpus)


@contextlib.contextmanager
def postgres_pinned(postmaster: int, cpu: int) -> Iterator[None]:
    saved: dict[int, set[int]] = {}
    for pid in tree(postmaster):
        with contextlib.suppress(OSError):
            saved[pid] = os.sched_getaffinity(pid)
    default = saved.get(postmaster, set(range(os.cpu_count() or 1)))
    try:
        for pid in saved:
            _set(pid, {cpu})
        yield
    finally:
        for pid in tree(postmaster):
            _set(pid, saved.get(pid, default))
