"""Version leases on a PostgreSQL primary (db/lease.py): while a lease holds, cached answers
are served without reading the data version; no lease is granted while a seed is announced; a
seed commits no sooner than a lease after its announcement, one seed at a time, and a seed
that fails or is stopped takes its announcement back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import BigInteger, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import lease, state, watch
from db.engine import create_engine
from db.models import StoreState
from db.raw import SqlText, Statements, precompile
from seeds.read import SeedPlan, read_seeds
from seeds.write import write_seeds
from tests.conftest import (
    NO_STORE_CHECK,
    StatementCounter,
    Store,
    make_client,
    read_snapshot,
    throwaway_database,
)
from tests.factories import graph_data, write_seed_tree
from tests.test_cli import COMMAND, run

pytestmark = pytest.mark.postgres

QUERY = "{ programs(first: 50) { nodes { slug description } } }"
EDITED = "An edited description."


@dataclass
class Clock:
    """The lease clock, standing still until a test moves it."""

    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    stopped = Clock()
    monkeypatch.setattr(watch, "lease_clock", stopped)
    return stopped


def version_reads(statements: list[str], engine: AsyncEngine) -> int:
    """The statements that read the data version, with a lease or without."""
    texts = {
        precompile(query, engine.dialect).text
        for query in (lease.lease_query(), state.version_query())
    }
    return sum(statement in texts for statement in statements)


def is_lease_read(sql: SqlText) -> bool:
    """Whether a statement is the read that may grant a lease."""
    return "pg_is_in_recovery" in sql.text


async def hit(http: httpx.AsyncClient) -> httpx.Response:
    answer = await http.post("/graphql", json={"query": QUERY})
    assert answer.status_code == 200, answer.text
    return answer


@dataclass
class Reads:
    """What the app has sent so far: called, its version reads; `looks`, its looks whether an
    announced seed is gone."""

    sent: StatementCounter
    engine: AsyncEngine

    def __call__(self) -> int:
        return version_reads(self.sent.statements, self.engine)

    def looks(self) -> int:
        return self.sent.statements.count(precompile(lease.gone_query(), self.engine.dialect).text)


@pytest.fixture
def looks_started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tokens the app started a look for, as it starts each (a statement is counted only
    once it ended)."""
    started: list[int] = []
    look = watch.StoreWatch._look_for_seed

    async def counted(watch: watch.StoreWatch, token: int) -> None:
        started.append(token)
        await look(watch, token)

    monkeypatch.setattr(watch.StoreWatch, "_look_for_seed", counted)
    return started


@contextlib.asynccontextmanager
async def leased(
    store: Store, plan: SeedPlan, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Reads]]:
    """A client of an app over the seeded store, after a miss (which reads no version) and a
    hit (whose read grants the lease); and what it has read so far."""
    await write_seeds(store.engine, plan)
    # no periodic look at the store's state (db/watch.py `snapshot`): only hits read
    settings = {**NO_STORE_CHECK, **settings}
    with StatementCounter(store.engine) as sent:  # (before the app holds its connections)
        async with make_client(store.engine, **settings) as http:
            reads = Reads(sent, store.engine)
            assert (await hit(http)).headers["x-cache"] == "miss"
            assert (await hit(http)).headers["x-cache"] == "hit"
            assert reads() == 1
            yield http, reads


def edited_plan(tmp_path: Path) -> SeedPlan:
    data = graph_data()
    data["programs"][0]["description"] = EDITED
    return read_seeds(write_seed_tree(tmp_path / "edited", data))


async def announcement(engine: AsyncEngine) -> int | None:
    """The announced seed's token."""
    async with engine.connect() as connection:
        found: int | None = await connection.scalar(
            select(StoreState.value).where(StoreState.key == state.SEEDING)
        )
    return found


async def announced(engine: AsyncEngine) -> bool:
    return await announcement(engine) is not None


async def until_announced(engine: AsyncEngine, other_than: int | None = None) -> None:
    """Polled: the announcement is another connection's commit, with nothing here to wait on."""
    async with asyncio.timeout(5):
        while True:
            if await announcement(engine) not in (None, other_than):
                return
            await asyncio.sleep(0.002)


async def test_while_a_lease_holds_no_version_is_read(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock
) -> None:
    async with leased(empty_store, seed_plan) as (http, reads):
        answers = [await hit(http) for _ in range(20)]
        assert {a.headers["x-cache"] for a in answers} == {"hit"}
        assert reads() == 1  # served under the lease
        clock.now += lease.LEASE_SECONDS  # lapsed: the next request reads, and is leased again
        await hit(http)
        await hit(http)
        assert reads() == 2

    async with leased(empty_store, seed_plan, version_leases=False) as (http, reads):
        for _ in range(5):
            assert (await hit(http)).headers["x-cache"] == "hit"
        assert reads() == 1 + 5  # without leases, one read a request


async def test_a_lease_counts_from_before_its_read(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot a read sees is taken after the read is sent: the lease starts then, not
    when the answer comes back (here the read takes 0.6 of a lease)."""
    fetch_row = Statements.fetch_row

    async def slow(statements: Statements, sql: SqlText, parameters: dict[str, Any]) -> Any:
        row = await fetch_row(statements, sql, parameters)
        if is_lease_read(sql):
            clock.now += 0.6 * lease.LEASE_SECONDS
        return row

    monkeypatch.setattr(Statements, "fetch_row", slow)
    async with leased(empty_store, seed_plan) as (http, reads):
        clock.now += 0.5 * lease.LEASE_SECONDS  # 1.1 leases after the read was sent
        await hit(http)
        assert reads() == 2


async def test_a_read_that_an_executor_outran_grants_no_lease(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An executor read a newer version while a version read was on its way: the version
    that read brings back is no current one, and grants no lease (answers kept under it
    would be served a lease long after the newer one was seen)."""
    watches: list[watch.StoreWatch] = []
    made = watch.StoreWatch.__init__

    def kept(self: watch.StoreWatch, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        watches.append(self)

    fetch_row = Statements.fetch_row
    outran = False

    async def outrun(statements: Statements, sql: SqlText, parameters: dict[str, Any]) -> Any:
        nonlocal outran
        row = await fetch_row(statements, sql, parameters)
        if is_lease_read(sql) and row is not None and not outran:
            outran = True  # (once: the newer version is seen as this read comes back)
            deadline = asyncio.get_running_loop().time() + 5
            await watches[0].saw(row[0] + 1, deadline)
        return row

    monkeypatch.setattr(watch.StoreWatch, "__init__", kept)
    async with leased(empty_store, seed_plan) as (http, reads):
        monkeypatch.setattr(Statements, "fetch_row", outrun)
        clock.now += lease.LEASE_SECONDS  # lapsed: the next hit reads, and is outrun
        await hit(http)
        assert (outran, reads()) == (True, 2)
        await hit(http)  # no lease: read again
        assert reads() == 3


async def test_a_lease_half_through_is_renewed_while_it_holds(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock
) -> None:
    async with leased(empty_store, seed_plan) as (http, reads):
        clock.now += lease.RENEW_AFTER_SECONDS
        assert (await hit(http)).headers["x-cache"] == "hit"  # served under the lease it holds
        for _ in range(1_000):  # the renewal runs after the request (on a slow machine: 5 s)
            if reads() > 1:
                break
            await asyncio.sleep(0.005)
        assert reads() == 2
        clock.now += 0.6 * lease.LEASE_SECONDS  # the first lapsed; the renewed one holds
        for _ in range(5):
            await hit(http)
        assert reads() == 2


async def test_a_renewal_that_fails_is_not_tried_again_under_the_same_lease(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nor does it end the lease: requests go on under it until it lapses, then read."""
    await write_seeds(empty_store.engine, seed_plan)
    fetch_row = Statements.fetch_row
    failing: list[int] = []

    async def flaky(statements: Statements, sql: SqlText, parameters: dict[str, Any]) -> Any:
        if is_lease_read(sql) and failing:
            failing.append(1)
            raise OSError("the store went away")
        return await fetch_row(statements, sql, parameters)

    monkeypatch.setattr(Statements, "fetch_row", flaky)
    async with make_client(empty_store.engine, **NO_STORE_CHECK) as http:
        await hit(http)
        await hit(http)  # leased
        failing.append(0)
        clock.now += lease.RENEW_AFTER_SECONDS
        for _ in range(10):
            assert (await hit(http)).headers["x-cache"] == "hit"
            await asyncio.sleep(0.01)  # a renewal, had one started, runs meanwhile
        assert len(failing) == 2  # one renewal, failed
        clock.now += lease.RENEW_AFTER_SECONDS  # lapsed: requests read (and fail: uncached)
        await hit(http)
        assert len(failing) == 3


async def test_a_renewal_under_way_ends_with_the_app(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renewal belongs to no request: the app's shutdown stops it before the statements
    and the engine it reads with are closed (not by the read's own bound, here a minute)."""
    await write_seeds(empty_store.engine, seed_plan)
    monkeypatch.setattr(watch, "VERSION_READ_SECONDS", 60)
    fetch_row = Statements.fetch_row
    close = Statements.close
    hanging = asyncio.Event()
    ended: list[str] = []

    async def closing(statements: Statements) -> None:
        ended.append("statements closed")
        await close(statements)

    async def hangs(statements: Statements, sql: SqlText, parameters: dict[str, Any]) -> Any:
        if is_lease_read(sql) and hanging.is_set():
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                ended.append("cancelled")
                raise
        return await fetch_row(statements, sql, parameters)

    monkeypatch.setattr(Statements, "fetch_row", hangs)
    monkeypatch.setattr(Statements, "close", closing)
    async with asyncio.timeout(10):
        async with make_client(empty_store.engine) as http:
            await hit(http)
            await hit(http)
            hanging.set()
            clock.now += lease.RENEW_AFTER_SECONDS
            await hit(http)  # starts the renewal, which hangs
            await asyncio.sleep(0.05)
            assert ended == []
    assert ended == ["cancelled", "statements closed"]


async def looked(reads: Reads, looks: int) -> None:
    """Polled: the app's look (a task of its own, beside the reads) has ended."""
    async with asyncio.timeout(5):
        while reads.looks() < looks:  # noqa: ASYNC110 (another connection's statement)
            await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # (counted as its answer came; the app takes it in after)


async def a_dead_seed_found(http: httpx.AsyncClient, reads: Reads, clock: Clock) -> int:
    """With a dead seed's announcement in the store and the lease lapsed: the read that finds
    it (no lease), one a LOOK_SECONDS later, whose look finds the seed gone. The version
    reads so far."""
    clock.now += lease.LEASE_SECONDS
    await hit(http)  # first found: no look yet (an ordinary seed is gone before one)
    clock.now += lease.LOOK_SECONDS
    await hit(http)  # found a LOOK_SECONDS later: the look starts, beside the read
    await looked(reads, 1)
    return reads()


async def test_an_older_seeders_announcement_stops_every_lease_until_the_next_seed(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock, tmp_path: Path, looks_started: list[int]
) -> None:
    """An announcement whose token does not say its seed holds a lock (an older seeder's)
    keeps every request reading the version, and so exact, however long it stands (it is
    never looked at); the next seed replaces it and its commit removes it."""
    async with leased(empty_store, seed_plan) as (http, reads):
        await lease.announce(empty_store.engine, lease.new_token() & ~lease.LOCKED_TOKEN)
        for _ in range(5):
            clock.now += lease.LEASE_SECONDS + lease.LOOK_SECONDS
            await hit(http)
        assert (reads(), looks_started) == (1 + 5, [])

        await write_seeds(empty_store.engine, edited_plan(tmp_path))
        assert not await announced(empty_store.engine)
        assert EDITED in (await hit(http)).text
        before = reads()
        for _ in range(5):
            assert EDITED in (await hit(http)).text
        assert reads() == before  # leased again


async def test_a_dead_seeds_announcement_is_found_and_leases_resume(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An announcement whose seed holds no lock (as one killed outright leaves it): reads find
    it (no lease), a look finds the seed gone, and only a read sent after that look takes the
    announcement for a dead seed's and grants a lease again (the store keeps it)."""
    engine = empty_store.engine
    token = lease.new_token()
    # the look's connection stays held (not back to the pool, which would end a transaction
    # a lock might have outlived its statement in)
    monkeypatch.setattr(Statements, "IDLE_SECONDS", 60)
    async with leased(empty_store, seed_plan) as (http, reads):
        await lease.announce(engine, token)
        assert await a_dead_seed_found(http, reads, clock) == 3
        async with engine.connect() as connection:  # the look held the lock for itself alone
            exclusive = select(func.pg_try_advisory_xact_lock(literal(token, BigInteger)))
            assert await connection.scalar(exclusive)
        await hit(http)  # read sent as the look ended (the clock stands): not after it
        assert reads() == 4
        clock.now += 0.001
        await hit(http)  # read sent after the look: the announcement is a dead seed's
        for _ in range(5):
            assert (await hit(http)).headers["x-cache"] == "hit"
        assert (reads(), reads.looks()) == (5, 1)
        assert await announced(engine)


async def test_a_seed_found_dead_stays_dead_lease_after_lease(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a read has taken an announcement for a dead seed's, every later lease is granted
    under it however long it stands: one read a lease, and no look again."""
    monkeypatch.setattr(Statements, "IDLE_SECONDS", 60)  # (as the test above: the look's)
    async with leased(empty_store, seed_plan) as (http, reads):
        await lease.announce(empty_store.engine, lease.new_token())
        await a_dead_seed_found(http, reads, clock)
        clock.now += 0.001
        await hit(http)  # read sent after the look: the announcement is a dead seed's
        taken, looks = reads(), reads.looks()
        for _ in range(4):
            clock.now += lease.LEASE_SECONDS + lease.LOOK_SECONDS  # each lease lapsed
            for _ in range(3):
                assert (await hit(http)).headers["x-cache"] == "hit"
        assert (reads(), reads.looks()) == (taken + 4, looks)
        assert await announced(empty_store.engine)


async def test_a_seed_after_a_dead_one_is_live(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock, tmp_path: Path
) -> None:
    """A dead seed's token found gone, then a new seed announces before any read confirms it:
    what the reads find now is the new seed's token, and no lease is granted under it."""
    engine = empty_store.engine
    async with leased(empty_store, seed_plan) as (http, reads):
        dead = lease.new_token()
        await lease.announce(engine, dead)
        before = await a_dead_seed_found(http, reads, clock)
        async with engine.connect() as holder:
            await holder.execute(text("LOCK TABLE programs IN SHARE MODE"))
            seeding = asyncio.create_task(write_seeds(engine, edited_plan(tmp_path)))
            await until_announced(engine, other_than=dead)  # and held before its commit
            clock.now += 0.001
            for _ in range(5):
                assert EDITED not in (await hit(http)).text
            assert reads() == before + 5
            await holder.rollback()
        async with asyncio.timeout(10):
            await seeding
        assert EDITED in (await hit(http)).text


async def test_a_look_that_fails_finds_no_seed_gone(
    empty_store: Store,
    seed_plan: SeedPlan,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetch_row = Statements.fetch_row
    failed = 0

    async def failing(statements: Statements, sql: SqlText, parameters: dict[str, Any]) -> Any:
        nonlocal failed
        if "pg_try_advisory_xact_lock_shared" in sql.text:
            await fetch_row(statements, sql, parameters)  # (sent, and counted)
            failed += 1
            raise OSError("the store went away")
        return await fetch_row(statements, sql, parameters)

    monkeypatch.setattr(Statements, "fetch_row", failing)
    async with leased(empty_store, seed_plan) as (http, reads):
        await lease.announce(empty_store.engine, lease.new_token())
        before = await a_dead_seed_found(http, reads, clock)
        clock.now += 0.001
        for _ in range(5):
            await hit(http)
        assert reads() == before + 5
        for looks in (2, 3):  # each failing too, a LOOK_SECONDS apart: no more lines
            clock.now += lease.LOOK_SECONDS
            await hit(http)
            await looked(reads, looks)
    lines = [r.getMessage() for r in caplog.records if r.name == watch.failed_looks.name]
    assert lines == ["looking whether a seed is gone failed: OSError: the store went away"]
    assert failed == 3


async def test_version_reads_not_in_time_are_one_line(
    empty_store: Store,
    seed_plan: SeedPlan,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the store does not say its data version in time, a kept answer is not served
    (it may be stale): each request is answered uncached, and the log has one line for them
    all, not one a request."""
    monkeypatch.setattr(watch, "VERSION_READ_SECONDS", 0.05)
    fetch_row = Statements.fetch_row
    hanging = asyncio.Event()
    slowed = 0

    async def slow(statements: Statements, sql: SqlText, parameters: dict[str, Any]) -> Any:
        nonlocal slowed
        if is_lease_read(sql) and hanging.is_set():
            slowed += 1
            await asyncio.sleep(0.5)  # ten times the read's bound
        return await fetch_row(statements, sql, parameters)

    monkeypatch.setattr(Statements, "fetch_row", slow)
    async with leased(empty_store, seed_plan) as (http, _):
        hanging.set()
        for _ in range(3):
            clock.now += lease.LEASE_SECONDS  # no lease holds: each hit reads
            assert (await hit(http)).headers["x-cache"] == "miss"
    assert slowed >= 2  # (a read not ended may serve the next request too)
    lines = [r.getMessage() for r in caplog.records if r.name == watch.slow_reads.name]
    assert lines == ["the data version was not read in time"]


async def test_a_standby_never_looks(
    empty_store: Store,
    seed_plan: SeedPlan,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    looks_started: list[int],
) -> None:
    """A standby sees none of the primary's locks: a server reading one grants no lease, nor
    looks whether a seed is gone (it would find every seed gone)."""
    fetch_row = Statements.fetch_row

    async def standby(statements: Statements, sql: SqlText, parameters: dict[str, Any]) -> Any:
        row = await fetch_row(statements, sql, parameters)
        return (*row[:2], True) if is_lease_read(sql) and row is not None else row

    monkeypatch.setattr(Statements, "fetch_row", standby)
    await write_seeds(empty_store.engine, seed_plan)
    await lease.announce(empty_store.engine, lease.new_token())
    with StatementCounter(empty_store.engine) as sent:
        async with make_client(empty_store.engine, **NO_STORE_CHECK) as http:
            reads = Reads(sent, empty_store.engine)
            await hit(http)  # a miss: reads no version
            for _ in range(5):
                clock.now += lease.LOOK_SECONDS
                assert (await hit(http)).headers["x-cache"] == "hit"
            assert (reads(), looks_started) == (5, [])
            for _ in range(3):  # within what a lease would hold: no lease, each hit reads
                assert (await hit(http)).headers["x-cache"] == "hit"
            assert reads() == 8


async def test_a_live_seeds_announcement_is_never_taken_for_dead(
    empty_store: Store, seed_plan: SeedPlan, clock: Clock, tmp_path: Path
) -> None:
    """A seed held before its commit (by a lock on a table it writes): however often the
    servers look, it is not gone, and every request reads the version until it commits."""
    engine = empty_store.engine
    async with leased(empty_store, seed_plan) as (http, reads):
        async with engine.connect() as holder:
            await holder.execute(text("LOCK TABLE programs IN SHARE MODE"))
            seeding = asyncio.create_task(write_seeds(engine, edited_plan(tmp_path)))
            await until_announced(engine)
            for number in range(5):
                clock.now += lease.LEASE_SECONDS + lease.LOOK_SECONDS
                assert EDITED not in (await hit(http)).text  # a look, once it stood a while
                await looked(reads, number)
                clock.now += 0.001
                assert EDITED not in (await hit(http)).text  # read after the look
            assert (reads(), reads.looks()) == (1 + 10, 4)
            await holder.rollback()
        async with asyncio.timeout(10):
            await seeding
        assert EDITED in (await hit(http)).text


async def test_a_seed_commits_a_lease_after_its_announcement(
    empty_store: Store, seed_plan: SeedPlan, tmp_path: Path
) -> None:
    """Watched from another connection: the announcement appears, and the new version only a
    whole lease later (the seed's own writes take less than that here)."""
    engine = empty_store.engine
    await write_seeds(engine, seed_plan)
    before = (await read_snapshot(engine)).version
    seen: dict[str, float] = {}

    async def watch() -> None:
        """`not yet`: when the last read that saw no announcement was sent (the announcement
        came after it); `committed`: when the first read that saw the new version came back
        (the commit came before it). Both err on the side of a shorter wait."""
        sql = lease.lease_query()
        async with engine.connect() as connection:
            while "committed" not in seen:
                sent = time.monotonic()
                version, token, _ = (await connection.execute(sql)).one()
                await connection.rollback()
                is_announced = token is not None
                if not is_announced and "announced" not in seen and version == before:
                    seen["not yet"] = sent
                if is_announced:
                    seen["announced"] = sent
                if version != before:
                    seen["committed"] = time.monotonic()
                await asyncio.sleep(0.002)

    watching = asyncio.create_task(watch())
    started = time.monotonic()
    await write_seeds(engine, edited_plan(tmp_path))
    took = time.monotonic() - started
    async with asyncio.timeout(5):
        await watching
    assert "announced" in seen  # (it lasts a whole lease: the watch cannot miss it)
    assert seen["committed"] - seen["not yet"] >= lease.LEASE_SECONDS
    assert took >= lease.LEASE_SECONDS * (1 + lease.CLOCK_RATE_ERROR)
    assert not await announced(engine)


def test_a_seed_waits_past_a_lease_on_the_slowest_clock():
    """A lease a server took just before the announcement stands LEASE_SECONDS on its own
    clock, which may run slow by CLOCK_RATE_ERROR, and the seeder's sleep may wake early by a
    hair: a seed commits only past all of it (the timing test above cannot tell, the seed's
    writing counted in its time)."""
    longest_lease = lease.LEASE_SECONDS * (1 + lease.CLOCK_RATE_ERROR)
    assert lease.seed_wait_seconds() - longest_lease >= lease.SEED_MARGIN_SECONDS > 0


async def test_a_stopped_seed_takes_its_announcement_back(
    empty_store: Store, seed_plan: SeedPlan, tmp_path: Path
) -> None:
    engine = empty_store.engine
    await write_seeds(engine, seed_plan)
    before = await read_snapshot(engine)
    seeding = asyncio.create_task(write_seeds(engine, edited_plan(tmp_path)))
    await until_announced(engine)
    seeding.cancel()
    with pytest.raises(asyncio.CancelledError):
        await seeding
    assert not await announced(engine)
    assert await read_snapshot(engine) == before
    async with make_client(engine) as http:
        assert EDITED not in (await hit(http)).text


async def test_seeds_take_turns(empty_store: Store, seed_plan: SeedPlan, tmp_path: Path) -> None:
    """Two seeds at once: the second waits for the first to commit, then commits its own."""
    engine = empty_store.engine
    await write_seeds(engine, seed_plan)
    first = asyncio.create_task(write_seeds(engine, edited_plan(tmp_path)))
    await until_announced(engine)
    reports: list[Any] = await asyncio.gather(first, write_seeds(engine, seed_plan))
    assert [report.changed for report in reports] == [True, True]
    assert not await announced(engine)
    async with make_client(engine) as http:
        assert EDITED not in (await hit(http)).text  # the second's, whole


async def until_waiting_on_a_lock(engine: AsyncEngine) -> None:
    """Polled: some session of the database waits for a lock another holds."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(10):
        while True:
            async with engine.connect() as connection:
                if await connection.scalar(waiting):
                    return
            await asyncio.sleep(0.01)


@dataclass
class HeldSeed:
    """`impact-graph seed` of an edited tree over a seeded database of its own, held between
    its announcement and its commit by a lock on the table it writes."""

    engine: AsyncEngine
    before: state.StoreSnapshot
    process: asyncio.subprocess.Process
    holder: AsyncConnection

    async def let_go(self) -> None:
        await self.holder.rollback()

    async def stopped(self, signal_number: int) -> str:
        """Its stderr, once `signal_number` ended it."""
        self.process.send_signal(signal_number)
        async with asyncio.timeout(30):
            _, stderr = await self.process.communicate()
        assert self.process.returncode == -signal_number
        return stderr.decode()


@contextlib.asynccontextmanager
async def held_seed(tmp_path: Path) -> AsyncIterator[HeldSeed]:
    async with throwaway_database() as url:
        environment = {**os.environ, "DATABASE_URL": url}
        seeded = await asyncio.to_thread(run, "seed", env=environment)
        assert seeded.returncode == 0, seeded.stderr
        engine = create_engine(url)
        try:
            before = await read_snapshot(engine)
            data = graph_data()
            data["programs"][0]["description"] = EDITED
            seeds = write_seed_tree(tmp_path / "edited", data)
            async with engine.connect() as holder:
                await holder.execute(text("LOCK TABLE programs IN SHARE MODE"))
                seeding = await asyncio.create_subprocess_exec(
                    COMMAND,
                    "seed",
                    env={**environment, "IMPACT_GRAPH_SEEDS_DIR": str(seeds)},
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                await until_announced(engine)
                await until_waiting_on_a_lock(engine)  # its update of a program
                yield HeldSeed(engine, before, seeding, holder)
        finally:
            await engine.dispose()


async def test_sigterm_stops_a_seed_which_takes_its_announcement_back(tmp_path: Path) -> None:
    """`impact-graph seed`, sent SIGTERM (as a service manager or `timeout` stops it) between
    its announcement and its commit: it rolls back and withdraws, then ends as the signal
    would have ended it."""
    async with held_seed(tmp_path) as seed:
        stderr = await seed.stopped(signal.SIGTERM)
        assert not await announced(seed.engine)
        assert await read_snapshot(seed.engine) == seed.before
    assert stderr.endswith("stopped by SIGTERM\n")
    assert "Traceback" not in stderr


async def test_a_seed_killed_outright_is_found_dead_by_the_servers(
    tmp_path: Path, clock: Clock
) -> None:
    """SIGKILL between its announcement and its commit: the announcement stays, but once
    PostgreSQL ends the seed's session its lock is free, and a server takes the announcement
    for a dead seed's (a read, a look, a read after it) and leases again."""
    async with held_seed(tmp_path) as seed:
        await seed.stopped(signal.SIGKILL)
        await seed.let_go()
        engine = seed.engine
        token = await announcement(engine)
        assert token is not None
        gone = lease.gone_query()
        async with asyncio.timeout(10):  # (its session ends once its lock wait does)
            while True:
                async with engine.connect() as connection:
                    if await connection.scalar(gone, {"token": token}):
                        break
                await asyncio.sleep(0.01)
        assert await read_snapshot(engine) == seed.before
        with StatementCounter(engine) as sent:
            async with make_client(engine, **NO_STORE_CHECK) as http:
                reads = Reads(sent, engine)
                await hit(http)  # a miss: reads no version
                assert await a_dead_seed_found(http, reads, clock) == 2
                clock.now += 0.001
                for _ in range(5):
                    assert EDITED not in (await hit(http)).text
                assert (reads(), reads.looks()) == (3, 1)  # a read after the look, a lease
        assert await announced(engine)


async def test_a_seed_withdraws_only_its_own_announcement(empty_store: Store) -> None:
    """A seed that rolled back takes back its announcement, not another's: once its seed lock
    is let go, the next seed may have announced already, and leases granted over that
    announcement would serve answers its commit makes stale."""
    engine = empty_store.engine
    mine, next_seeds = lease.new_token(), lease.new_token()
    await lease.announce(engine, mine)
    await lease.announce(engine, next_seeds)  # (replacing mine, as a new seed's does)
    await lease.withdraw(engine, mine)
    assert await announcement(engine) == next_seeds
    await lease.withdraw(engine, next_seeds)
    assert await announcement(engine) is None


async def test_a_newer_version_an_executor_read_ends_the_lease(
    empty_store: Store,
    seed_plan: SeedPlan,
    clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A seed that neither announced itself nor waited (an older seeder) commits while a
    lease holds: the first answer executed under its version ends the lease, and the next
    hit reads the version again rather than serve the answer kept under the old one."""

    async def unannounced(engine: AsyncEngine, token: int) -> None:
        pass

    async with leased(empty_store, seed_plan) as (http, _):
        monkeypatch.setattr(lease, "announce", unannounced)
        monkeypatch.setattr(lease, "seed_wait_seconds", lambda: 0.0)
        await write_seeds(empty_store.engine, edited_plan(tmp_path))
        other = await http.post(
            "/graphql", json={"query": "{ programs(first: 1) { nodes { slug } } }"}
        )
        assert other.headers["x-cache"] == "miss"  # executed: it read the new version
        assert EDITED in (await hit(http)).text  # a miss, kept under the new version
        # found under it, then the version now: a lease still holding (its clock stands)
        # would say the old one, and the answer kept under that would be served
        again = await hit(http)
        assert again.headers["x-cache"] == "hit"
        assert EDITED in again.text
