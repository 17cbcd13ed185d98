"""`impact-graph serve` with a count of the SQL statements it executes, for SQLite stores.

SQLite has no wire to watch, so the count comes from sqlite3's trace callback on every
connection: each statement SQLite runs, whichever layer sent it (SQLAlchemy's or the compiled
executor's precompiled text). The counts, by first keyword, are rewritten to
BENCH_SQL_COUNT_FILE after each one. Used only for the short counted run, never for timing.

    python -m bench.counted_ours --port PORT
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.util import await_


def first_keyword(statement: str) -> str:
    words = statement.split(None, 1)
    return (words[0].upper().strip(";") if words else "") or "(empty)"


def main(argv: list[str]) -> int:
    target = Path(os.environ["BENCH_SQL_COUNT_FILE"])
    counts: Counter[str] = Counter()

    def count(statement: str) -> None:
        counts[first_keyword(statement)] += 1
        target.write_text(json.dumps(counts))

    def trace(dbapi_connection: Any, _record: Any) -> None:
        await_(dbapi_connection.driver_connection.set_trace_callback(count))

    event.listen(Engine, "connect", trace)
    from server.cli import main as cli_main

    return cli_main(["serve", *argv])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
