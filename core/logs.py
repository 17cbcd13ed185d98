"""The process's logs: one line each on stderr (the access lines have a format of their own,
server/observe.py)."""

from __future__ import annotations

import logging
import time

from pydantic import ValidationError

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """`impact-graph` sets it up, and so does each worker of `serve --workers N`: a process of
    its own, which inherits no logging set-up."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


def one_line(error: BaseException) -> str:
    """An error told on one line of a log or a terminal: its type and its text's first line
    (a database error's text goes on to the statement), its type alone where it has no text."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def validation_problems(error: ValidationError) -> str:
    """Each value pydantic refused, as `where.it.is: why`, on one line."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or '(top)'}: {problem['msg']}"
        for problem in error.errors()
    )


class OncePerWindow(logging.Filter):
    """At most one record of each level every `seconds` through the logger it is added to
    (a warning does not hide an error); the next one of that level to pass says how many were
    left out since. For a library's own logging of a failure that repeats at its own pace (an
    exporter retrying a collector that is away), which would otherwise fill the log at that
    pace in every process."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.last: dict[int, float] = {}  # by level: when one last passed
        self.left_out: dict[int, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now, level = time.monotonic(), record.levelno
        if now - self.last.get(level, float("-inf")) < self.seconds:
            self.left_out[level] = self.left_out.get(level, 0) + 1
            return False
        self.last[level] = now
        left_out = self.left_out.pop(level, 0)
        if left_out:
            record.msg = f"{record.getMessage()} ({left_out} more such line(s) left out since)"
            record.args = ()
        return True


def once_a_window(logger_name: str, seconds: float) -> logging.Logger:
    """The logger, passing at most a line of each level every `seconds` (`OncePerWindow`),
    given its filter once however many apps a process builds."""
    log = logging.getLogger(logger_name)
    if not any(isinstance(found, OncePerWindow) for found in log.filters):
        log.addFilter(OncePerWindow(seconds))
    return log
