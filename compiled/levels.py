"""One SQL statement per request, written as levels: every level of the response's tree is a
CTE, and the database returns each level's rows as one JSON array. The nested form
(`compiled/nested.py`) is cheaper; this one serves where SQLite's parser cannot take it.

A level is the rows one place of the tree needs: a lookup's row, a list's pages (for every
shown parent at once, with the same statements the loaders use: db/queries.py), a link's
targets, a citation list's quotes. Each level reads its parents' ids from the level above, so
the statement's depth stays constant however deep the query nests (SQLite's parser has a
fixed stack), and no parent is visited twice. `compiled/levels_data.py` nests the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import (
    CTE,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSON

from compiled.bind import (
    CitationList,
    ContextSelection,
    Embedded,
    HitNode,
    Link,
    List,
    Lookup,
    LookupList,
    Object,
    Root,
    SearchList,
    TotalCount,
    Typename,
)
from compiled.json_sql import (
    CONTEXT_PREFIX,
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
    row_field,
    search_parts,
    shows_cursors,
)
from compiled.template import NotCompiled
from db.mapping import CITATION, CITATION_ORDER, LISTS, citing, node_type
from db.provenance import LINK_PROVENANCE
from db.queries import Projection, ranked_pages, root_page
from db.search import SEARCH_COLUMNS, search_sql

# json_build_object takes as many arguments as json_build_array (two a level): the statement
# holds at most half as many levels as a row has columns.
MAX_LEVELS = MAX_COLUMNS // 2

# The columns a page adds beside its table's (db/queries.py).
PAGE_EXTRA = (
    "edge_parent",
    "edge_link",
    LINK_PROVENANCE,
    "edge_key",
    "edge_total",
    "edge_in",
    "edge_rank",
)


@dataclass
class Level:
    """The rows one place of the tree needs, and which of their columns it reads."""

    index: int
    kind: str  # lookup, root, list, link, citations, search, hit (a search hit's object)
    table: str  # the node type whose table holds the rows (a search's: none)
    bound: Any
    parent: Level | None = None
    via: str = "id"  # the parent's column that the rows belong to
    columns: list[str] = field(default_factory=list)
    contexts: list[ContextSelection] = field(default_factory=list)
    keyed: bool = False  # whether a page's rows need their cursor keys

    @property
    def table_columns(self) -> tuple[str, ...]:
        """The columns of its table the level reads (always its id, so that a row is there
        to see): a narrow row costs less to carry."""
        names = dict.fromkeys(["id", *self.columns])
        return tuple(c for c in names if c not in PAGE_EXTRA and not c.startswith(CONTEXT_PREFIX))

    def column(self, name: str) -> int:
        """The position of `name` in this level's rows, added on first use."""
        if name not in self.columns:
            self.columns.append(name)
        return self.columns.index(name)

    @property
    def name(self) -> str:
        return f"l{self.index}"


# The plan's shape, as the assembler reads it: each field with the positions of its values.


@dataclass(frozen=True)
class LinkShape:
    build: ClassVar[str] = "link"
    key: str
    foreign_key: int  # position in the owner's row
    level: int
    target_id: int  # position of the id in the target's rows
    target: ObjectShape


@dataclass(frozen=True)
class CitationsShape:
    build: ClassVar[str] = "citations"
    key: str
    owner: int | None  # position of the subject's id in the owner's row; None: no citations
    level: int
    citation: ObjectShape


@dataclass(frozen=True)
class ListShape(ListParameters):
    build: ClassVar[str] = "connection"
    key: str
    level: int
    site: int
    backwards: bool
    owner_id: int | None  # positions in the owner's row: its id and slug (None for root)
    owner_slug: int | None
    parts: tuple[Any, ...]
    # positions in the list's own rows
    id_column: int
    key_column: int
    rank: int
    total: int
    in_window: int | None
    parent: int | None
    has_cursors: bool  # whether edges' cursors or pageInfo's are shown


@dataclass(frozen=True)
class LookupShape:
    key: str
    level: int | None
    node: ObjectShape | None


class Planner:
    """Turns a bound tree into levels (for the SQL) and a shape (for the assembler)."""

    def __init__(self) -> None:
        self.levels: list[Level] = []

    def _level(self, kind: str, table: str, bound: Any, parent: Level | None, via: str) -> Level:
        if len(self.levels) >= MAX_LEVELS:  # refused before any SQL is built
            raise NotCompiled(f"more than {MAX_LEVELS} levels")
        level = Level(len(self.levels) + 1, kind, table, bound, parent, via)
        self.levels.append(level)
        return level

    def root(self, root: Root) -> Shape:
        fields: list[Any] = []
        for bound in root.fields:
            if isinstance(bound, Typename):
                fields.append(Constant(bound.key, bound.name))
            elif isinstance(bound, List):
                fields.append(self.list(bound, None))
            elif isinstance(bound, Lookup):
                fields.append(self.lookup(bound))
            elif isinstance(bound, LookupList):
                fields.append(LookupListShape(bound.key, tuple(map(self.lookup, bound.items))))
            elif isinstance(bound, SearchList):
                fields.append(self.search(bound))
            else:
                raise NotCompiled(f"no plan for {bound!r}")
        return Shape(tuple(fields))

    def search(self, bound: SearchList) -> SearchShape:
        """A level of the search's hits (its statement's columns), and a level per type of
        the hits' objects of that type."""
        level = self._level("search", "", bound, None, "id")
        for name in SEARCH_COLUMNS:
            level.column(name)
        objects: dict[Object, tuple[int, ObjectShape]] = {}

        def hit_object(target: Object) -> tuple[int, ObjectShape]:
            if target not in objects:
                found = self._level("hit", target.type_name, target, level, "target_id")
                found.column("id")  # first: the assembler finds a hit's object by it
                objects[target] = (found.index, self.object(target, found))
            return objects[target]

        def hit_node(part: HitNode) -> HitNodeShape:
            nodes = tuple((t.type_name, *hit_object(t)) for t in part.nodes)
            return HitNodeShape(part.key, nodes)

        parts = search_parts(bound, hit_node)
        return SearchShape(bound.key, level.index, bound.arguments_parameter, parts)

    def lookup(self, bound: Lookup) -> LookupShape:
        if bound.site is None or bound.target is None:
            return LookupShape(bound.key, None, None)
        level = self._level("lookup", bound.target.type_name, bound, None, "id")
        return LookupShape(bound.key, level.index, self.object(bound.target, level))

    def object(self, bound: Object, level: Level) -> ObjectShape:
        fields: list[Any] = []
        for item in bound.fields:
            plain = row_field(item, bound.type_name, level.column)
            if plain is not None:
                fields.append(plain)
            elif isinstance(item, Link):
                foreign_key = level.column(item.reference.attribute)
                target = self._level(
                    "link", item.reference.target, item, level, item.reference.attribute
                )
                target_id = target.column("id")
                shape = self.object(item.target, target)
                fields.append(LinkShape(item.key, foreign_key, target.index, target_id, shape))
            elif isinstance(item, List):
                fields.append(self.list(item, level))
            elif isinstance(item, CitationList):
                fields.append(self.citations(item, level, "id"))
            elif isinstance(item, ContextSelection):
                level.contexts.append(item)
                fields.append(ContextShape(item.key, context_parts(item, level.column)))
            elif isinstance(item, Embedded):
                fields.append(EmbeddedShape(item.key, self.object(item.target, level)))
            else:
                raise NotCompiled(f"no plan for {item!r}")
        return ObjectShape(tuple(fields))

    def citations(self, bound: CitationList, owner: Level, via: str) -> CitationsShape:
        if bound.subject is None:
            return CitationsShape(bound.key, None, 0, ObjectShape(()))
        level = self._level("citations", CITATION.name, bound, owner, via)
        for name in ("subject_id", *CITATION_ORDER):  # the assembler's first three
            level.column(name)
        shape = self.object(bound.citation, level)
        return CitationsShape(bound.key, owner.column(via), level.index, shape)

    def list(self, bound: List, owner: Level | None) -> ListShape:
        spec = LISTS[bound.list_key]
        level = self._level("root" if owner is None else "list", spec.target, bound, owner, "id")
        id_column = level.column("id")
        level.column("slug")
        has_link = spec.link is not None

        def relation_citations(item: CitationList) -> CitationsShape:
            if not has_link:  # a relation with no row of its own has no quotes
                return CitationsShape(item.key, None, 0, ObjectShape(()))
            linked = CitationList(item.key, _link_subject(level), item.citation)
            return self.citations(linked, level, "edge_link")

        parts = connection_parts(
            bound, lambda node: self.object(node, level), relation_citations, level.column
        )
        has_cursors = any(map(shows_cursors, parts))
        level.keyed = has_cursors
        return ListShape(
            key=bound.key,
            level=level.index,
            site=bound.site,
            backwards=bound.backwards,
            owner_id=None if owner is None else owner.column("id"),
            owner_slug=None if owner is None else owner.column("slug"),
            parts=tuple(parts),
            id_column=id_column,
            key_column=level.column("edge_key"),
            rank=level.column("edge_rank"),
            total=level.column("edge_total"),
            in_window=None if owner is None else level.column("edge_in"),
            parent=None if owner is None else level.column("edge_parent"),
            has_cursors=has_cursors,
        )


def _link_subject(level: Level) -> str:
    link = LISTS[level.bound.list_key].link
    assert link is not None
    return link.subject


class StatementBuilder:
    """The statement for a plan's levels on one store."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.postgres = dialect == "postgresql"
        self.ctes: dict[int, CTE] = {}

    def statement(self, levels: list[Level]) -> Select[Any]:
        pairs: list[Any] = []
        for level in levels:
            if len(level.columns) > MAX_COLUMNS:
                raise NotCompiled("a level with too many columns")
            cte = self.cte(level)
            self.ctes[level.index] = cte
            row = [exact(cte.c[name], self.postgres) for name in level.columns]
            if level.kind == "search" and not self.postgres:  # JSON out of a CTE is text
                row[-1] = func.json(row[-1])
            pairs += [literal_column(f"'{level.index}'", String), self.rows(row, cte)]
        # Returned as text (no JSON type here), so orjson reads it once.
        if self.postgres:
            return select(func.json_build_object(*pairs).label("levels"))
        return select(func.json_object(*pairs).label("levels"))

    def rows(self, row: list[Any], cte: CTE) -> Any:
        rows = aggregate(array(row, self.postgres), self.postgres)
        if self.postgres:  # the assembler indexes every level: none is NULL
            rows = func.coalesce(rows, literal_column("'[]'::json", JSON))
        return select(rows).select_from(cte).scalar_subquery()

    def _parents(self, level: Level) -> Any:
        """The ids (or keys) the level's rows belong to: its parent level's shown rows."""
        assert level.parent is not None
        parent = self.ctes[level.parent.index]
        shown = self._shown(level.parent, parent)
        if level.kind == "hit":  # the hits of this level's type
            shown = parent.c.target_type == literal_column(f"'{level.table}'", String)
        return select(parent.c[level.via]).where(shown)

    def _shown(self, level: Level, cte: CTE) -> Any:
        """The rows of a level that appear in the response (a page's extra row does not)."""
        if level.kind not in ("root", "list"):
            return true()
        size = bindparam(f"s{level.bound.site}_size", type_=Integer())
        shown = and_(cte.c.id.is_not(None), cte.c.edge_rank <= size)
        return and_(shown, cte.c.edge_in == 1) if level.kind == "list" else shown

    def cte(self, level: Level) -> CTE:
        bound = level.bound
        if level.kind == "search":
            prefix = f"s{bound.site}_"
            sql = search_sql(self.dialect, bound.fuzzy, bound.after, bound.types, prefix)
            return text(sql).columns(*map(column, SEARCH_COLUMNS)).cte(level.name)
        node = node_type(level.table)
        table = node.table
        columns = [table.c[name] for name in level.table_columns]
        if level.kind == "lookup":
            query = (  # the first row: a citation's key may name a span several rows cite
                self.read(table, level)
                .where(table.c.slug == bindparam(f"s{bound.site}_slug", type_=String()))
                .order_by(table.c.id)
                .limit(1)
            )
        elif level.kind in ("root", "list"):
            arguments = (bound.list_key, bound.filters, bound.ordering, bound.window, self.dialect)
            prefix = f"s{bound.site}_"
            counted = any(isinstance(part, TotalCount) for part in bound.fields)
            # The assembler orders each page's rows by rank: the rows need no order here.
            projection = Projection(
                level.table_columns,
                keyed=level.keyed,
                ordered=False,
                relation=LINK_PROVENANCE in level.columns,  # an edge's provenance is shown
            )
            if level.kind == "root":
                query = root_page(
                    *arguments, prefix=prefix, with_total=counted, projection=projection
                )
            else:
                parents = self._parents(level)
                query = ranked_pages(
                    *arguments, parents, prefix=prefix, with_total=counted, projection=projection
                )
        elif level.kind in ("link", "hit"):
            query = select(*columns).where(table.c.id.in_(self._parents(level)))
        else:  # citations of a row, or of the relation an edge stands for
            query = self.citations(level)
        return query.cte(level.name)

    def citations(self, level: Level) -> Select[Any]:
        table = CITATION.table
        subject = literal_column(f"'{level.bound.subject}'", String)
        return self.read(table, level).where(citing(table, subject, self._parents(level)))

    def read(self, table: FromClause, level: Level) -> Select[Any]:
        """The level's columns of `table`, and the text around each quote its contexts ask for
        (a citation's level)."""
        selected = [table.c[name] for name in level.table_columns]
        return quote_select(
            table, selected, level.contexts, lambda document: document, self.postgres
        )
