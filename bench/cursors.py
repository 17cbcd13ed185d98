"""Our `after` cursor for a row deep in a list, made by the project's own cursor code.

This is the one place that knows the cursor format. Today a cursor is a list-bound position
(resolvers/pagination.py); when it becomes a keyset cursor carrying the row's sort key and
slug, only `cursor_after` changes: it is already handed both.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from db.queries import Ordering
from resolvers.lists import list_filter
from resolvers.pagination import encode_cursor, fingerprint


@dataclass(frozen=True)
class ListRow:
    """A row of root `programs(filter: {kind: [KIND]})` in its default order (NAME, ASC)."""

    kind: str
    position: int  # 1-based
    sort_key: str | None
    slug: str


def cursor_after(row: ListRow) -> str:
    """The cursor that `programs(filter: {kind: [row.kind]}, after: ...)` pages on from."""
    filters = list_filter(SimpleNamespace(kind=[row.kind]))
    scope = fingerprint("Program", None, filters, Ordering(field="NAME"))
    return encode_cursor(scope, row.position)
