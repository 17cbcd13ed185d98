"""A request's arguments bound to its selections: what the statement looks like, and the
values it takes.

The result is a tree of frozen dataclasses that holds everything that shapes the SQL (the
fields, each list's filter, order and kind of window, each lookup's type) and nothing that
does not (slugs, page sizes, cursor places), which become parameters. Equal trees compile to
the same statement, so the tree is the statement cache's key.

Arguments are checked by the same functions the resolvers use. Any argument the resolvers
would refuse raises `NotCompiled`: the reference executor then answers, with its errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import get_argument_values
from graphql.execution.values import VariableValues

from compiled.template import Collector, NotCompiled, Selected, Selection, Wrapper
from core.errors import BadUserInput
from db.mapping import (
    SEARCHABLE,
    BySlug,
    Citations,
    GlobalId,
    ListEdge,
    Names,
    NodeById,
    NodesByIds,
    ProvenanceOf,
    QuoteContext,
    Reference,
    Scalar,
    Search,
    TextPositionSelector,
    TextQuoteSelector,
    node_type,
)
from db.order import Ordering
from db.queries import ListFilter, WindowShape, filter_parameters, filter_shape
from db.search import search_parameters
from semantics.ids import CONTEXT_TYPE, decode_node_id, ids_in_range, is_slug
from semantics.lists import list_filter, ordering_of, page_window
from semantics.pagination import CursorScope, fingerprint, page_arguments
from semantics.quotes import context_width
from semantics.search import SearchArguments, search_arguments


@dataclass(frozen=True)
class Column:
    """A column's value, read as it is or by `read` (compiled/shape.py names the readers)."""

    key: str
    column: str
    read: str | None = None  # FLOAT (exact floats), NAMES (a JSON array of names)


FLOAT, NAMES = "to_float", "names"


# A part of a context, of PageInfo or of a provenance shown as the text after this mark: a
# `__typename`, or a selector's W3C `type`.
CONSTANT = "constant:"
Parts = tuple[tuple[str, str], ...]  # (response key, field name, or CONSTANT and its text)
ProvenanceParts = tuple[tuple[str, str | Parts], ...]  # as Parts, or the Parts of `fields`


@dataclass(frozen=True)
class ProvenanceSelection:
    """What a row rests on (its `provenance` column) or, on an edge, what the relation the
    edge stands for rests on: the fields selected of it, `fields` with those of each entry."""

    key: str
    parts: ProvenanceParts


@dataclass(frozen=True)
class Typename:
    """A constant string: a `__typename`, or a selector's W3C `type` (its type's name)."""

    key: str
    name: str


@dataclass(frozen=True)
class Id:
    key: str


@dataclass(frozen=True)
class Object:
    """The fields of one object of a node type (or Citation), read from a row."""

    type_name: str
    fields: tuple[Any, ...]


@dataclass(frozen=True)
class Link:
    """A single link: the target row through a foreign key of this row."""

    key: str
    reference: Reference
    target: Object


@dataclass(frozen=True)
class CitationList:
    """Citations of this row (`link` None) or of the relation its edge stands for."""

    key: str
    subject: str | None  # the table whose rows are cited; None: a relation with no link
    citation: Object
    of_link: bool = False


@dataclass(frozen=True)
class ContextSelection:
    """The text around a quote at a width (bound as `s<site>_characters`): a QuoteContext,
    or a TextQuoteSelector (`type_name`), which shows the same parts under W3C names."""

    key: str
    site: int
    fields: Parts  # (response key, id|before|quote|after, or CONSTANT...)
    type_name: str = CONTEXT_TYPE


@dataclass(frozen=True)
class Embedded:
    """An object whose values are its owner's row's (a citation's TextPositionSelector)."""

    key: str
    target: Object


@dataclass(frozen=True)
class Edge:
    key: str
    fields: tuple[Any, ...]  # Cursor, EdgeNode, CitationList, ProvenanceSelection, Typename


@dataclass(frozen=True)
class Cursor:
    key: str


@dataclass(frozen=True)
class EdgeNode:
    key: str
    node: Object


@dataclass(frozen=True)
class Nodes:
    key: str
    node: Object


@dataclass(frozen=True)
class TotalCount:
    key: str


@dataclass(frozen=True)
class PageInfo:
    key: str
    fields: Parts  # (response key, hasNextPage|..., or CONSTANT...)


@dataclass(frozen=True)
class List:
    """A connection: a page of a list of the map at one place of the tree."""

    key: str
    site: int
    list_key: str
    filters: ListFilter
    ordering: Ordering
    window: WindowShape  # what of the window shapes the SQL (Window.shape)
    # The page size, written into the nested statement so that its plan knows how few rows a
    # page takes (one statement per size: rounding sizes up to a few steps made the database
    # compute the nested lists of rows nobody sees, past what the cost estimate allowed).
    limit: int
    fields: tuple[Any, ...]  # TotalCount, PageInfo, Edge, Nodes, Typename

    @property
    def backwards(self) -> bool:
        return self.window[0]


@dataclass(frozen=True)
class Lookup:
    """An object by slug (`company(slug:)`, `node(id:)`); `site` None: it cannot exist."""

    key: str
    site: int | None
    target: Object | None


@dataclass(frozen=True)
class LookupList:
    """`nodes(ids:)`: one lookup per ID, in order."""

    key: str
    items: tuple[Lookup, ...]


@dataclass(frozen=True)
class Score:
    key: str


@dataclass(frozen=True)
class Highlights:
    key: str
    fields: Parts  # (response key, a Highlight's field, or CONSTANT and its text)


@dataclass(frozen=True)
class HitNode:
    """A hit's object (an edge's `node`), or the page's objects (the connection's `nodes`):
    what is selected on each type the search finds."""

    key: str
    nodes: tuple[Object, ...]


@dataclass(frozen=True)
class SearchList:
    """`search(query:)`: a page of ranked hits (db/search.py's statement, its query's values
    bound as `s<site>_...`), each with its object of whichever type it is."""

    key: str
    site: int
    fuzzy: bool  # whether names are also matched by similarity
    after: bool  # whether the page starts after a cursor
    types: tuple[str, ...]  # the types searched (written into the statement)
    fields: tuple[Any, ...]  # TotalCount, PageInfo, Edge (of Cursor, Score, ...), HitNode

    @property
    def arguments_parameter(self) -> str:
        """Where the search's checked arguments are kept beside the statement's values."""
        return f"s{self.site}_search"


@dataclass(frozen=True)
class Root:
    fields: tuple[Any, ...]


# Lookups, lists and quote contexts one request may bind; each becomes at least one subquery
# (compiled/nested.py) or level (compiled/levels.py, at most 50) of the statement, so past
# this it is not compiled.
MAX_SITES = 50


class Binder:
    """Binds one request's variables to an operation's selections."""

    def __init__(self, collector: Collector, variables: VariableValues, dialect: str) -> None:
        self.collector = collector
        self.variables = variables
        self.dialect = dialect  # a search's values are the store's own query syntax
        self.parameters: dict[str, Any] = {}
        self.sites = 0

    def _site(self) -> int:
        self.sites += 1
        if self.sites > MAX_SITES:  # refused before binding further (nodes(ids:) x fields)
            raise NotCompiled(f"more than {MAX_SITES} lookups, lists and contexts")
        return self.sites

    def _arguments(self, selected: Selected) -> dict[str, Any]:
        assert selected.definition is not None
        return get_argument_values(selected.definition, selected.nodes[0], self.variables)

    def root(self, selection: Selection) -> Root:
        fields: list[Any] = []
        for selected in selection.fields:
            spec = selected.spec
            if isinstance(spec, Wrapper):
                fields.append(Typename(selected.key, selection.type_name))
            elif isinstance(spec, ListEdge):
                fields.append(self.list(selected, spec, f"Query.{selected.name}", ""))
            elif isinstance(spec, BySlug):
                slug = self._arguments(selected)["slug"]
                fields.append(self.lookup(selected, spec.target, slug, selected.child))
            elif isinstance(spec, NodeById):
                type_name, slug = _checked(decode_node_id, self._arguments(selected)["id"])
                concrete = self.collector.concrete(selected, type_name)
                fields.append(self.lookup(selected, type_name, slug, concrete))
            elif isinstance(spec, NodesByIds):
                ids = _checked(ids_in_range, self._arguments(selected)["ids"])
                # every ID checked before any is looked up
                decoded = [_checked(decode_node_id, global_id) for global_id in ids]
                items = tuple(
                    self.lookup(selected, t, s, self.collector.concrete(selected, t))
                    for t, s in decoded
                )
                fields.append(LookupList(selected.key, items))
            elif isinstance(spec, Search):
                fields.append(self.search(selected))
            else:
                raise NotCompiled(selected.name)
        return Root(tuple(fields))

    def lookup(
        self, selected: Selected, type_name: str, slug: str, selection: Selection | None
    ) -> Lookup:
        if not is_slug(slug) or selection is None:
            return Lookup(selected.key, None, None)  # the resolver asks no store either
        site = self._site()
        self.parameters[f"s{site}_slug"] = slug
        return Lookup(selected.key, site, self.object(selection, slug))

    def object(self, selection: Selection, slug: str | None) -> Object:
        """An object's fields; `slug` is its own slug where known now (a lookup's)."""
        owner = node_type(selection.type_name)
        fields: list[Any] = []
        for selected in selection.fields:
            spec = selected.spec
            if isinstance(spec, Wrapper):
                fields.append(Typename(selected.key, selection.type_name))
            elif isinstance(spec, Scalar):
                is_float = spec.column.type.python_type is float
                fields.append(Column(selected.key, spec.name, FLOAT if is_float else None))
            elif isinstance(spec, Names):
                fields.append(Column(selected.key, spec.name, NAMES))
            elif isinstance(spec, ProvenanceOf):
                fields.append(_provenance(selected))
            elif isinstance(spec, GlobalId):
                fields.append(Id(selected.key))
            elif isinstance(spec, Reference):
                assert selected.child is not None
                fields.append(Link(selected.key, spec, self.object(selected.child, None)))
            elif isinstance(spec, ListEdge):
                key = f"{selection.type_name}.{selected.name}"
                fields.append(self.list(selected, spec, key, slug))
            elif isinstance(spec, Citations):
                assert selected.child is not None
                citation = self.object(selected.child, None)
                fields.append(CitationList(selected.key, owner.subject, citation))
            elif isinstance(spec, QuoteContext):
                characters = self._arguments(selected)["characters"]
                fields.append(self.context(selected, characters))
            elif isinstance(spec, TextQuoteSelector):
                fields.append(self.context(selected, spec.characters, spec))
            elif isinstance(spec, TextPositionSelector):
                assert selected.child is not None
                fields.append(Embedded(selected.key, _position(selected.child, spec)))
            else:
                raise NotCompiled(f"{selection.type_name}.{selected.name}")
        return Object(selection.type_name, tuple(fields))

    def context(
        self, selected: Selected, characters: int, selector: TextQuoteSelector | None = None
    ) -> ContextSelection:
        """A quote's context at `characters` a side, or its `selector`: the same context at
        the selector's width, its parts under W3C names."""
        width = _checked(context_width, characters)
        site = self._site()
        self.parameters[f"s{site}_characters"] = width
        assert selected.child is not None
        if selector is None:
            return ContextSelection(selected.key, site, _parts(selected.child))
        shown = {"type": CONSTANT + selector.w3c_type, **dict(selector.parts)}
        return ContextSelection(
            selected.key, site, _parts(selected.child, shown), selector.w3c_type
        )

    def list(self, selected: Selected, spec: ListEdge, list_key: str, parent: str | None) -> List:
        """A connection; `parent` is the slug of the object whose list it is where known
        now ("" for a root list), else None (a list under a list: many parents)."""
        arguments = self._arguments(selected)
        try:
            filters = list_filter(list_key, arguments.get("filter"))
            order = arguments.get("orderBy") or {}
            ordering = ordering_of(list_key, order.get("field"), order.get("direction"))
            scope = fingerprint(list_key, filters, ordering)
            has_cursor = arguments.get("after") is not None or arguments.get("before") is not None
            if has_cursor and parent is None:
                raise NotCompiled("a cursor on a list of many parents")
            where = CursorScope(scope, parent or "")
            page = page_arguments(
                where,
                first=arguments.get("first"),
                after=arguments.get("after"),
                last=arguments.get("last"),
                before=arguments.get("before"),
            )
            window = page_window(list_key, ordering, page, ("after", "before"))
        except BadUserInput as error:
            raise NotCompiled(error.message) from None
        site = self._site()
        self.parameters.update(window.parameters(f"s{site}_"))
        self.parameters.update(filter_parameters(filters, f"s{site}_"))
        self.parameters[f"s{site}_scope"] = scope
        assert selected.child is not None
        fields = self.connection(selected.child, self.list_nodes, self.list_edge)
        return List(
            selected.key,
            site,
            list_key,
            filter_shape(filters),  # the values are parameters: one statement per shape
            ordering,
            window.shape(),
            window.size,
            fields,
        )

    def connection(
        self,
        selection: Selection,
        nodes: Callable[[Selected], Any],
        edge: Callable[[Selected], Any],
    ) -> tuple[Any, ...]:
        """A connection's fields; what its `nodes` and its edges' own fields are, the caller
        says (a list's, or a search's)."""
        fields: list[Any] = []
        for selected in selection.fields:
            name = selected.name
            if name == "__typename":
                fields.append(Typename(selected.key, selection.type_name))
            elif name == "totalCount":
                fields.append(TotalCount(selected.key))
            elif name == "pageInfo":
                assert selected.child is not None
                fields.append(PageInfo(selected.key, _parts(selected.child)))
            elif name == "nodes":
                fields.append(nodes(selected))
            elif name == "edges":
                assert selected.child is not None
                fields.append(Edge(selected.key, self.edge(selected.child, edge)))
            else:
                raise NotCompiled(f"connection field {name}")
        return tuple(fields)

    @staticmethod
    def edge(selection: Selection, part: Callable[[Selected], Any]) -> tuple[Any, ...]:
        fields: list[Any] = []
        for selected in selection.fields:
            if selected.name == "__typename":
                fields.append(Typename(selected.key, selection.type_name))
            elif selected.name == "cursor":
                fields.append(Cursor(selected.key))
            else:
                fields.append(part(selected))
        return tuple(fields)

    def list_nodes(self, selected: Selected) -> Nodes:
        assert selected.child is not None
        return Nodes(selected.key, self.object(selected.child, None))

    def list_edge(self, selected: Selected) -> Any:
        """A field of a list's edge: its node, or the citations or provenance of the
        relation."""
        assert selected.child is not None
        if selected.name == "node":
            return EdgeNode(selected.key, self.object(selected.child, None))
        if selected.name == "citations":
            citation = self.object(selected.child, None)
            return CitationList(selected.key, None, citation, of_link=True)
        if selected.name == "provenance":
            return _provenance(selected)
        raise NotCompiled(f"edge field {selected.name}")

    def search(self, selected: Selected) -> SearchList:
        """`search`, checked by the resolver's own function: what it refuses, the reference
        executor answers."""
        arguments = self._arguments(selected)
        types = arguments.get("types")
        try:
            asked = search_arguments(
                arguments["query"],
                first=arguments.get("first"),
                after=arguments.get("after"),
                types=None if types is None else [SEARCHABLE_BY_ENUM[t] for t in types],
            )
        except BadUserInput as error:
            raise NotCompiled(error.message) from None
        if asked.query.finds_nothing:  # no statement: the resolver answers an empty page
            raise NotCompiled("a search for nothing")
        site = self._site()
        prefix = f"s{site}_"
        self.parameters.update(
            search_parameters(asked.query, self.dialect, asked.size, asked.place, prefix)
        )
        assert selected.child is not None
        fields = self.connection(
            selected.child,
            lambda nodes: self.hit_node(nodes, asked),
            lambda part: self.hit_part(part, asked),
        )
        bound = SearchList(
            selected.key,
            site,
            bool(asked.query.fuzzy),
            asked.place is not None,
            asked.types,
            fields,
        )
        self.parameters[bound.arguments_parameter] = asked
        return bound

    def hit_node(self, selected: Selected, asked: SearchArguments) -> HitNode:
        objects = (
            self.object(self.collector.concrete(selected, type_name), None)
            for type_name in asked.types
        )
        return HitNode(selected.key, tuple(objects))

    def hit_part(self, selected: Selected, asked: SearchArguments) -> Any:
        """A field of a search hit (its cursor and typename aside)."""
        if selected.name == "node":
            return self.hit_node(selected, asked)
        if selected.name == "score":
            return Score(selected.key)
        if selected.name == "highlights":
            assert selected.child is not None
            return Highlights(selected.key, _parts(selected.child))
        raise NotCompiled(f"search hit field {selected.name}")


# `types` as the contract's enum names them: each type's name in capitals.
SEARCHABLE_BY_ENUM = {name.upper(): name for name in SEARCHABLE}


def _parts(selection: Selection, shown: Mapping[str, str] | None = None) -> Parts:
    """Each response key and the part it shows: its field's, or the one `shown` names."""
    renamed = shown or {}
    return tuple(
        (
            f.key,
            CONSTANT + selection.type_name
            if f.name == "__typename"
            else renamed.get(f.name, f.name),
        )
        for f in selection.fields
    )


def _position(selection: Selection, selector: TextPositionSelector) -> Object:
    """A TextPositionSelector: an object of its citation's row, showing the row's columns."""
    columns = dict(selector.columns)
    fields: list[Any] = []
    for selected in selection.fields:
        if selected.name == "__typename":
            fields.append(Typename(selected.key, selection.type_name))
        elif selected.name == "type":
            fields.append(Typename(selected.key, selector.w3c_type))
        elif selected.name == "id":
            fields.append(Id(selected.key))
        else:
            column = columns[selected.name]
            is_float = column.type.python_type is float
            fields.append(Column(selected.key, column.key, FLOAT if is_float else None))
    return Object(selector.w3c_type, tuple(fields))


def _provenance(selected: Selected) -> ProvenanceSelection:
    assert selected.child is not None
    parts = [
        part if field.child is None else (field.key, _parts(field.child))
        for field, part in zip(selected.child.fields, _parts(selected.child), strict=True)
    ]
    return ProvenanceSelection(selected.key, tuple(parts))


A = TypeVar("A")
R = TypeVar("R")


def _checked(rule: Callable[[A], R], value: A) -> R:
    """An argument read by a rule of semantics/ (a node's ID split, `ids` counted, a
    context's width), or not compiled where the rule refuses it: the reference executor,
    reading it by the same rule, words the refusal."""
    try:
        return rule(value)
    except BadUserInput as error:
        raise NotCompiled(error.message) from None
