"""Processes the harness starts, each pinned to a core, all stopped however the run ends.

Every process gets a session of its own, so stopping it signals its whole group (a Node
server's helpers, say) by the group id we got at start, never by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TASKSET = shutil.which("taskset") or "/usr/bin/taskset"


@dataclass
class Started:
    label: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Processes:
    """A registry of what we started; `stop_all` runs in the harness's `finally`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[Started] = []

    def start(
        self,
        label: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cpu: int,
        cwd: Path | None = None,
    ) -> Started:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{label}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 (argv built by the harness)
                [TASKSET, "-c", str(cpu), *argv],
                env=dict(env),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Started(label, process, log)
        self.running.append(started)
        return started

    def stop(self, started: Started, timeout: float = 15.0) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout` seconds."""
        if started in self.running:
            self.running.remove(started)
        if started.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(started.pid, signal.SIGTERM)
            try:
                started.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(started.pid, signal.SIGKILL)
                started.process.wait(timeout=timeout)
        # Anything the server left in its group (it exited first) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(started.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for started in reversed(list(self.running)):
            self.stop(started)

    @contextlib.contextmanager
    def running_one(
        self, label: str, argv: Sequence[str], *, env: Mapping[str, str], cpu: int, cwd: Path
    ) -> Iterator[Started]:
        started = self.start(label, argv, env=env, cpu=cpu, cwd=cwd)
        try:
            yield started
        finally:
            self.stop(started)


def raise_on_sigterm() -> None:
    """A SIGTERM to the harness unwinds like Ctrl-C, so `finally` blocks clean up."""

    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def wait_for(deadline_seconds: float, poll: float = 0.2) -> Iterator[float]:
    """Yields until the deadline: a bounded polling loop."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        yield deadline - time.monotonic()
        time.sleep(poll)
