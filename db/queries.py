"""The reads the loaders batch: rows by key, citations by subject, and pages of lists.

Each function is one SQL statement whatever the number of keys, which is what keeps a nested
query's statement count tied to its depth rather than to the rows it touches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    FromClause,
    Select,
    String,
    TypeDecorator,
    and_,
    bindparam,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.keys import search_text
from db.mapping import CITATION, LISTS, TYPES, Condition, NodeType, table_of


@dataclass(frozen=True)
class ListFilter:
    """Filters every list understands; each entity's map says how they apply to it."""

    name_contains: str | None = None
    kinds: tuple[str, ...] | None = None
    country_code: str | None = None


@dataclass(frozen=True)
class Ordering:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Window:
    """A slice of a list in 1-based positions: after `after`, before `before`, then first/last."""

    after: int = 0
    before: int | None = None
    first: int | None = None
    last: int | None = None

    def slice(self, total: int) -> PageSlice:
        """The page's positions (start, end] in a list of `total`, as graphql-relay-js slices.

        `_window_condition` states the same bounds in SQL, to fetch only these rows.
        """
        lower = self.after
        upper = max(lower, total if self.before is None else min(self.before - 1, total))
        start, end = lower, upper
        if self.first is not None:
            end = min(end, start + self.first)
        if self.last is not None:
            start = max(start, end - self.last)
        return PageSlice(
            start=start,
            end=end,
            has_next=self.first is not None and end < upper,
            has_previous=self.last is not None and start > lower,
        )


@dataclass(frozen=True)
class PageSlice:
    start: int
    end: int
    has_next: bool
    has_previous: bool


@dataclass(frozen=True)
class PageRow:
    row: Any
    position: int
    link_id: int | None


@dataclass(frozen=True)
class Page:
    rows: list[PageRow]
    total: int
    has_next: bool
    has_previous: bool


def bytewise(column: Any, dialect: str) -> Any:
    """Text compared byte-wise (code point order), as SQLite's default BINARY collation does,
    whatever collation the PostgreSQL database or column was created with."""
    kind = column.type
    if isinstance(kind, TypeDecorator):  # SQLModel's AutoString wraps String
        kind = kind.impl_instance
    is_text = isinstance(kind, String)
    return column.collate("C") if is_text and dialect == "postgresql" else column


def filter_conditions(
    node: NodeType, table: FromClause, list_filter: ListFilter
) -> list[Condition]:
    """The filter as conditions on `table`: the node's own table or an alias of it."""
    conditions: list[Condition] = []
    filters = node.filters
    if list_filter.name_contains and filters.search:
        needle = search_text(list_filter.name_contains)
        conditions.append(table.c.search_text.contains(needle, autoescape=True))
    if list_filter.kinds is not None and filters.kind is not None:
        conditions.append(filters.kind(table, list_filter.kinds))
    if list_filter.country_code is not None and filters.country is not None:
        conditions.append(filters.country(table, list_filter.country_code))
    return conditions


def _window_condition(position: Any, total: Any, window: Window) -> Condition:
    conditions: list[Condition] = [position > window.after]
    if window.before is not None:
        conditions.append(position < window.before)
    if window.first is not None:
        conditions.append(position <= window.after + window.first)
    if window.last is not None:
        # position > min(total, before - 1) - last, spelt without LEAST (SQLite has none)
        tail = position > total - window.last
        if window.before is not None:
            tail = or_(tail, position > window.before - 1 - window.last)
        conditions.append(tail)
    return and_(*conditions)


async def fetch_pages(
    session: AsyncSession,
    list_key: str,
    *,
    parent_ids: Sequence[int] | None,
    list_filter: ListFilter,
    ordering: Ordering,
    window: Window,
) -> dict[int | None, Page]:
    """One page per parent (or the single root page, keyed None) in one statement.

    `list_key` names a list of the map: `Program.partners`, or `Query.programs` for a root list.
    """
    dialect = session.get_bind().dialect.name
    query = _page_query(list_key, list_filter, ordering, window, dialect)
    found = await session.execute(query, {"parent_ids": list(parent_ids or [])})
    grouped: dict[int | None, list[tuple[Any, int, int | None, int]]] = defaultdict(list)
    for row in found.all():
        grouped[row.edge_parent].append((row, row.edge_position, row.edge_link, row.edge_total))
    keys: Iterable[int | None] = [None] if LISTS[list_key].is_root else (parent_ids or [])
    return {key: _page(grouped.get(key, []), window) for key in keys}


@lru_cache(maxsize=512)
def _page_query(
    list_key: str, list_filter: ListFilter, ordering: Ordering, window: Window, dialect: str
) -> Select[Any]:
    """The statement for a list and argument set, built once: parent ids are bound per call.

    Window functions number each parent's rows; the first row is always returned too, so
    the total is known even when the page itself is empty.
    """
    spec = LISTS[list_key]
    node = TYPES[spec.target]
    items = node.table
    sort = bytewise(items.c[node.order[ordering.field].key], dialect)
    sort = sort.desc() if ordering.descending else sort.asc()
    source: FromClause = items
    parent: Any = literal(None)
    link_id: Any = null()
    if spec.link is not None:
        links = table_of(spec.link.model)
        source = links.join(items, links.c[spec.link.target_key.key] == items.c.id)
        parent, link_id = links.c[spec.link.parent_key.key], links.c.id
    elif spec.parent_key is not None:
        parent = items.c[spec.parent_key.key]
    partition: list[Any] = [] if spec.is_root else [parent]
    position = func.row_number().over(
        partition_by=partition,
        order_by=[sort.nulls_last(), bytewise(items.c.slug, dialect)],
    )
    inner_query = select(
        *items.c,
        parent.label("edge_parent"),
        link_id.label("edge_link"),
        position.label("edge_position"),
        func.count().over(partition_by=partition).label("edge_total"),
    ).select_from(source)
    if not spec.is_root:
        inner_query = inner_query.where(parent.in_(bindparam("parent_ids", expanding=True)))
    inner = inner_query.where(*filter_conditions(node, items, list_filter)).subquery()
    c = inner.c
    return (
        select(inner)
        .where(or_(c.edge_position == 1, _window_condition(c.edge_position, c.edge_total, window)))
        .order_by(c.edge_parent, c.edge_position)
    )


def _page(found: list[tuple[Any, int, int | None, int]], window: Window) -> Page:
    total = found[0][3] if found else 0
    page = window.slice(total)
    return Page(
        rows=[
            PageRow(item, pos, link) for item, pos, link, _ in found if page.start < pos <= page.end
        ],
        total=total,
        has_next=page.has_next,
        has_previous=page.has_previous,
    )


async def fetch_by_keys(
    session: AsyncSession, node: NodeType, column: str, keys: Sequence[Any]
) -> dict[Any, Any]:
    """Rows of `node`'s table whose `column` is one of `keys`, by that column's value."""
    table = node.table
    rows = (await session.execute(select(table).where(table.c[column].in_(keys)))).all()
    return {getattr(row, column): row for row in rows}


async def fetch_citations(
    session: AsyncSession, subjects: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], list[Any]]:
    """Citations of many subjects (entity or link rows), in the order they were extracted."""
    citations = CITATION.table
    query = (
        select(citations)
        .where(tuple_(citations.c.subject_type, citations.c.subject_id).in_(subjects))
        .order_by(citations.c.position, citations.c.id)
    )
    grouped: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for citation in (await session.execute(query)).all():
        grouped[(citation.subject_type, citation.subject_id)].append(citation)
    return grouped
