"""How long each phase of a connection may take and how many may be open at once, read from
the settings for this process (server/connections.py enforces them)."""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from core.config import Settings

logger = logging.getLogger("impact_graph.connections")

# File descriptors kept out of the connection bound: the database pool, log files, the
# listening socket, imports. A quarter of the limit, and at least this many.
RESERVED_DESCRIPTORS = 64
HEAD_FIELDS_BYTES = 16 * 1024  # a request head's room besides its target (Node's whole limit)


@dataclass(frozen=True)
class ConnectionLimits:
    """Seconds for each phase of a connection, and how many may be open at once (per process)."""

    head_timeout: float
    body_timeout: float
    keep_alive_timeout: float
    max_connections: int
    send_timeout: float
    max_head_bytes: int


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard one (a process may); the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


def connection_bound(wanted: int, open_file_limit: int) -> int:
    """At most `wanted`, and far enough below the open-file limit that accepting never fails
    for want of a descriptor (uvloop then logs a traceback per attempt and stops serving)."""
    reserve = max(RESERVED_DESCRIPTORS, open_file_limit // 4)
    return max(1, min(wanted, open_file_limit - reserve))


def connection_limits(settings: Settings) -> ConnectionLimits:
    """The settings' limits for this process, its open-file limit raised first (workers
    inherit it) and the connection bound lowered below it where need be."""
    open_files = raise_open_file_limit()
    bound = connection_bound(settings.max_connections, open_files)
    if bound < settings.max_connections:
        logger.warning(
            "at most %d connections (IMPACT_GRAPH_MAX_CONNECTIONS=%d): the process may open "
            "%d files (ulimit -n)",
            bound,
            settings.max_connections,
            open_files,
        )
    return ConnectionLimits(
        head_timeout=settings.head_timeout,
        body_timeout=settings.body_timeout,
        keep_alive_timeout=settings.keep_alive_timeout,
        max_connections=bound,
        send_timeout=settings.send_timeout,
        # a GET's query string may be as long as a POST's body, and headers have their own
        max_head_bytes=settings.max_body_bytes + HEAD_FIELDS_BYTES,
    )
