"""Our `after` cursor for a row deep in a list, made by the project's own cursor code.

This is the one place that knows the cursor format: a keyset cursor (semantics/pagination.py)
bound to the root list `Query.programs`, its filter and its order, carrying the row's place
(db/order.py's row key: its slug and its sort value).
"""

from __future__ import annotations

from dataclasses import dataclass

from db.order import Ordering
from semantics.lists import list_filter
from semantics.pagination import CursorScope, encode_cursor, fingerprint


@dataclass(frozen=True)
class ListRow:
    """A row of root `programs(filter: {kind: [KIND]})` in its default order (NAME, ASC)."""

    kind: str
    position: int  # 1-based
    sort_key: str | None
    slug: str


def cursor_after(row: ListRow) -> str:
    """The cursor that `programs(filter: {kind: [row.kind]}, after: ...)` pages on from."""
    filters = list_filter("Query.programs", {"kind": [row.kind]})
    scope = fingerprint("Query.programs", filters, Ordering(field="NAME"))
    place = "n" if row.sort_key is None else f"v{row.sort_key}"
    return encode_cursor(CursorScope(scope, ""), f"{row.slug}:{place}")
