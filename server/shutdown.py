"""Leaving a load balancer's rotation before stopping: after SIGTERM (or SIGINT), `/readyz`
answers 503 for `IMPACT_GRAPH_SHUTDOWN_DRAIN` seconds while every other request is still
served; then uvicorn's own handler runs (the listening socket closes, requests in flight get
`IMPACT_GRAPH_SHUTDOWN_GRACE` seconds, the process exits). A second signal skips the rest of
the drain, unless it comes within ECHO_SECONDS of the first.

Installed by the app's lifespan, so it holds in every worker process: each one is signalled
and drains on its own. Without a drain nothing is installed and uvicorn stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

logger = logging.getLogger("impact_graph.server")

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# A signal this soon after the first is that stop passed on, not a second request to hurry:
# with workers, systemd's default stop and Ctrl-C reach every process, and uvicorn's
# supervisor then signals each worker again (it looks every 0.5 s).
ECHO_SECONDS = 2.0


class Drain:
    """Whether this process is draining (readiness says so), and the signal handlers that
    start it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = False
        self._started_at = 0.0
        self._previous: dict[int, Any] = {}

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Signal handlers in front of uvicorn's while the app runs (main thread only)."""
        if self.seconds <= 0 or threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()

        def handle(signum: int, _: FrameType | None) -> None:
            if self.started:  # again: stop now, unless it is the first one passed on
                if time.monotonic() - self._started_at >= ECHO_SECONDS:
                    loop.call_soon_threadsafe(self._stop, signum)
                return
            self.started, self._started_at = True, time.monotonic()
            loop.call_soon_threadsafe(self._begin, loop, signum)

        self._previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}
        try:
            yield
        finally:
            self._restore()

    def _begin(self, loop: asyncio.AbstractEventLoop, signum: int) -> None:
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
