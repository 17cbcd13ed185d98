"""One SQL statement per request, nested as the response is: every object is a JSON array
of its values, and every list, link and citation list below it a correlated subquery in that
array, so the database walks each parent's own page through its index and hands back the
whole tree as one value.

A page's LIMIT is its size, written into the statement (so the plan made once for it knows
how few rows a page takes); whether more follow is a separate count of one row past the
page, made only where `pageInfo` is asked. Rows
come in list order (a page's subquery is ordered and limited; citations are ordered and, to
be safe, sorted again by the assembler). SQLite's parser has a fixed stack, so a statement
nested deeper than `MAX_SQLITE_NESTING` is refused here (`TooDeep`) and written as levels
instead (`compiled/levels.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import (
    FromClause,
    Select,
    String,
    bindparam,
    column,
    func,
    literal_column,
    select,
    text,
)

from compiled.bind import (
    CitationList,
    Column,
    ContextSelection,
    Cursor,
    Edge,
    EdgeNode,
    Embedded,
    HitNode,
    Id,
    Link,
    List,
    Lookup,
    LookupList,
    Nodes,
    Object,
    PageInfo,
    ProvenanceSelection,
    Root,
    SearchList,
    TotalCount,
    Typename,
)
from compiled.json_sql import (
    MAX_COLUMNS,
    aggregate,
    array,
    exact,
    quote_select,
)
from compiled.shape import (
    Constant,
    ContextShape,
    EmbeddedShape,
    HitNodeShape,
    ListParameters,
    LookupListShape,
    ObjectShape,
    SearchShape,
    Shape,
    connection_parts,
    context_parts,
    relation_column,
    row_field,
    search_parts,
)
from compiled.template import NotCompiled
from db.mapping import (
    CITATION,
    CITATION_ORDER,
    LISTS,
    citation_order,
    citing,
    node_type,
)
from db.provenance import LINK_PROVENANCE
from db.queries import Projection, list_total, page_query
from db.search import SEARCH_COLUMNS, search_sql

# Subqueries inside subqueries that SQLite's parser takes with room to spare (it overflows
# its stack at seven of the kind this module writes; tests/test_compiled.py holds it to six).
MAX_SQLITE_NESTING = 6


class TooDeep(Exception):
    """Nested deeper than this store's parser takes."""


@dataclass(frozen=True)
class LinkShape:
    build: ClassVar[str] = "link"
    key: str
    position: int  # of the target's array (or NULL) in the owner's
    target: ObjectShape


@dataclass(frozen=True)
class CitationsShape:
    build: ClassVar[str] = "citations"
    key: str
    position: int | None  # of the citations' arrays in the owner's; None: none can exist
    citation: ObjectShape
    order: tuple[int, ...]  # positions of CITATION_ORDER's columns in a citation's array


@dataclass(frozen=True)
class ListShape(ListParameters):
    build: ClassVar[str] = "connection"
    key: str
    site: int
    backwards: bool
    position: int  # of the page's arrays in the owner's (or the root's) array
    total: int | None  # of the total, where asked
    probe: int | None  # of the count of rows up to one past the page, where pageInfo is asked
    owner_slug: int | None  # of the owner's slug, where cursors are shown on a nested list
    parts: tuple[Any, ...]
    key_column: int | None  # of a row's cursor key, where cursors are shown


@dataclass(frozen=True)
class LookupShape:
    key: str
    position: int | None  # None: no row can match
    node: ObjectShape | None


class Row:
    """The values of one JSON array of the statement, each column added once."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.values: list[Any] = []
        self._columns: dict[str, int] = {}

    def add(self, value: Any) -> int:
        if len(self.values) >= MAX_COLUMNS:
            raise NotCompiled(f"an object of more than {MAX_COLUMNS} values")
        self.values.append(value)
        return len(self.values) - 1

    def column(self, source: FromClause, name: str) -> int:
        if name not in self._columns:
            self._columns[name] = self.add(exact(source.c[name], self.postgres))
        return self._columns[name]

    def array(self) -> Any:
        return array(self.values, self.postgres)


def _needs(bound: Object) -> list[str]:
    """The columns of its table an object's values are read from."""
    names = ["id"]
    for item in bound.fields:
        if isinstance(item, Column):
            names.append(item.column)
        elif isinstance(item, ProvenanceSelection):
            names.append("provenance")
        elif isinstance(item, Id):
            names.append("slug")
        elif isinstance(item, Link):
            names.append(item.reference.attribute)
        elif isinstance(item, List):
            names += ["id", "slug"]
        elif isinstance(item, Embedded):
            names += _needs(item.target)
    return list(dict.fromkeys(names))


def _page_objects(bound: List) -> list[Object]:
    found: list[Object] = []
    for part in bound.fields:
        if isinstance(part, Nodes):
            found.append(part.node)
        elif isinstance(part, Edge):
            found += [item.node for item in part.fields if isinstance(item, EdgeNode)]
    return found


def _shows_cursors(bound: List) -> bool:
    return any(
        isinstance(part, PageInfo)
        or (isinstance(part, Edge) and any(isinstance(i, Cursor) for i in part.fields))
        for part in bound.fields
    )


NO_CITATIONS = (0, 0)


class Nester:
    """Writes the nested statement of a bound tree on one store, and its shape."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.postgres = dialect == "postgresql"
        self._names = 0
        # Whether a list starts after or before a cursor: PostgreSQL would plan such a
        # statement anew on every run, as its page sizes are written in it (db/raw.py).
        self.pages_from_a_place = False

    def _name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def _deeper(self, depth: int) -> int:
        if not self.postgres and depth >= MAX_SQLITE_NESTING:
            raise TooDeep(f"more than {MAX_SQLITE_NESTING} nested subqueries")
        return depth + 1

    def statement(self, root: Root) -> tuple[Select[Any], Shape]:
        row = Row(self.postgres)
        fields: list[Any] = []
        for bound in root.fields:
            if isinstance(bound, Typename):
                fields.append(Constant(bound.key, bound.name))
            elif isinstance(bound, List):
                fields.append(self.list(bound, None, row, 0))
            elif isinstance(bound, Lookup):
                fields.append(self.lookup(bound, row))
            elif isinstance(bound, LookupList):
                items = tuple(self.lookup(item, row) for item in bound.items)
                fields.append(LookupListShape(bound.key, items))
            elif isinstance(bound, SearchList):
                fields.append(self.search(bound, row))
            else:
                raise NotCompiled(f"no plan for {bound!r}")
        return select(row.array().label("data")), Shape(tuple(fields))

    def search(self, bound: SearchList, row: Row) -> SearchShape:
        """The search's statement (db/search.py) as a subquery, and an array per hit: its
        columns, then each type's object where the hit is of that type (else NULL)."""
        depth = self._deeper(0)
        sql = search_sql(self.dialect, bound.fuzzy, bound.after, bound.types, f"s{bound.site}_")
        hits = text(sql).columns(*map(column, SEARCH_COLUMNS)).subquery(self._name("h"))
        items = Row(self.postgres)
        for name in SEARCH_COLUMNS[:-1]:
            items.column(hits, name)
        # SQLite hands JSON out of a subquery as text: json() makes it JSON again
        items.add(hits.c.matched if self.postgres else func.json(hits.c.matched))
        objects: dict[Object, tuple[int, ObjectShape]] = {}

        def hit_object(target: Object) -> tuple[int, ObjectShape]:
            if target not in objects:
                table = node_type(target.type_name).table.alias(self._name("t"))
                found = Row(self.postgres)
                shape = self.object(target, table, found, depth)
                is_type = hits.c.target_type == literal_column(f"'{target.type_name}'", String)
                value = (
                    select(found.array())
                    .select_from(table)
                    .where(table.c.id == hits.c.target_id, is_type)
                )
                objects[target] = (items.add(value.scalar_subquery()), shape)
            return objects[target]

        def hit_node(part: HitNode) -> HitNodeShape:
            nodes = tuple((t.type_name, *hit_object(t)) for t in part.nodes)
            return HitNodeShape(part.key, nodes)

        parts = search_parts(bound, hit_node)
        value = select(aggregate(items.array(), self.postgres)).select_from(hits)
        position = row.add(value.scalar_subquery())
        return SearchShape(bound.key, position, bound.arguments_parameter, parts)

    def lookup(self, bound: Lookup, row: Row) -> LookupShape:
        if bound.site is None or bound.target is None:
            return LookupShape(bound.key, None, None)
        depth = self._deeper(0)
        node = node_type(bound.target.type_name)
        table = node.table.alias(self._name("t"))
        slug = bindparam(f"s{bound.site}_slug", type_=String())
        source: FromClause = table
        if node is CITATION:  # its key names a span several rows may cite alike: one serves
            source = (
                self.quotes(bound.target, table)
                .where(table.c.slug == slug)
                .order_by(table.c.id)
                .limit(1)
                .subquery(self._name("q"))
            )
        found = Row(self.postgres)
        shape = self.object(bound.target, source, found, depth)
        value = select(found.array()).select_from(source)
        if node is not CITATION:
            value = value.where(table.c.slug == slug)
        return LookupShape(bound.key, row.add(value.scalar_subquery()), shape)

    def object(self, bound: Object, source: FromClause, row: Row, depth: int) -> ObjectShape:
        """The object's values, added to `row` (read from `source`, which has the columns
        `_needs` names)."""
        fields: list[Any] = []

        def position(name: str) -> int:
            return row.column(source, name)

        for item in bound.fields:
            plain = row_field(item, bound.type_name, position)
            if plain is not None:
                fields.append(plain)
            elif isinstance(item, Link):
                fields.append(self.link(item, source, row, depth))
            elif isinstance(item, List):
                fields.append(self.list(item, source, row, depth))
            elif isinstance(item, CitationList):
                fields.append(self.citations(item, source, "id", row, depth))
            elif isinstance(item, ContextSelection):
                parts = context_parts(item, position)
                fields.append(ContextShape(item.key, parts))
            elif isinstance(item, Embedded):
                target = self.object(item.target, source, row, depth)
                fields.append(EmbeddedShape(item.key, target))
            else:
                raise NotCompiled(f"no plan for {item!r}")
        return ObjectShape(tuple(fields))

    def link(self, bound: Link, owner: FromClause, row: Row, depth: int) -> LinkShape:
        depth = self._deeper(depth)
        target = node_type(bound.reference.target).table.alias(self._name("t"))
        found = Row(self.postgres)
        shape = self.object(bound.target, target, found, depth)
        value = (
            select(found.array())
            .select_from(target)
            .where(target.c.id == owner.c[bound.reference.attribute])
        )
        return LinkShape(bound.key, row.add(value.scalar_subquery()), shape)

    def citations(
        self, bound: CitationList, owner: FromClause, column: str, row: Row, depth: int
    ) -> CitationsShape:
        """The quotes whose subject is the owner's `column` (its id, or its link row's)."""
        if bound.subject is None:
            return CitationsShape(bound.key, None, ObjectShape(()), NO_CITATIONS)
        depth = self._deeper(depth)
        table = CITATION.table.alias(self._name("c"))
        subject = literal_column(f"'{bound.subject}'", String)
        quotes = (
            self.quotes(bound.citation, table)
            .where(citing(table, subject, owner.c[column]))
            .order_by(*citation_order(table))
            .correlate(owner)
            .subquery(self._name("q"))
        )
        found = Row(self.postgres)
        order = tuple(found.column(quotes, name) for name in CITATION_ORDER)
        shape = self.object(bound.citation, quotes, found, depth)
        value = select(aggregate(found.array(), self.postgres)).select_from(quotes)
        return CitationsShape(bound.key, row.add(value.scalar_subquery()), shape, order)

    def quotes(self, citation: Object, table: FromClause) -> Select[Any]:
        """The columns of citations `citation` reads, and the text around the quote its
        contexts ask for."""
        names = dict.fromkeys([*CITATION_ORDER, *_needs(citation)])
        columns = [table.c[name] for name in names]
        contexts = [item for item in citation.fields if isinstance(item, ContextSelection)]
        return quote_select(
            table,
            columns,
            contexts,
            lambda document: document.alias(self._name("d")),
            self.postgres,
        )

    def list(self, bound: List, owner: FromClause | None, row: Row, depth: int) -> ListShape:
        depth = self._deeper(depth)
        spec = LISTS[bound.list_key]
        prefix = f"s{bound.site}_"
        _, after, before = bound.window
        self.pages_from_a_place |= after is not None or before is not None
        shows_cursors = _shows_cursors(bound)
        needed = [name for node in _page_objects(bound) for name in _needs(node)]
        relation = relation_column(bound)  # the link row's, or the item's own column
        if relation is not None and relation != LINK_PROVENANCE:
            needed.append(relation)
        arguments = (bound.list_key, bound.filters, bound.ordering, bound.window, self.dialect)
        parent = None if owner is None else owner.c.id

        def page(projection: Projection, limit: int) -> Select[Any]:
            query = page_query(
                *arguments,
                parent=parent,
                prefix=prefix,
                projection=projection,
                limit=limit,
                alias=self._name("i"),
            )
            return query if owner is None else query.correlate(owner)

        projection = Projection(
            tuple(dict.fromkeys(needed)),
            keyed=shows_cursors,
            relation=relation == LINK_PROVENANCE,
        )
        rows = page(projection, bound.limit).subquery(self._name("p"))
        items = Row(self.postgres)

        def relation_citations(item: CitationList) -> CitationsShape:
            if spec.link is None:  # a relation with no row of its own has no quotes
                return CitationsShape(item.key, None, ObjectShape(()), NO_CITATIONS)
            linked = CitationList(item.key, spec.link.subject, item.citation)
            return self.citations(linked, rows, "edge_link", items, depth)

        parts = connection_parts(
            bound,
            lambda node: self.object(node, rows, items, depth),
            relation_citations,
            lambda name: items.column(rows, name),
        )
        key_column = items.column(rows, "edge_key") if shows_cursors else None
        value = select(aggregate(items.array(), self.postgres)).select_from(rows)
        position = row.add(value.scalar_subquery())
        total = probe = None
        if any(isinstance(part, TotalCount) for part in bound.fields):
            counted = list_total(
                bound.list_key, bound.filters, parent=parent, prefix=prefix, alias=self._name("n")
            )
            if owner is not None:
                counted = counted.correlate(owner)
            total = row.add(counted.scalar_subquery())
        if any(isinstance(part, PageInfo) for part in bound.fields):
            # one row past the page: a count above the size says more follow
            beyond = page(Projection((), keyed=False), bound.limit + 1).subquery(self._name("b"))
            probe = row.add(select(func.count()).select_from(beyond).scalar_subquery())
        owner_slug = row.column(owner, "slug") if owner is not None and shows_cursors else None
        return ListShape(
            key=bound.key,
            site=bound.site,
            backwards=bound.backwards,
            position=position,
            total=total,
            probe=probe,
            owner_slug=owner_slug,
            parts=tuple(parts),
            key_column=key_column,
        )
