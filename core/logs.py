"""The process's logs: one line each on stderr (the access lines have a format of their own,
server/observe.py)."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """`impact-graph` sets it up, and so does each worker of `serve --workers N`: a process of
    its own, which inherits no logging set-up."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
