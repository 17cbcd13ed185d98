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

from sqlalchemy import Select, and_, bindparam, func, literal, null, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import SQLModel, col

from db.keys import search_text
from db.mapping import EDGES, ENTITIES, Column, Condition, Entity
from db.models import Citation


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


def _bytewise(column: Column, dialect: str) -> Any:
    """Text compared byte-wise (code point order), as SQLite's default BINARY collation does."""
    try:
        is_text = column.type.python_type is str
    except NotImplementedError:
        is_text = False
    return column.collate("C") if is_text and dialect == "postgresql" else column


def _conditions(entity: Entity, list_filter: ListFilter) -> list[Condition]:
    conditions: list[Condition] = []
    if list_filter.name_contains and entity.search_fields:
        searched = col(entity.model.search_text)  # type: ignore[attr-defined]
        needle = search_text(list_filter.name_contains)
        conditions.append(searched.contains(needle, autoescape=True))
    if list_filter.kinds is not None and entity.kind_filter is not None:
        conditions.append(entity.kind_filter(list_filter.kinds))
    if list_filter.country_code is not None and entity.country_filter is not None:
        conditions.append(entity.country_filter(list_filter.country_code))
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
    list_name: str,
    *,
    parent_ids: Sequence[int] | None,
    list_filter: ListFilter,
    ordering: Ordering,
    window: Window,
) -> dict[int | None, Page]:
    """One page per parent (or the single root page, keyed None) in one statement.

    `list_name` is an edge of the map (`Program.partners`) or a node type for a root list.
    """
    dialect = session.get_bind().dialect.name
    query = _page_query(list_name, list_filter, ordering, window, dialect)
    found = await session.execute(query, {"parent_ids": list(parent_ids or [])})
    grouped: dict[int | None, list[tuple[Any, int, int | None, int]]] = defaultdict(list)
    for item, parent_id, link, pos, count in found.all():
        grouped[parent_id].append((item, pos, link, count))
    keys: Iterable[int | None] = [None] if list_name not in EDGES else (parent_ids or [])
    return {key: _page(grouped.get(key, []), window) for key in keys}


@lru_cache(maxsize=512)
def _page_query(
    list_name: str, list_filter: ListFilter, ordering: Ordering, window: Window, dialect: str
) -> Select[Any]:
    """The statement for a list and argument set, built once: parent ids are bound per call.

    Window functions number each parent's rows; the first row is always returned too, so
    the total is known even when the page itself is empty.
    """
    edge = EDGES.get(list_name)
    entity = edge.target if edge is not None else ENTITIES[list_name]
    model = entity.model
    sort = _bytewise(entity.order_fields[ordering.field], dialect)
    sort = sort.desc() if ordering.descending else sort.asc()
    tie_break = col(model.slug)  # type: ignore[attr-defined]
    partition: list[Any] = [] if edge is None else [edge.parent_key]
    position = func.row_number().over(
        partition_by=partition, order_by=[sort.nulls_last(), _bytewise(tie_break, dialect)]
    )
    total = func.count().over(partition_by=partition)
    parent = literal(None) if edge is None else edge.parent_key
    link_id = null() if edge is None or edge.link is None else col(edge.link.id)  # type: ignore[attr-defined]
    inner_query = select(
        model,
        parent.label("edge_parent"),
        link_id.label("edge_link"),
        position.label("edge_position"),
        total.label("edge_total"),
    )
    if edge is not None:
        if edge.link is not None:
            inner_query = inner_query.select_from(edge.link).join(
                model,
                edge.link_target == col(model.id),  # type: ignore[attr-defined]
            )
        inner_query = inner_query.where(
            edge.parent_key.in_(bindparam("parent_ids", expanding=True))
        )
    inner = inner_query.where(*_conditions(entity, list_filter)).subquery()
    row = aliased(model, inner)
    c = inner.c
    return (
        select(row, c.edge_parent, c.edge_link, c.edge_position, c.edge_total)
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
    session: AsyncSession, model: type[SQLModel], column: Column, keys: Sequence[Any]
) -> dict[Any, Any]:
    """Rows whose `column` is one of `keys`, by that column's value."""
    rows = (await session.execute(select(model).where(col(column).in_(keys)))).scalars().all()
    return {getattr(item, column.key): item for item in rows}


async def fetch_citations(
    session: AsyncSession, subjects: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], list[Citation]]:
    """Citations of many subjects (entity or link rows), in the order they were extracted."""
    query = (
        select(Citation)
        .where(tuple_(col(Citation.subject_type), col(Citation.subject_id)).in_(subjects))
        .order_by(col(Citation.position), col(Citation.id))
    )
    grouped: dict[tuple[str, int], list[Citation]] = defaultdict(list)
    for citation in (await session.execute(query)).scalars().all():
        grouped[(citation.subject_type, citation.subject_id)].append(citation)
    return grouped
