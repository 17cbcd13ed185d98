"""The response's `data` from the levels' rows, and what the query fetched.

Rows of each level are indexed once (a list's by parent, a link's by id, citations by
subject), then the plan's shape is walked: objects take their values by position, global IDs
and cursors are encoded by the same functions the reference executor uses, and every list
item, citation and linked object is counted where a resolver would have counted it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
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
from resolvers.pagination import CursorScope

Row = list[Any]


Builder = Callable[["Assembler", Row], dict[str, Any]]


def builders(shape: Shape) -> dict[int, Builder]:
    """A function per object shape of the plan (by the shape's id), made once per plan."""
    found: dict[int, Builder] = {}

    def visit(item: Any) -> None:
        if isinstance(item, ObjectShape):
            found[id(item)] = _builder(item)
        for child in _children(item):
            visit(child)

    for field in shape.fields:
        visit(field)
    return found


def _children(item: Any) -> tuple[Any, ...]:
    if isinstance(item, ObjectShape | ListShape | EdgeShape):
        return item.fields if isinstance(item, ObjectShape) else item.parts
    if isinstance(item, NodesShape | LookupShape):
        return () if item.node is None else (item.node,)
    if isinstance(item, LinkShape):
        return (item.target,)
    if isinstance(item, CitationsShape):
        return (item.citation,)
    if isinstance(item, LookupListShape):
        return item.items
    return ()


def _float(value: Any) -> Any:
    return None if value is None else float(value)


def _builder(shape: ObjectShape) -> Builder:
    """`{key: value, ...}` for a row, as one dict display: values by position, IDs encoded,
    links, lists and citations through the assembler. Generated from the plan's own shape
    (keys are GraphQL names, written with repr), so nothing of a request's text is run."""
    namespace: dict[str, Any] = {"gid": encode_global_id, "to_float": _float}
    items: list[str] = []
    for index, field in enumerate(shape.fields):
        namespace[f"f{index}"] = field
        if isinstance(field, Value):
            value = f"row[{field.position}]"
            expression = f"to_float({value})" if field.is_float else value
        elif isinstance(field, Constant):
            expression = f"f{index}.value"
        elif isinstance(field, GlobalIdShape):
            expression = f"gid(f{index}.type_name, row[{field.slug}])"
        elif isinstance(field, ListShape):
            expression = f"a.connection(f{index}, row)"
        elif isinstance(field, LinkShape):
            expression = f"a.link(f{index}, row)"
        elif isinstance(field, CitationsShape):
            expression = f"a.citations(f{index}, row)"
        elif isinstance(field, ContextShape):
            expression = f"a.context(f{index}, row)"
        else:
            raise TypeError(f"no way to build {field!r}")
        items.append(f"{field.key!r}: {expression}")
    source = "def build(a, row):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<compiled object>", "exec"), namespace)  # noqa: S102
    built: Builder = namespace["build"]
    return built


class Assembler:
    def __init__(
        self,
        shape: Shape,
        levels: dict[str, list[Row]],
        parameters: dict[str, Any],
        built: dict[int, Builder],
    ):
        self.shape = shape
        self.levels = levels
        self.parameters = parameters
        self.fetched = 0
        self._indexes: dict[int, Any] = {}
        self._built = built

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
        return self._built[id(shape)](self, row)

    def context(self, field: ContextShape, row: Row) -> dict[str, Any]:
        self.fetched += 1  # the resolver reads the quoted document
        return {key: part if isinstance(part, str) else row[part] for key, part in field.parts}

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
        self.fetched += len(rows)
        prefix = ""
        if field.has_cursors and rows:
            parent = "" if owner is None or field.owner_slug is None else owner[field.owner_slug]
            prefix = CursorScope(self.parameters[field.scope_parameter], parent).prefix
        value: dict[str, Any] = {}
        for part in field.parts:
            if isinstance(part, NodesShape):
                build = self._built[id(part.node)]
                value[part.key] = [build(self, row) for row in rows]
            elif isinstance(part, EdgeShape):
                value[part.key] = [self.edge(part, row, prefix, field) for row in rows]
            elif isinstance(part, TotalShape):
                value[part.key] = total
            elif isinstance(part, Constant):
                value[part.key] = part.value
            elif isinstance(part, PageInfoShape):
                value[part.key] = self.page_info(part, field, rows, more, prefix)
        return value

    def page_info(
        self, part: PageInfoShape, field: ListShape, rows: list[Row], more: bool, prefix: str
    ) -> dict[str, Any]:
        key = field.key_column
        info = {
            "hasNextPage": more and not field.backwards,
            "hasPreviousPage": more and field.backwards,
            "startCursor": encode_token(prefix + rows[0][key]) if rows else None,
            "endCursor": encode_token(prefix + rows[-1][key]) if rows else None,
        }
        return {
            key: name.split(":", 1)[1] if name.startswith("__typename:") else info[name]
            for key, name in part.parts
        }

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
