"""The process's logs: one line each on stderr (the access lines have a format of their own,
server/observe.py)."""

from __future__ import annotations

import logging

from pydantic import ValidationError

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """`impact-graph` sets it up, and so does each worker of `serve --workers N`: a process of
    its own, which inherits no logging set-up."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


def one_line(error: BaseException) -> str:
    """An error told on one line of a log or a terminal: its type and its text's first line
    (a database error's text goes on to the statement)."""
    lines = f"{type(error).__name__}: {error}".splitlines()
    return lines[0] if lines else type(error).__name__


def validation_problems(error: ValidationError) -> str:
    """Each value pydantic refused, as `where.it.is: why`, on one line."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or '(top)'}: {problem['msg']}"
        for problem in error.errors()
    )
