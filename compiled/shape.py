"""What a plan's rows mean, as the code that builds the response reads them.

Both statement forms (`compiled/nested.py`, `compiled/levels.py`) return rows as JSON
arrays; a shape says, for each response key, where its value sits in the row. The shapes
every form shares are here, with the builder made once per object shape: a function that
turns a row into the object's dict in one dict display. Fields whose value needs more than
the row (lists, links, citations, quote contexts) name the assembler method that builds them
(`build`), so each form brings its own assembler and shares the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from compiled.bind import (
    CONSTANT,
    FLOAT,
    NAMES,
    CitationList,
    Column,
    ContextSelection,
    Cursor,
    Edge,
    EdgeNode,
    Highlights,
    HitNode,
    Id,
    List,
    Nodes,
    Object,
    PageInfo,
    Parts,
    ProvenanceParts,
    ProvenanceSelection,
    Score,
    SearchList,
    TotalCount,
    Typename,
)
from compiled.json_sql import context_name, read_float
from db import provenance
from db.mapping import LISTS
from db.provenance import RelationSource, relation_source
from db.search import hit_of, ranked_rows
from semantics.highlights import Span
from semantics.ids import encode_global_id
from semantics.opaque import encode_token
from semantics.search import Found, SearchArguments

Row = list[Any]
Builder = Callable[[Any, Row], dict[str, Any]]


@dataclass(frozen=True)
class ObjectShape:
    fields: tuple[Any, ...]


@dataclass(frozen=True)
class Constant:
    key: str
    value: str


@dataclass(frozen=True)
class Value:
    key: str
    position: int
    read: str | None  # the builder's function that reads it (bind.FLOAT, bind.NAMES), if any


@dataclass(frozen=True)
class GlobalIdShape:
    key: str
    type_name: str
    slug: int


@dataclass(frozen=True)
class ProvenanceShape:
    """A `provenance` as `parts` select it, from the JSON text at `position` of the row: the
    row's own (`relation` None) or, on an edge, its relation's, as `relation` reads it; null
    where `position` is None (the edges of a root list, of a list of uncited items)."""

    key: str
    position: int | None
    parts: ProvenanceParts
    relation: RelationSource | None = None
    build: ClassVar[str] = "provenance"


@dataclass(frozen=True)
class ContextKey:
    """The position of a context's key (`<citation slug>-<characters>`), shown as the ID of
    its type (a QuoteContext's, or a TextQuoteSelector's)."""

    position: int
    type_name: str


@dataclass(frozen=True)
class ContextShape:
    key: str
    parts: tuple[tuple[str, int | str | ContextKey], ...]  # (key, position, constant or ID)
    build: ClassVar[str] = "context"


@dataclass(frozen=True)
class EmbeddedShape:
    """An object built from its owner's row (compiled/bind.py:Embedded)."""

    key: str
    target: ObjectShape
    build: ClassVar[str] = "embedded"


@dataclass(frozen=True)
class TotalShape:
    key: str


@dataclass(frozen=True)
class NodesShape:
    key: str
    node: ObjectShape


@dataclass(frozen=True)
class EdgeShape:
    key: str
    parts: tuple[Any, ...]  # Constant, CursorShape, NodesShape (the node), citations, relation


@dataclass(frozen=True)
class CursorShape:
    key: str


@dataclass(frozen=True)
class PageInfoShape:
    key: str
    parts: Parts


@dataclass(frozen=True)
class LookupListShape:
    key: str
    items: tuple[Any, ...]


@dataclass(frozen=True)
class HitNodeShape:
    """A hit's object: for each type the search finds, where the form reads its object's
    row (nested: a position in the hit's row; levels: a level) and its shape."""

    key: str
    nodes: tuple[tuple[str, int, ObjectShape], ...]

    def of(self, type_name: str) -> tuple[int, ObjectShape]:
        return next((at, shape) for name, at, shape in self.nodes if name == type_name)


@dataclass(frozen=True)
class SearchShape:
    key: str
    position: int  # where the form reads the hits' rows (a position in the root's, a level)
    arguments: str  # the parameter holding the search's checked arguments
    parts: tuple[Any, ...]  # Constant, TotalShape, PageInfoShape, HitNodeShape, EdgeShape


@dataclass(frozen=True)
class Shape:
    fields: tuple[Any, ...]


class ListParameters:
    """The names a list's page size and cursor scope are bound under (`s<site>_...`)."""

    site: int

    @property
    def size_parameter(self) -> str:
        return f"s{self.site}_size"

    @property
    def scope_parameter(self) -> str:
        return f"s{self.site}_scope"


def shows_cursors(part: Any) -> bool:
    """Whether a connection's part shows cursors (an edge's, or pageInfo's)."""
    if isinstance(part, EdgeShape):
        return any(isinstance(item, CursorShape) for item in part.parts)
    return isinstance(part, PageInfoShape)


def context_parts(
    context: ContextSelection, position: Callable[[str], int]
) -> tuple[tuple[str, int | str | ContextKey], ...]:
    """Each key of a quote context: a constant, or the position (`position` of its column's
    name, `compiled/json_sql.py:context_name`) of the text it shows or of its key."""
    parts: list[tuple[str, int | str | ContextKey]] = []
    for key, name in context.fields:
        if name.startswith(CONSTANT):
            parts.append((key, name.removeprefix(CONSTANT)))
        elif name == "id":
            column = position(context_name(context, name))
            parts.append((key, ContextKey(column, context.type_name)))
        else:
            parts.append((key, position(context_name(context, name))))
    return tuple(parts)


def row_field(item: Any, type_name: str, position: Callable[[str], int]) -> Any | None:
    """The shape of a field of `type_name` read from its row alone (a typename, a column, the
    ID, a list of names, the provenance), `position` giving where a column's value sits;
    None for the fields each form reads otherwise (links, lists, citations, contexts)."""
    if isinstance(item, Typename):
        return Constant(item.key, item.name)
    if isinstance(item, Column):
        return Value(item.key, position(item.column), item.read)
    if isinstance(item, Id):
        return GlobalIdShape(item.key, type_name, position("slug"))
    if isinstance(item, ProvenanceSelection):
        return ProvenanceShape(item.key, position("provenance"), item.parts)
    return None


def relation_column(bound: List) -> str | None:
    """The column of a page's rows its edges' `provenance` reads (db/provenance.py:
    RelationSource), where one is selected and the list's edges have one."""
    source = relation_source(LISTS[bound.list_key])
    edges = (part.fields for part in bound.fields if isinstance(part, Edge))
    asked = any(isinstance(item, ProvenanceSelection) for fields in edges for item in fields)
    return source.column if asked and source is not None else None


def connection_parts(
    bound: List,
    node: Callable[[Object], ObjectShape],
    relation_citations: Callable[[CitationList], Any],
    position: Callable[[str], int],
) -> tuple[Any, ...]:
    """A list's connection's shape from its bound fields: each form says how it reads a node
    (`node`), the citations of the relation an edge stands for (`relation_citations`) and
    where a column of a page's row sits (`position`)."""
    source = relation_source(LISTS[bound.list_key])

    def relation_part(item: Any) -> Any:
        if isinstance(item, ProvenanceSelection):
            if source is None:
                return ProvenanceShape(item.key, None, item.parts)
            return ProvenanceShape(item.key, position(source.column), item.parts, source)
        return relation_citations(item)

    return _parts_of(bound.fields, node, relation_part)


def search_parts(bound: SearchList, hit_node: Callable[[HitNode], HitNodeShape]) -> tuple[Any, ...]:
    """A search's connection's shape: each form says how it reads a hit's object."""

    def unlisted(_: Object) -> ObjectShape:
        raise AssertionError("a search's nodes and edges' nodes are hits' objects")

    return _parts_of(bound.fields, unlisted, hit_node)


def _parts_of(
    fields: tuple[Any, ...], node: Callable[[Object], ObjectShape], other: Callable[[Any], Any]
) -> tuple[Any, ...]:
    """A connection's parts, and its edges', as both kinds of connection have them; the rest
    (a list's relation citations and provenance, a search's hit objects) as `other` says."""

    def edge_part(item: Any) -> Any:
        if isinstance(item, Typename):
            return Constant(item.key, item.name)
        if isinstance(item, Cursor):
            return CursorShape(item.key)
        if isinstance(item, EdgeNode):
            return NodesShape(item.key, node(item.node))
        if isinstance(item, Score | Highlights):  # they show no column: bound, they are shaped
            return item
        return other(item)

    parts: list[Any] = []
    for part in fields:
        if isinstance(part, Typename):
            parts.append(Constant(part.key, part.name))
        elif isinstance(part, TotalCount):
            parts.append(TotalShape(part.key))
        elif isinstance(part, PageInfo):
            parts.append(PageInfoShape(part.key, part.fields))
        elif isinstance(part, Nodes):
            parts.append(NodesShape(part.key, node(part.node)))
        elif isinstance(part, Edge):
            parts.append(EdgeShape(part.key, tuple(map(edge_part, part.fields))))
        else:
            parts.append(other(part))
    return tuple(parts)


def builders(shape: Shape) -> dict[int, Builder]:
    """A function per object shape of the plan (by the shape's id), made once per plan."""
    found: dict[int, Builder] = {}

    def visit(item: Any) -> None:
        if isinstance(item, ObjectShape):
            found[id(item)] = _builder(item)
        if isinstance(item, tuple):
            for child in item:
                visit(child)
        elif dataclasses.is_dataclass(item):
            for child in dataclasses.fields(item):
                visit(getattr(item, child.name))

    visit(shape)
    return found


def _picked(parts: Parts, values: dict[str, Any]) -> dict[str, Any]:
    """The `values` `parts` select, by response key (a constant where one is asked)."""
    return {
        key: name.removeprefix(CONSTANT) if name.startswith(CONSTANT) else values[name]
        for key, name in parts
    }


def _shown_provenance(parts: ProvenanceParts, found: dict[str, Any]) -> dict[str, Any]:
    """A provenance as db/provenance.py reads it, as the selection `parts` shows it."""
    value: dict[str, Any] = {}
    for key, name in parts:
        if isinstance(name, tuple):
            value[key] = [_picked(name, entry) for entry in found["fields"]]
        else:
            value.update(_picked(((key, name),), found))
    return value


def _builder(shape: ObjectShape) -> Builder:
    """`{key: value, ...}` for a row, as one dict display: values by position, IDs encoded,
    the rest through the assembler. Generated from the plan's own shape (keys are GraphQL
    names, written with repr), so nothing of a request's text is run."""
    namespace: dict[str, Any] = {
        "gid": encode_global_id,
        FLOAT: read_float,
        NAMES: orjson.loads,
    }
    items: list[str] = []
    for index, field in enumerate(shape.fields):
        namespace[f"f{index}"] = field
        if isinstance(field, Value):
            value = f"row[{field.position}]"
            expression = f"{field.read}({value})" if field.read else value
        elif isinstance(field, Constant):
            expression = f"f{index}.value"
        elif isinstance(field, GlobalIdShape):
            expression = f"gid(f{index}.type_name, row[{field.slug}])"
        else:
            expression = f"a.{field.build}(f{index}, row)"
        items.append(f"{field.key!r}: {expression}")
    source = "def build(a, row):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<compiled object>", "exec"), namespace)  # noqa: S102
    built: Builder = namespace["build"]
    return built


class Assembly:
    """What both forms' assemblers share: objects through their builders, and a connection
    from its page's rows."""

    def __init__(self, parameters: dict[str, Any], built: dict[int, Builder]) -> None:
        self.parameters = parameters
        self.fetched = 0  # objects fetched, in the reference executor's unit
        self._built = built

    def object(self, shape: ObjectShape, row: Row) -> dict[str, Any]:
        return self._built[id(shape)](self, row)

    def context(self, field: ContextShape, row: Row) -> dict[str, Any]:
        self.fetched += 1  # the resolver reads the quoted document
        value: dict[str, Any] = {}
        for key, part in field.parts:
            if isinstance(part, str):
                value[key] = part
            elif isinstance(part, ContextKey):
                value[key] = encode_global_id(part.type_name, row[part.position])
            else:
                value[key] = row[part]
        return value

    def embedded(self, field: EmbeddedShape, row: Row) -> dict[str, Any]:
        return self.object(field.target, row)

    def connection_value(
        self,
        parts: tuple[Any, ...],
        page: tuple[list[Row], int | None, bool, bool],
        key_column: int | None,
        prefix: str,
    ) -> dict[str, Any]:
        """A connection's object from its shown rows (in list order), its total and whether
        more lie beyond (`page`: rows, total, has next, has previous)."""
        rows, total, has_next, has_previous = page
        self.fetched += len(rows)
        value: dict[str, Any] = {}
        for part in parts:
            if isinstance(part, NodesShape):
                build = self._built[id(part.node)]
                value[part.key] = [build(self, row) for row in rows]
            elif isinstance(part, EdgeShape):
                value[part.key] = [self.edge(part, row, key_column, prefix) for row in rows]
            elif isinstance(part, TotalShape):
                value[part.key] = total
            elif isinstance(part, Constant):
                value[part.key] = part.value
            elif isinstance(part, PageInfoShape):
                ends: list[str | None] = [None, None]
                if rows:
                    assert key_column is not None, "pageInfo's cursors have their keys"
                    ends = [encode_token(prefix + row[key_column]) for row in (rows[0], rows[-1])]
                value[part.key] = _page_info(part, has_next, has_previous, *ends)
        return value

    def edge(
        self, part: EdgeShape, row: Row, key_column: int | None, prefix: str
    ) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for item in part.parts:
            if isinstance(item, CursorShape):
                assert key_column is not None, "a shown cursor has its key"
                value[item.key] = encode_token(prefix + row[key_column])
            elif isinstance(item, NodesShape):
                value[item.key] = self.object(item.node, row)
            elif isinstance(item, Constant):
                value[item.key] = item.value
            else:  # the relation's citations, or what it rests on
                value[item.key] = getattr(self, item.build)(item, row)
        return value

    def provenance(self, field: ProvenanceShape, row: Row) -> dict[str, Any] | None:
        if field.position is None:
            return None
        text = row[field.position]
        found = provenance.read(text) if field.relation is None else field.relation.read(text)
        return None if found is None else _shown_provenance(field.parts, found)

    def search(self, field: SearchShape, rows: list[Row]) -> dict[str, Any]:
        """A search's connection from its statement's rows (db/search.py's columns first, in
        any order), shown as semantics/search.py shows them."""
        asked: SearchArguments = self.parameters[field.arguments]
        shown, total, has_next = ranked_rows(rows, asked.size)
        self.fetched += len(shown)  # as the resolver counts its hits
        found = [asked.found(hit_of(row), row) for row in shown]
        value: dict[str, Any] = {}
        for part in field.parts:
            if isinstance(part, HitNodeShape):
                value[part.key] = [self.hit_node(part, hit.row) for hit in found]
            elif isinstance(part, EdgeShape):
                value[part.key] = [self.hit(part, hit) for hit in found]
            elif isinstance(part, TotalShape):
                value[part.key] = total
            elif isinstance(part, Constant):
                value[part.key] = part.value
            elif isinstance(part, PageInfoShape):
                start, end = (found[0].cursor, found[-1].cursor) if found else (None, None)
                value[part.key] = _page_info(part, has_next, False, start, end)
        return value

    def hit(self, part: EdgeShape, hit: Found) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for item in part.parts:
            if isinstance(item, CursorShape):
                value[item.key] = hit.cursor
            elif isinstance(item, Score):
                value[item.key] = hit.score
            elif isinstance(item, Highlights):
                value[item.key] = [_highlight(item, span) for span in hit.highlights]
            elif isinstance(item, HitNodeShape):
                value[item.key] = self.hit_node(item, hit.row)
            elif isinstance(item, Constant):
                value[item.key] = item.value
        return value

    def hit_node(self, part: HitNodeShape, row: Row) -> dict[str, Any]:
        """A hit's object, read where the form keeps it."""
        raise NotImplementedError


def _highlight(part: Highlights, span: Span) -> dict[str, Any]:
    return {
        key: name.removeprefix(CONSTANT) if name.startswith(CONSTANT) else getattr(span, name)
        for key, name in part.fields
    }


def _page_info(
    part: PageInfoShape, has_next: bool, has_previous: bool, start: str | None, end: str | None
) -> dict[str, Any]:
    info = {
        "hasNextPage": has_next,
        "hasPreviousPage": has_previous,
        "startCursor": start,
        "endCursor": end,
    }
    return _picked(part.parts, info)
