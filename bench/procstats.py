"""CPU time and peak memory of a server's process tree, read from /proc.

CPU is utime+stime of every live process in the tree plus cutime+cstime (children already
reaped), so helpers count too. Peak RSS is VmHWM summed over the tree; `reset_peak` writes
5 to clear_refs, which restarts the high-water mark, so each query's peak is its own.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str]:
    text = (PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(_stat_fields(int(entry.name))[1]) == pid:  # field 4: ppid
                    found.append(int(entry.name))
    return found


def tree(pid: int) -> list[int]:
    """The process and its descendants (bounded: /proc lists finitely many)."""
    found: list[int] = []
    pending = [pid]
    while pending and len(found) < 10_000:
        current = pending.pop()
        found.append(current)
        pending.extend(children(current))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            fields = _stat_fields(pid)
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (the first line of /proc/stat)."""
    fields = [int(v) for v in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / TICKS


def peak_rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in (PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
    return total


def reset_peak(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            (PROC / str(pid) / "clear_refs").write_text("5")
