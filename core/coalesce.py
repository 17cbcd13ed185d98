"""Coalesced reads: one read serves every caller that was waiting when it started.

A caller never gets the result of a read that began before it called, so what it learns is
never older than its own call (the data version a cached answer is looked up by must be); and
however many callers arrive at once, at most one read runs and at most one more is due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalesced(Generic[T]):
    """`await get()` returns the result of a `read()` that started after the call."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._running: asyncio.Task[T] | None = None
        self._started = 0  # reads started so far: a caller waits for a later one than it saw

    async def get(self) -> T:
        seen = self._started
        while True:
            running = self._running
            if running is None or running.done():
                running = self._start()
                return await asyncio.shield(running)
            if self._started > seen:  # it started after this call: it serves this call
                return await asyncio.shield(running)
            # a read from before this call: wait for it to end, then join (or start) the next
            await asyncio.wait([running])

    def _start(self) -> asyncio.Task[T]:
        async def read() -> T:
            return await self._read()

        task = asyncio.create_task(read())
        task.add_done_callback(_retrieve)
        self._running = task
        self._started += 1
        return task


def _retrieve(task: asyncio.Task[T]) -> None:
    """Its error is its waiters' to report; with none left (all timed out) it is not lost."""
    if not task.cancelled():
        task.exception()
