"""What an operation may fetch, priced before it runs, field by field as the type map states.

Cost is an upper bound on the objects a query can fetch: every item of a connection, every
citation, every single object (a lookup or a link), each at the price the type map gives its
field (`cost`: one object), and every connection at least one (itself, however empty its
page). A connection counts its page size (`first`/`last`, `DEFAULT_PAGE_SIZE` when neither is
given), but no more than the most items one parent has in that list in the current store, as
the last seed recorded it (db/state.py); a `citations` list counts the most citations one row
of its type has (on an edge: one relation; none on a list without a link table). Where the
store recorded no size, the page size and the map's `Citations.estimate` count. So
`first: 50` inside `first: 50` costs 50 + 50 * 50 = 2,550 in a store where every such list is
that long. A connection's own wrappers (edges, nodes, pageInfo) are free; a field of an
interface costs what it costs on the dearest type implementing it. Introspection costs nothing
(the good-faith rule of operation/measure.py bounds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)

from core.errors import QueryTooComplex
from core.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Limits
from db.mapping import (
    CITED,
    MAX_NODES,
    OWNERS,
    Citations,
    FieldSpec,
    ListEdge,
    NodesByIds,
    QuoteContext,
    Search,
    list_key,
)
from db.state import StoreSnapshot, citations_key, relation_citations_key
from operation.size import NULL, SMALL, Widths, key
from operation.walk import (
    LIST_LENGTH_ARGUMENT,
    PAGE_SIZE_ARGUMENTS,
    SIZE_CLAMP,
    Walk,
    field_definition,
)

NOTHING_RECORDED = StoreSnapshot()
"""A store whose sizes are unknown: lists count their page size, citations the estimate."""
CONTEXT_ARGUMENT = "characters"  # of a quote's context: how many on each side
WHOLE_DOCUMENT = 1 << 30  # a context's width a variable gives: as wide as a document
ENVELOPE = 128  # `{"data":...}` and the cost the answer reports


@dataclass(frozen=True)
class Price:
    """What one field costs as the type map states it, and the recorded size (a key of
    db/state.py) that bounds its count in the current store. `relation`: an edge's
    citations, which a list without a link table never has."""

    spec: FieldSpec
    bound: str | None = None
    relation: bool = False


@dataclass(frozen=True)
class Prices:
    """Prices by (type, field); a field of an interface has its implementations' prices.

    A field not listed is a wrapper of a connection or an edge (`edges`, `nodes`, `node`,
    `pageInfo`): its items are counted once, by the connection. `edges` are the edge types,
    `connections` the paged lists' types; `context_default` is a quote context's width where
    its `characters` are not given.
    """

    fields: dict[tuple[str, str], tuple[Price, ...]]
    edges: frozenset[str]
    connections: frozenset[str]
    context_default: int


@cache
def _prices(schema: GraphQLSchema) -> Prices:
    fields: dict[tuple[str, str], tuple[Price, ...]] = {}
    edges: set[str] = set()
    connections: set[str] = set()
    context_default = 0
    for owner in OWNERS:
        graphql_type = schema.get_type(owner.name)
        assert isinstance(graphql_type, GraphQLObjectType), owner.name
        for name, spec in owner.fields.items():
            fields[(owner.name, name)] = (_price(owner.name, name, spec),)
            if isinstance(spec, ListEdge | Search):
                connections.add(get_named_type(graphql_type.fields[name].type).name)
            if isinstance(spec, QuoteContext):
                argument = graphql_type.fields[name].args[CONTEXT_ARGUMENT]
                context_default = max(context_default, _default(argument))
            if isinstance(spec, ListEdge):  # a relation's citations are on its edges
                connection = get_named_type(graphql_type.fields[name].type)
                assert isinstance(connection, GraphQLObjectType), name
                edge = get_named_type(connection.fields["edges"].type)
                bound = relation_citations_key(spec.target)
                fields[(edge.name, "citations")] = (Price(CITED, bound, relation=True),)
                edges.add(edge.name)
    for interface in schema.type_map.values():
        if not isinstance(interface, GraphQLInterfaceType):
            continue
        implementations = schema.get_implementations(interface).objects
        for name in interface.fields:
            found = [fields.get((t.name, name)) for t in implementations]
            if any(found):
                fields[(interface.name, name)] = tuple(p for ps in found if ps for p in ps)
    return Prices(fields, frozenset(edges), frozenset(connections), context_default)


def _default(argument: GraphQLArgument) -> int:
    """An Int argument's default, in a schema built from code or from the SDL."""
    if isinstance(argument.default_value, int):
        return argument.default_value
    node = argument.ast_node
    default = None if node is None else node.default_value
    assert isinstance(default, IntValueNode), "an argument without a default"
    return int(default.value)


def _price(owner: str, name: str, spec: FieldSpec) -> Price:
    if isinstance(spec, ListEdge | Search):
        return Price(spec, list_key(owner, name))
    if isinstance(spec, Citations):
        return Price(spec, citations_key(owner))
    return Price(spec)


def check_cost(cost: int, limits: Limits) -> None:
    if cost > limits.max_cost:
        raise QueryTooComplex(
            f"The query may fetch up to {cost:,} objects; the budget is {limits.max_cost:,}. "
            "Ask for smaller pages (first/last) or fewer nested lists.",
            cost=cost,
            budget=limits.max_cost,
        )


def cost_inputs(
    variables: Mapping[str, Any] | None, names: frozenset[str]
) -> tuple[tuple[str, int | None], ...]:
    """The only parts of the variables the cost depends on: page sizes and list lengths.

    Only variables the client sent appear. A null is None: no size given, so the resolver's
    default applies, not the variable's default. Numbers are clamped to just past the largest
    page or list, so the result (a cache key) takes few values.
    """
    values = variables or {}
    return tuple(sorted((name, _size_of(values[name])) for name in names if name in values))


def _size_of(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():  # graphql-core takes 100.0 as Int 100
        value = int(value)
    if isinstance(value, list):
        value = len(value)
    if isinstance(value, int):
        return min(max(value, 0), SIZE_CLAMP)
    return None


@dataclass(frozen=True)
class Estimate:
    """What an operation may take at most: the `objects` it fetches (its cost) and the
    `bytes` of its answer's `data` (operation/size.py)."""

    objects: int
    bytes: int


@dataclass(frozen=True)
class _Part:
    """A selection's share: objects, bytes once per object it is selected on, and bytes per
    item of the connection it is selected on (its `edges` and `nodes`). `shared`: bytes of
    a provenance's texts, which its entries hold together (the whole provenance is at most
    its stored JSON), counted once however many entries show them."""

    objects: int = 0
    bytes: int = 0
    items: int = 0
    shared: int = 0

    def __add__(self, other: _Part) -> _Part:
        return _Part(
            self.objects + other.objects,
            self.bytes + other.bytes,
            self.items + other.items,
            self.shared + other.shared,
        )

    def folded(self) -> _Part:
        """The share with its shared texts counted as bytes of the object that holds them."""
        return _Part(self.objects, self.bytes + self.shared, self.items)


ITEMS = frozenset({"edges", "nodes"})  # a connection's fields shown once per item


class _CostWalk(Walk):
    """`linkless` says the selections are those of a connection or an edge of a list without a
    link table, whose edges have no citations; a fragment is measured once per value.
    `characters`: the width of the quote context being walked."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        sizes: Mapping[str, int | None],
        snapshot: StoreSnapshot,
    ) -> None:
        super().__init__(schema, document)
        self.sizes = sizes
        self.snapshot = snapshot
        self.widths = Widths(snapshot)
        self.prices = _prices(schema)
        self.memo: dict[tuple[str, bool, int], _Part] = {}
        self.characters = 0

    def fragment(self, name: str, nesting: int, linkless: bool) -> _Part:
        key = (name, linkless, self.characters)
        if key not in self.memo:
            part = _Part()
            for fragment in self.spread(name):
                condition = self.type_of(fragment.type_condition, None)
                part = self.selection_set(fragment.selection_set, condition, nesting, linkless)
                self.memo[key] = part
            return part
        return self.memo[key]

    def selection_set(
        self,
        node: SelectionSetNode,
        parent: GraphQLNamedType | None,
        nesting: int,
        linkless: bool = False,
    ) -> _Part:
        self.guard(nesting)
        part = _Part(bytes=2)  # its braces
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                part += self.field(selection, parent, nesting, linkless)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.type_of(selection.type_condition, parent)
                part += self.selection_set(selection.selection_set, inner, nesting + 1, linkless)
            elif isinstance(selection, FragmentSpreadNode):
                part += self.fragment(selection.name.value, nesting + 1, linkless)
        return part

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, nesting: int, linkless: bool
    ) -> _Part:
        name = node.name.value
        definition = field_definition(parent, name)
        if definition is None or parent is None:
            return _Part()  # an unknown field: validation reports it
        shown = key((node.alias or node.name).value)
        if node.selection_set is None:
            shared = self.widths.shared(parent.name, name)
            if shared is not None:  # a provenance's text: all its values are at most `shared`
                return _Part(bytes=shown, shared=shared)
            return _Part(bytes=shown + self.leaf(parent, name))
        if name.startswith("__"):
            return _Part()  # introspection
        child_type = get_named_type(definition.type)
        prices = self.prices.fields.get((parent.name, name))
        if prices is None:  # a wrapper: the items, already counted by their connection
            into_edge = linkless and child_type.name in self.prices.edges
            inner = self.selection_set(node.selection_set, child_type, nesting + 1, into_edge)
            entries = self.widths.entries(parent.name, name)
            if entries is not None:  # a list without a page: its texts' bytes stay shared
                bytes_ = shown + 2 + entries * (inner.bytes + 1)
                return _Part(inner.objects, bytes_, shared=inner.shared)
            inner = inner.folded()
            if name in ITEMS and parent.name in self.prices.connections:
                return _Part(inner.objects, shown + 2, inner.bytes + 1)
            return _Part(inner.objects, shown + inner.bytes)
        lists = [p.spec for p in prices if isinstance(p.spec, ListEdge)]
        below_linkless = len(lists) == len(prices) and all(s.link is None for s in lists)
        outer, self.characters = self.characters, self.context_width(node, prices)
        inner = self.selection_set(node.selection_set, child_type, nesting + 1, below_linkless)
        inner = inner.folded()
        self.characters = outer
        counts = [self.count(price, node, linkless) for price in prices]
        count = max(counts)
        objects = max(
            n * (price.spec.cost + inner.objects) for n, price in zip(counts, prices, strict=True)
        )
        spec = prices[0].spec
        if isinstance(spec, ListEdge | Search):
            # a page of none is still resolved on each parent (its count, or the error
            # refusing its arguments): it costs one, or thousands of them would cost nothing
            return _Part(max(objects, 1), shown + inner.bytes + count * inner.items)
        if isinstance(spec, Citations | NodesByIds):
            return _Part(objects, shown + 2 + count * (inner.bytes + 1))
        return _Part(objects, shown + max(inner.bytes, NULL))

    def leaf(self, parent: GraphQLNamedType, name: str) -> int:
        """The widest value of a scalar field (of any type implementing an interface)."""
        if name.startswith("__"):
            return SMALL
        owners = [parent]
        if isinstance(parent, GraphQLInterfaceType):
            owners = list(self.schema.get_implementations(parent).objects)
        return max(self.widths.value(o.name, name, self.characters) for o in owners)

    def context_width(self, node: FieldNode, prices: tuple[Price, ...]) -> int:
        """The characters a quote context shows on each side (the whole document where a
        variable says), or the current width below anything else."""
        if not any(isinstance(p.spec, QuoteContext) for p in prices):
            return self.characters
        value = self.argument(node, CONTEXT_ARGUMENT)
        if value is None:
            return self.prices.context_default
        if isinstance(value, IntValueNode):
            return int(value.value)
        return WHOLE_DOCUMENT

    def count(self, price: Price, node: FieldNode, linkless: bool) -> int:
        """How many objects the field fetches at most, per object it is selected on; each
        costs its spec's `cost`."""
        spec = price.spec
        recorded = None if price.bound is None else self.snapshot.size(price.bound)
        if isinstance(spec, ListEdge | Search):
            page = self.page_size(node)
            return page if recorded is None else min(page, recorded)
        if isinstance(spec, Citations):
            if price.relation and linkless:
                return 0
            return spec.estimate if recorded is None else recorded
        if isinstance(spec, NodesByIds):
            return self.list_length(node)
        return 1  # one object (a lookup, a link, the document a quote's context reads)

    def argument(self, node: FieldNode, name: str) -> ValueNode | None:
        return next((a.value for a in node.arguments or () if a.name.value == name), None)

    def page_size(self, node: FieldNode) -> int:
        sizes = [self.number(self.argument(node, name)) for name in PAGE_SIZE_ARGUMENTS]
        given = [s for s in sizes if s is not None]
        if not given:
            return DEFAULT_PAGE_SIZE
        return min(max(max(given), 0), MAX_PAGE_SIZE)  # out of range: refused when resolved

    def list_length(self, node: FieldNode) -> int:
        value = self.argument(node, LIST_LENGTH_ARGUMENT)
        if isinstance(value, ListValueNode):
            return min(len(value.values), MAX_NODES)
        length = self.number(value)
        return MAX_NODES if length is None else min(max(length, 0), MAX_NODES)

    def number(self, value: ValueNode | None) -> int | None:
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            return self.sizes.get(value.name.value)
        return None


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    sizes: Mapping[str, int | None],
    snapshot: StoreSnapshot = NOTHING_RECORDED,
) -> Estimate:
    """Objects the operation may fetch and bytes its answer may take, at most; `sizes` are
    the page-size variables (cost_inputs), `snapshot` what the last seed recorded about the
    store."""
    walk = _CostWalk(schema, document, sizes, snapshot)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        name = definition.name.value if definition.name else None
        if name != operation_name and operation_name is not None:
            continue
        defaults = {
            v.variable.name.value: _size_of(_literal(v.default_value))
            for v in definition.variable_definitions or ()
            if v.default_value is not None
        }
        walk.sizes = {**defaults, **sizes}  # a null sent by the client overrides a default
        root = schema.get_root_type(definition.operation)
        part = walk.selection_set(definition.selection_set, root, 1)
        return Estimate(part.objects, ENVELOPE + part.folded().bytes)
    return Estimate(0, ENVELOPE)


def _literal(value: ValueNode) -> Any:
    if isinstance(value, IntValueNode):
        return int(value.value)
    if isinstance(value, ListValueNode):
        return [_literal(v) for v in value.values]
    return None
