"""The response's `data` from the levels' rows, and what the query fetched.

Rows of each level are indexed once (a list's by parent, a link's by id, citations by
subject), then the plan's shape is walked: objects take their values by position, global IDs
and cursors are encoded by the same functions the reference executor uses, and every list
item, citation and linked object is counted where a resolver would have counted it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from compiled.levels import (
    CitationsShape,
    LinkShape,
    ListShape,
    LookupShape,
)
from compiled.shape import (
    Assembly,
    Builder,
    Constant,
    HitNodeShape,
    LookupListShape,
    Row,
    SearchShape,
    Shape,
)
from semantics.pagination import CursorScope


class Assembler(Assembly):
    def __init__(
        self,
        shape: Shape,
        levels: dict[str, list[Row]],
        parameters: dict[str, Any],
        built: dict[int, Builder],
    ):
        super().__init__(parameters, built)
        self.shape = shape
        self.levels = levels
        self._indexes: dict[int, Any] = {}

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field in self.shape.fields:
            if isinstance(field, Constant):
                data[field.key] = field.value
            elif isinstance(field, ListShape):
                data[field.key] = self.connection(field, None)
            elif isinstance(field, LookupShape):
                data[field.key] = self.lookup(field)
            elif isinstance(field, LookupListShape):
                data[field.key] = [self.lookup(item) for item in field.items]
            elif isinstance(field, SearchShape):
                data[field.key] = self.search(field, self._rows(field.position))
        return data

    def hit_node(self, part: HitNodeShape, row: Row) -> dict[str, Any]:
        level, shape = part.of(row[1])  # the level of its type's objects, by id (first)
        index = self._indexes.get(level)
        if index is None:
            index = self._indexes[level] = {found[0]: found for found in self._rows(level)}
        return self.object(shape, index[row[2]])

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
            # subject_id and CITATION_ORDER (position, id): a citation level's first three columns
            for found in sorted(self._rows(field.level), key=lambda r: (r[1], r[2])):
                grouped[found[0]].append(found)
            index = self._indexes[field.level] = grouped
        rows = index.get(owner[field.owner], ())
        self.fetched += len(rows)
        return [self.object(field.citation, found) for found in rows]

    def page(self, field: ListShape, owner: Row | None) -> tuple[list[Row], int, bool]:
        """A parent's page: its shown rows in list order, its total, whether more follow."""
        index = self._indexes.get(field.level)
        if index is None:
            index = self._indexes[field.level] = self._index_pages(field)
        parent = None if owner is None or field.owner_id is None else owner[field.owner_id]
        found = index.get(parent)
        if found is None:
            return [], 0, False
        rows, total = found
        size: int = self.parameters[field.size_parameter]
        shown = rows[:size]
        if field.backwards:
            shown.reverse()
        return shown, total, len(rows) > size

    def _index_pages(self, field: ListShape) -> dict[Any, tuple[list[Row], int]]:
        """Each parent's rows inside the window, by rank, and the parent's total."""
        pages: dict[Any, tuple[list[Row], int]] = {}
        for found in self._rows(field.level):
            parent = None if field.parent is None else found[field.parent]
            rows, _ = pages.get(parent, ([], 0))
            pages[parent] = (rows, found[field.total])
            inside = field.in_window is None or found[field.in_window] == 1
            if found[field.id_column] is not None and inside:
                rows.append(found)
        for rows, _ in pages.values():
            rows.sort(key=lambda r: r[field.rank])
        return pages

    def connection(self, field: ListShape, owner: Row | None) -> dict[str, Any]:
        rows, total, more = self.page(field, owner)
        prefix = ""
        if field.has_cursors and rows:
            parent = "" if owner is None or field.owner_slug is None else owner[field.owner_slug]
            prefix = CursorScope(self.parameters[field.scope_parameter], parent).prefix
        page = (rows, total, more and not field.backwards, more and field.backwards)
        return self.connection_value(field.parts, page, field.key_column, prefix)
