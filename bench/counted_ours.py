"""`impact-graph serve` with a count of the SQL statements it executes, for SQLite stores.

SQLite has no wire to watch, so the count comes from SQLAlchemy's cursor events (every
statement the engine executes; SQLite's implicit transaction control is not a statement
here). The counts, by first keyword, are rewritten to BENCH_SQL_COUNT_FILE after each one.
Used only for the short counted run, never for timing.

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


def first_keyword(statement: str) -> str:
    words = statement.split(None, 1)
    return (words[0].upper().strip(";") if words else "") or "(empty)"


def main(argv: list[str]) -> int:
    target = Path(os.environ["BENCH_SQL_COUNT_FILE"])
    counts: Counter[str] = Counter()

    def count(*args: Any) -> None:
        counts[first_keyword(args[2])] += 1  # (conn, cursor, statement, ...)
        target.write_text(json.dumps(counts))

    event.listen(Engine, "before_cursor_execute", count)
    from server.cli import main as cli_main

    return cli_main(["serve", *argv])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
