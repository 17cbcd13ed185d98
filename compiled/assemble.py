"""The response's `data` from the levels' rows, and what the query fetched.

Rows of each level are indexed once (a list's by parent, a link's by id, citations by
subject), then the plan's shape is walked: objects take their values by position, global IDs
and cursors are encoded by the same functions the reference executor uses, and every list
item, citation and linked object is counted where a resolver would have counted it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from compiled.sql import (
    CitationsShape,
    Constant,
    ContextShape,
    CursorShape,
    EdgeShape,
    GlobalIdShape,
    LinkShape,
    ListShape,
    LookupListShape,
    LookupShape,
    NodesShape,
    ObjectShape,
    PageInfoShape,
    Shape,
    TotalShape,
    Value,
)
from resolvers.ids import encode_global_id
from resolvers.opaque import encode_token

Row = list[Any]


class Page:
    """A parent's page of a list: its shown rows in list order, its total, whether more."""

    __slots__ = ("more", "rows", "total")

    def __init__(self, rows: list[Row], total: int, more: bool) -> None:
        self.rows = rows
        self.total = total
        self.more = more


class Assembler:
    def __init__(self, shape: Shape, levels: dict[str, list[Row]], parameters: dict[str, Any]):
        self.shape = shape
        self.levels = levels
        self.parameters = parameters
        self.fetched = 0
        self._indexes: dict[int, Any] = {}

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field in self.shape.fields:
            if isinstance(field, Constant):
                data[field.key] = field.value
            elif isinstance(field, ListShape):
                data[field.key] = self.list(field, None)
            elif isinstance(field, LookupShape):
                data[field.key] = self.lookup(field)
            elif isinstance(field, LookupListShape):
                data[field.key] = [self.lookup(item) for item in field.items]
        return data

    def _rows(self, level: int) -> list[Row]:
        return self.levels[str(level)]

    def lookup(self, field: LookupShape) -> dict[str, Any] | None:
        if field.level is None or field.node is None:
            return None
        rows = self._rows(field.level)
        if not rows:
            return None
        self.fetched += 1
        return self.object(field.node, rows[0])

    def object(self, shape: ObjectShape, row: Row) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for field in shape.fields:
            if isinstance(field, Value):
                found = row[field.position]
                value[field.key] = float(found) if field.is_float and found is not None else found
            elif isinstance(field, Constant):
                value[field.key] = field.value
            elif isinstance(field, GlobalIdShape):
                value[field.key] = encode_global_id(field.type_name, row[field.slug])
            elif isinstance(field, ListShape):
                value[field.key] = self.list(field, row)
            elif isinstance(field, LinkShape):
                value[field.key] = self.link(field, row)
            elif isinstance(field, CitationsShape):
                value[field.key] = self.citations(field, row)
            elif isinstance(field, ContextShape):
                self.fetched += 1  # the resolver reads the quoted document
                value[field.key] = {
                    key: part if isinstance(part, str) else row[part] for key, part in field.parts
                }
        return value

    def link(self, field: LinkShape, row: Row) -> dict[str, Any] | None:
        foreign_key = row[field.foreign_key]
        if foreign_key is None:
            return None
        index = self._indexes.get(field.level)
        if index is None:
            position = field.target_id
            index = self._indexes[field.level] = {r[position]: r for r in self._rows(field.level)}
        target = index.get(foreign_key)
        if target is None:
            return None
        self.fetched += 1
        return self.object(field.target, target)

    def citations(self, field: CitationsShape, owner: Row) -> list[dict[str, Any]]:
        if field.owner is None:
            return []
        index = self._indexes.get(field.level)
        if index is None:
            grouped: dict[Any, list[Row]] = defaultdict(list)
            # subject_id, position and id are a citation level's first three columns
            for found in sorted(self._rows(field.level), key=lambda r: (r[1], r[2])):
                grouped[found[0]].append(found)
            index = self._indexes[field.level] = grouped
        rows = index.get(owner[field.owner], ())
        self.fetched += len(rows)
        return [self.object(field.citation, found) for found in rows]

    def page(self, field: ListShape, owner: Row | None) -> Page:
        size: int = self.parameters[f"s{field.site}_size"]
        index = self._indexes.get(field.level)
        if index is None:
            index = self._indexes[field.level] = self._index_pages(field)
        parent = None if owner is None or field.owner_id is None else owner[field.owner_id]
        rows, total = index.get(parent, ([], 0))
        more = len(rows) > size
        shown = rows[:size]
        if field.backwards:
            shown = shown[::-1]
        return Page(shown, total, more)

    def _index_pages(self, field: ListShape) -> dict[Any, tuple[list[Row], int]]:
        """Each parent's rows inside the window, by rank, and the parent's total."""
        pages: dict[Any, tuple[list[Row], int]] = {}
        for found in self._rows(field.level):
            parent = None if field.parent is None else found[field.parent]
            rows, _ = pages.get(parent, ([], 0))
            pages[parent] = (rows, found[field.total])
            inside = field.in_window is None or found[field.in_window] == 1
            if found[field.key_column] is not None and inside:
                rows.append(found)
        for rows, _ in pages.values():
            rows.sort(key=lambda r: r[field.rank])
        return pages

    def list(self, field: ListShape, owner: Row | None) -> dict[str, Any]:
        page = self.page(field, owner)
        self.fetched += len(page.rows)
        prefix = self.parameters[f"s{field.site}_cursor"]
        if owner is not None and field.owner_slug is not None:
            prefix += owner[field.owner_slug]
        prefix += ":"
        value: dict[str, Any] = {}
        cursors: list[str] | None = None
        for part in field.parts:
            if isinstance(part, Constant):
                value[part.key] = part.value
            elif isinstance(part, TotalShape):
                value[part.key] = page.total
            elif isinstance(part, NodesShape):
                value[part.key] = [self.object(part.node, row) for row in page.rows]
            elif isinstance(part, EdgeShape):
                value[part.key] = [self.edge(part, row, prefix, field) for row in page.rows]
            elif isinstance(part, PageInfoShape):
                if cursors is None:
                    cursors = [encode_token(prefix + row[field.key_column]) for row in page.rows]
                info = {
                    "hasNextPage": page.more and not field.backwards,
                    "hasPreviousPage": page.more and field.backwards,
                    "startCursor": cursors[0] if cursors else None,
                    "endCursor": cursors[-1] if cursors else None,
                }
                value[part.key] = {
                    key: name.split(":", 1)[1] if name.startswith("__typename:") else info[name]
                    for key, name in part.parts
                }
        return value

    def edge(self, part: EdgeShape, row: Row, prefix: str, field: ListShape) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for item in part.parts:
            if isinstance(item, CursorShape):
                value[item.key] = encode_token(prefix + row[field.key_column])
            elif isinstance(item, NodesShape):
                value[item.key] = self.object(item.node, row)
            elif isinstance(item, CitationsShape):
                value[item.key] = self.citations(item, row)
            elif isinstance(item, Constant):
                value[item.key] = item.value
        return value
