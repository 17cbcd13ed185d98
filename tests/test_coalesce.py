"""Coalesced reads (core/coalesce.py): one read serves every caller waiting when it started,
none is served by a read that began before its call, and a hung read fails its callers after
its bound."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from core.coalesce import Coalesced


class Reads:
    """A read whose results are numbered, that waits for `release` when told to."""

    def __init__(self) -> None:
        self.started = 0
        self.release: asyncio.Event | None = None
        self.first = asyncio.Event()

    async def begun(self) -> None:
        """Until a read has started."""
        await self.first.wait()

    async def __call__(self) -> int:
        self.started += 1
        self.first.set()
        number = self.started
        if self.release is not None:
            await self.release.wait()
        return number


async def a_hanging_read() -> tuple[Reads, Coalesced[int], asyncio.Task[int]]:
    """A read that hangs (never released) and its first caller, once the read has begun."""
    reads = Reads()
    reads.release = asyncio.Event()  # never set
    coalesced = Coalesced(reads, timeout=60)
    caller = asyncio.create_task(coalesced.get())
    await reads.begun()
    return reads, coalesced, caller


async def test_callers_at_once_share_one_read() -> None:
    reads = Reads()
    coalesced = Coalesced(reads, timeout=1)
    results = await asyncio.gather(*(coalesced.get() for _ in range(20)))
    assert results == [1] * 20
    assert reads.started == 1


async def test_a_caller_never_gets_a_read_that_started_before_its_call() -> None:
    reads = Reads()
    reads.release = asyncio.Event()
    coalesced = Coalesced(reads, timeout=1)
    first = asyncio.create_task(coalesced.get())
    await asyncio.sleep(0.01)  # read 1 is running
    assert reads.started == 1
    later = [asyncio.create_task(coalesced.get()) for _ in range(5)]
    await asyncio.sleep(0.01)
    reads.release.set()
    assert await first == 1
    assert [await task for task in later] == [2] * 5  # one more read, for all of them
    assert reads.started == 2


async def test_a_hung_read_fails_its_callers_after_its_bound() -> None:
    reads = Reads()
    reads.release = asyncio.Event()  # never set
    coalesced = Coalesced(reads, timeout=0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await coalesced.get()
    assert loop.time() - started < 0.5


async def test_a_caller_that_leaves_costs_the_others_nothing() -> None:
    reads = Reads()
    reads.release = asyncio.Event()
    coalesced = Coalesced(reads, timeout=1)
    leaving = asyncio.create_task(coalesced.get())
    staying = asyncio.create_task(coalesced.get())
    await asyncio.sleep(0.01)
    leaving.cancel()
    reads.release.set()
    assert await staying == 1
    assert leaving.cancelled()


async def test_an_error_reaches_every_caller_of_that_read_and_the_next_read_runs() -> None:
    calls = 0

    async def failing_once() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the store is away")
        return calls

    coalesced = Coalesced(failing_once, timeout=1)
    results = await asyncio.gather(*(coalesced.get() for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await coalesced.get() == 2


async def test_closing_stops_the_read_under_way_and_fails_its_callers() -> None:
    async with asyncio.timeout(5):
        reads, coalesced, caller = await a_hanging_read()
        await coalesced.aclose()
    with pytest.raises(TimeoutError):
        await caller
    with pytest.raises(TimeoutError):  # closed: no more reads
        await coalesced.get()
    assert reads.started == 1
    await coalesced.aclose()  # nothing under way: nothing to do


async def test_closing_before_a_read_began_fails_its_callers_too() -> None:
    reads = Reads()
    coalesced = Coalesced(reads, timeout=60)
    caller = asyncio.create_task(coalesced.get())
    await asyncio.sleep(0)  # the caller has asked; its read has not run yet
    await coalesced.aclose()
    done, _ = await asyncio.wait({caller}, timeout=5)
    assert caller in done
    with pytest.raises(TimeoutError):
        caller.result()
    assert reads.started == 0


async def test_a_read_runs_in_a_context_of_its_own_not_its_first_callers() -> None:
    """A read serves many callers and may outlive the first: what that caller's context holds
    (its request's span, so the read's statements in its trace) is not the read's."""
    request: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="none")

    async def read() -> str:
        return request.get()

    coalesced = Coalesced(read, timeout=1)
    request.set("the first caller's")
    assert await coalesced.get() == "none"


async def test_closing_fails_the_callers_waiting_for_the_next_read_too() -> None:
    """A caller that came while the read was under way waits for the next one: closing fails
    it as well, rather than leaving it waiting for a read that will never start."""
    async with asyncio.timeout(5):
        reads, coalesced, first = await a_hanging_read()
        later = asyncio.create_task(coalesced.get())
        await asyncio.sleep(0.001)  # (it waits for the next read)
        await coalesced.aclose()
        for caller in (first, later):
            with pytest.raises(TimeoutError):
                await caller
    assert reads.started == 1


async def test_callers_that_came_during_a_failed_read_get_the_next_read() -> None:
    """A read fails its own callers only: those that came while it ran get the next read's
    result."""
    reads = Reads()
    reads.release = asyncio.Event()

    async def read() -> int:
        number = await reads()
        if number == 1:
            raise ConnectionError("the store went away")
        return number

    coalesced = Coalesced(read, timeout=5)
    first = asyncio.create_task(coalesced.get())
    async with asyncio.timeout(5):
        await reads.begun()
        later = asyncio.create_task(coalesced.get())
        await asyncio.sleep(0.001)  # (it waits for the next read)
        reads.release.set()
        with pytest.raises(ConnectionError):
            await first
        assert await later == 2
