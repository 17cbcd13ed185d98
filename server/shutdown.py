"""Leaving a load balancer's rotation before stopping: after SIGTERM (or SIGINT), `/readyz`
answers 503 for `IMPACT_GRAPH_SHUTDOWN_DRAIN` seconds while every other request is still
served; then uvicorn's own handler runs (the listening socket closes, requests in flight get
`IMPACT_GRAPH_SHUTDOWN_GRACE` seconds, the process exits). A second signal skips the rest of
the drain (in a worker, one within ECHO_SECONDS of the first is that one passed on; the
supervisor passes a second one it gets on later than that).

Installed by the app's lifespan, so it holds in every worker process: each one is signalled
and drains on its own. Without a drain uvicorn stops at once; the handler still sees the
signal first where the app is a server process's (`STOP_SIGNAL`, which the edge reads), and
an app in a test's process installs none.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.log import InstanceLogger
from starlette.responses import Response

from server.errors import RequestError
from server.negotiation import JSON
from server.outcome import Outcome, refuse

logger = logging.getLogger("impact_graph.server")

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# In a worker, a signal this soon after the first is that stop passed on, not a second
# request to hurry: systemd's default stop and Ctrl-C reach every process, and uvicorn's
# supervisor then signals each worker again (it looks every 0.5 s). A second signal the
# supervisor gets it passes on past this window (server/cli.py `Workers`).
ECHO_SECONDS = 2.0


class StopSignal:
    """Whether a stop signal reached this process's server (its `Drain` saw it). From then on
    the edge (server/connections.py) answers each request that arrives `Connection: close`, so
    the client sends its next one on a new connection (another instance's, or this one's
    while it drains) and not on one the stop is about to close under it, where it would be
    lost without an answer. Signals are the process's, and so is this."""

    def __init__(self) -> None:
        self.seen = False


STOP_SIGNAL = StopSignal()


class Drain:
    """Whether this process is draining (readiness says so), and the signal handlers that
    start it."""

    def __init__(self, seconds: float, *, signals: bool = False) -> None:
        self.seconds = seconds
        # Whether the app is the one a server process serves (`impact-graph serve`, or one
        # of its workers): then a stop signal is seen here even without a drain
        # (`STOP_SIGNAL`); an app in a test's process installs no handler.
        self.signals = signals
        self.started = False
        self._started_at = 0.0
        self._previous: dict[int, Any] = {}

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Signal handlers in front of uvicorn's while the app runs (main thread only)."""
        wanted = self.seconds > 0 or self.signals
        if not wanted or threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()

        supervised = multiprocessing.parent_process() is not None  # a worker of `--workers`

        def handle(signum: int, _: FrameType | None) -> None:
            if self.started:  # again: stop now, unless it is the first one passed on
                if supervised and time.monotonic() - self._started_at < ECHO_SECONDS:
                    loop.call_soon_threadsafe(_echoed)
                    return
                loop.call_soon_threadsafe(self._stop, signum)
                return
            self.started, self._started_at = True, time.monotonic()
            STOP_SIGNAL.seen = True
            loop.call_soon_threadsafe(self._begin, loop, signum)

        self._previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}
        try:
            yield
        finally:
            self._restore()

    def _begin(self, loop: asyncio.AbstractEventLoop, signum: int) -> None:
        if self.seconds <= 0:  # no drain: uvicorn's handler at once
            self._stop(signum)
            return
        logger.info("draining: /readyz answers 503 for %g s, then the server stops", self.seconds)
        loop.call_later(self.seconds, self._stop, signum)

    def _stop(self, signum: int) -> None:
        """Hand the signal to the handler we stood in front of (uvicorn's)."""
        if self._restore():
            signal.raise_signal(signum)

    def _restore(self) -> bool:
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            if handler is not None:  # None: not set from Python; nothing to put back
                signal.signal(signum, handler)
        return bool(previous)


async def stop_when_orphaned(handles_signals: bool) -> None:
    """In a worker of `--workers`: once its supervisor is gone without stopping it (killed
    with SIGKILL, or by the OOM killer), stop as a signal would stop it (drain, grace, exit).
    Left alone it would serve on for good, holding the port (a new `serve` could not bind),
    with nothing to restart it or pass it a signal. The parent's sentinel (multiprocessing's:
    a pipe the parent holds open) is readable once the parent is gone."""
    parent = multiprocessing.parent_process()
    if parent is None or not handles_signals:
        return  # one process, or an app not a server's: nothing above it to lose
    loop = asyncio.get_running_loop()
    gone = asyncio.Event()
    loop.add_reader(parent.sentinel, gone.set)
    try:
        await gone.wait()
    finally:
        loop.remove_reader(parent.sentinel)
    logger.warning("the supervisor (pid %d) is gone: this worker stops", parent.pid)
    signal.raise_signal(signal.SIGTERM)


def _echoed() -> None:
    logger.info(
        "a signal within %g s of the first is taken as the same stop (passed on by the "
        "supervisor); send another to end the drain",
        ECHO_SECONDS,
    )


# What uvicorn cancels the requests still running with once the grace has run out.
GRACE_EXCEEDED = "Task cancelled, timeout graceful shutdown exceeded"


STOPPED = RequestError(
    503,
    "SERVER_STOPPING",
    "the server stopped before this request was answered; send it again",
    {"Retry-After": "1", "Connection": "close"},
)


def cut_off_by_the_grace(error: BaseException) -> bool:
    """Whether `error` is uvicorn cancelling a request still unanswered when the grace ran
    out (its body still arriving, or its query running)."""
    return isinstance(error, asyncio.CancelledError) and GRACE_EXCEEDED in error.args


def cut_off(outcome: Outcome) -> Response:
    """The answer to a request the grace's end cut off: a JSON 503 under its id, recorded as
    such, where uvicorn would send a plain-text 500 (every deploy's slow uploads showing as
    server faults)."""
    return refuse(STOPPED, JSON, outcome)


class _CancelledStacks(logging.Filter):
    """Drops a record whose stack is a cancellation the server made as it stops (`reason`:
    only one cancelled for it), which a line of its own says once."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__()
        self.reason = reason

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, asyncio.CancelledError):
            return True
        return self.reason is not None and self.reason not in error.args


_GRACE_EXCEEDED_STACKS = _CancelledStacks(GRACE_EXCEEDED)
_CANCELLED_STACKS = _CancelledStacks()


def quiet_cancelled_requests() -> None:
    """uvicorn logs a stack for each request it cancels once the grace has run out ("Exception
    in ASGI application"): its own line before them says how many it cancelled, once. (Any
    other cancellation escaping a request is a defect, and keeps its stack.)"""
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if _GRACE_EXCEEDED_STACKS not in uvicorn_errors.filters:
        uvicorn_errors.addFilter(_GRACE_EXCEEDED_STACKS)


class QuietPools:
    """What SQLAlchemy's pools log of connections the clean-up gives up on (a database that
    stopped answering): a stack for each close its bound cancels, then, where it dropped
    them, the complaints about connections dropped unclosed. The clean-up says so in one line."""

    def __init__(self, *engines: AsyncEngine) -> None:
        self.loggers = [_logger(engine.pool.logger) for engine in engines]
        for logger in self.loggers:
            logger.addFilter(_CANCELLED_STACKS)

    def end(self, *, for_good: bool) -> None:
        """The clean-up is over; `for_good`: it dropped the app's own connections, and the
        process is ending (the loggers are the pool class's, shared by every engine)."""
        for logger in self.loggers:
            logger.removeFilter(_CANCELLED_STACKS)
            if for_good:
                logger.setLevel(logging.CRITICAL + 1)


def _logger(found: logging.Logger | InstanceLogger) -> logging.Logger:
    return found if isinstance(found, logging.Logger) else found.logger  # (with echo_pool)
