"""Coalesced reads: one read serves every caller that was waiting when it started.

A caller never gets the result of a read that began before it called, so what it learns is
never older than its own call (the data version a cached answer is served under must be); and
however many callers arrive at once, one read runs at a time: those who call while it runs
are served together by the next, which starts as it ends.

Each caller waits on a future of its own (cancelling one waiter touches nobody else's), and
each read is bounded by `timeout`: a read that hangs fails its callers with `TimeoutError`
after that long, rather than holding every request until its own deadline. Closed (the app
stopping), reads stop, and their callers, and any later ones, get `TimeoutError` at once.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalesced(Generic[T]):
    """`await get()` returns the result of a `read()` that started after the call."""

    def __init__(self, read: Callable[[], Awaitable[T]], timeout: float) -> None:
        self._read = read
        self._timeout = timeout
        self._waiting: list[asyncio.Future[T]] = []  # callers for the next read
        self._reading: asyncio.Task[None] | None = None  # the loop of reads, while callers wait
        self._closed = False

    async def get(self) -> T:
        if self._closed:
            raise TimeoutError("no more reads: closed")
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        if self._reading is None:
            # in a context of its own, not the first caller's: it serves many, and outlives
            # that one (a request's trace would otherwise hold statements run after it ended)
            self._reading = asyncio.create_task(self._serve(), context=contextvars.Context())
        return await waiter

    async def aclose(self) -> None:
        """Stop the read under way, if any, and wait (at most `timeout`) for it to end."""
        self._closed = True
        reading = self._reading
        if reading is not None:
            reading.cancel()
            await asyncio.wait({reading}, timeout=self._timeout)
        # a read cancelled before it began ran no `finally`: its callers are failed here
        self._reading = None
        _stopped([*self._waiting])
        self._waiting = []

    async def _serve(self) -> None:
        """Read for the callers waiting, again for those who came meanwhile, until none."""
        batch: list[asyncio.Future[T]] = []
        try:
            while self._waiting:
                # what is ready to run goes first: requests that arrived meanwhile join this
                # read rather than wait for the next (under load, more callers per read)
                await asyncio.sleep(0)
                batch, self._waiting = self._waiting, []
                try:
                    async with asyncio.timeout(self._timeout):
                        result = await self._read()
                except Exception as error:  # theirs to report: each waiter gets it
                    for waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(error)
                            waiter.exception()  # not "never retrieved" if its caller left
                    continue
                for waiter in batch:
                    if not waiter.done():
                        waiter.set_result(result)
        finally:
            self._reading = None
            _stopped([*batch, *self._waiting])  # the read cancelled (the app stopping)
            self._waiting = []


def _stopped(waiters: list[asyncio.Future[T]]) -> None:
    """Callers whose read was stopped: a timeout to them (a request goes on uncached)."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_exception(TimeoutError("the read was stopped"))
            waiter.exception()  # not "never retrieved" if its caller left
