"""How big, deep and costly an operation is, measured on its syntax before anything runs.

Every measure inlines fragments the way execution does, so spreading a fragment a thousand
times counts a thousand times, and each fragment is measured once (memoised), so a fragment
"bomb" that doubles at every level costs the analysis a few microseconds, not 2^n. Fragment
cycles and unknown fields measure as empty here; graphql-core's validation, which runs only
after these checks pass, reports them.

Cost is an estimate of the objects a query can fetch: every item of a connection (its page
size: `first`/`last`, default 20), every citation, every single object (a lookup or a link).
A connection's own wrappers (edges, nodes, pageInfo) are free. So `first: 50` inside
`first: 50` costs 50 + 50 * 50 = 2,550. Introspection costs nothing but may ask for each of
its lists once per operation ("good-faith introspection"), which bounds it by the schema's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

from core.errors import (
    ClientError,
    IntrospectionDisabled,
    InvalidDocument,
    QueryTooComplex,
    QueryTooDeep,
    QueryTooLarge,
    TooManyAliases,
    TooManyDirectives,
    TooManyRootFields,
)
from core.limits import Limits
from db.mapping import CITED, OWNERS, FieldSpec, ListEdge, NodesByIds
from resolvers.nodes import MAX_NODES
from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# Fields plus fragment hops on the path being measured; past this the document is refused
# before Python's recursion limit could be reached, whatever max_depth says.
MAX_NESTING = 64
PAGE_SIZE_ARGUMENTS = ("first", "last")
LIST_LENGTH_ARGUMENT = "ids"
SIZE_CLAMP = max(MAX_PAGE_SIZE, MAX_NODES) + 1  # anything larger is refused by the resolver
# Int is 32 bits: 11 characters with the sign. Longer literals are refused before anything
# converts them (Python refuses to convert integer strings past 4,300 digits at all).
MAX_INT_LITERAL_LENGTH = 11
INTROSPECTION_ROOTS: dict[str, GraphQLField] = {
    "__schema": SchemaMetaFieldDef,
    "__type": TypeMetaFieldDef,
}


@dataclass
class Shape:
    """Counts for a selection set with its fragments inlined (a fragment counts per spread)."""

    depth: int = 0  # longest chain of data fields; introspection does not count
    height: int = 0  # levels of fields and fragments below, as the walk nests them
    keys: Counter[str] = field(default_factory=Counter)  # response keys at this level
    repeats: tuple[int, str] = (0, "")  # most selections of one response key in one place
    fields: int = 0
    aliases: int = 0
    directives: int = 0
    introspection: Counter[str] = field(default_factory=Counter)
    page_variables: set[str] = field(default_factory=set)

    def add(self, other: Shape, *, nested: bool) -> None:
        """Fold a child in: as a nested selection, or inline at this level (a fragment)."""
        self.depth = max(self.depth, other.depth + (1 if nested else 0))
        self.height = max(self.height, other.height + 1)
        if not nested:
            self.keys.update(other.keys)
        self.repeats = max(self.repeats, other.repeats)
        self.fields += other.fields
        self.aliases += other.aliases
        self.directives += other.directives
        self.introspection.update(other.introspection)
        self.page_variables |= other.page_variables


@dataclass(frozen=True)
class DocumentShape:
    """A document's measures: the worst over its operations and fragments (validation reads
    them all, so an unused one must be safe too)."""

    worst: Shape
    root_fields: int
    fragments: int
    page_variables: frozenset[str]


@cache
def _prices(schema: GraphQLSchema) -> dict[tuple[str, str], FieldSpec]:
    """What each object-valued field costs, by (type, field), as the type map states it.

    A field not listed is a wrapper of a connection or an edge (`edges`, `nodes`, `node`,
    `pageInfo`): its items are counted once, by the connection.
    """
    prices: dict[tuple[str, str], FieldSpec] = {}
    for owner in OWNERS:
        graphql_type = schema.get_type(owner.name)
        assert isinstance(graphql_type, GraphQLObjectType), owner.name
        for name, spec in owner.fields.items():
            prices[(owner.name, name)] = spec
            if isinstance(spec, ListEdge):  # a relation's citations are on its edges
                connection = get_named_type(graphql_type.fields[name].type)
                assert isinstance(connection, GraphQLObjectType), name
                edge = get_named_type(connection.fields["edges"].type)
                prices[(edge.name, "citations")] = CITED
    return prices


def _is_introspective(type_: GraphQLNamedType | None) -> bool:
    return type_ is not None and type_.name.startswith("__")


def _field_definition(type_: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if name in INTROSPECTION_ROOTS:
        return INTROSPECTION_ROOTS[name]
    if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = type_.fields.get(name)
        return found
    return None


class _Walk:
    """Shared by both measures: fragments by name, the schema, and the nesting guard."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.visiting: set[str] = set()

    def type_of(
        self, condition: NamedTypeNode | None, parent: GraphQLNamedType | None
    ) -> GraphQLNamedType | None:
        """The type a fragment's selections apply to: its condition's, else its parent's."""
        return parent if condition is None else self.schema.get_type(condition.name.value)

    def guard(self, nesting: int) -> None:
        if nesting > MAX_NESTING:
            raise QueryTooDeep(
                f"Fields and fragment spreads nest more than {MAX_NESTING} levels deep."
            )

    def spread(self, name: str) -> Iterator[FragmentDefinitionNode]:
        """The fragment a spread names, unless unknown or already being measured (a cycle)."""
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return
        self.visiting.add(name)
        try:
            yield fragment
        finally:
            self.visiting.discard(name)


class _ShapeWalk(_Walk):
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        super().__init__(schema, document)
        self.memo: dict[str, Shape] = {}

    def fragment(self, name: str, nesting: int) -> Shape:
        if name in self.memo:
            shape = self.memo[name]
            self.guard(nesting + shape.height)  # measured once, but nested anew at each spread
            return shape
        shape = Shape()
        for fragment in self.spread(name):
            shape = self.selection_set(
                fragment.selection_set, self.type_of(fragment.type_condition, None), nesting
            )
            shape.directives += _directives(fragment.directives)
            self.memo[name] = shape
        return shape

    def selection_set(
        self, node: SelectionSetNode, parent: GraphQLNamedType | None, nesting: int
    ) -> Shape:
        self.guard(nesting)
        shape = Shape()
        for selection in node.selections:
            shape.directives += _directives(selection.directives)
            if isinstance(selection, FieldNode):
                self.field(selection, parent, shape, nesting)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.type_of(selection.type_condition, parent)
                shape.add(
                    self.selection_set(selection.selection_set, inner, nesting + 1), nested=False
                )
            elif isinstance(selection, FragmentSpreadNode):
                shape.add(self.fragment(selection.name.value, nesting + 1), nested=False)
        if shape.keys:
            key, count = shape.keys.most_common(1)[0]
            shape.repeats = max(shape.repeats, (count, key))
        return shape

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, shape: Shape, nesting: int
    ) -> None:
        name = node.name.value
        meta = name.startswith("__") or _is_introspective(parent)
        shape.keys[node.alias.value if node.alias else name] += 1
        shape.fields += 1
        shape.aliases += node.alias is not None
        if not meta:
            shape.depth = max(shape.depth, 1)
        definition = _field_definition(parent, name)
        child_type = None if definition is None else get_named_type(definition.type)
        if name in INTROSPECTION_ROOTS:
            shape.introspection[name] += 1
        elif (
            _is_introspective(parent)
            and definition
            and is_list_type(get_nullable_type(definition.type))
        ):
            shape.introspection[f"{parent.name}.{name}"] += 1  # type: ignore[union-attr]
        for argument in node.arguments or ():
            _check_literal(argument.value)
            if argument.name.value in (*PAGE_SIZE_ARGUMENTS, LIST_LENGTH_ARGUMENT):
                shape.page_variables |= _variables_in(argument.value)
        if node.selection_set is None:
            return
        child = self.selection_set(node.selection_set, child_type, nesting + 1)
        if meta:
            child.depth = -1  # introspection is bounded by the good-faith rule, not by depth
        shape.add(child, nested=True)


def _directives(directives: Sequence[DirectiveNode] | None) -> int:
    """How many; their arguments' literals are checked on the way."""
    for directive in directives or ():
        for argument in directive.arguments or ():
            _check_literal(argument.value)
    return len(directives or ())


def _check_literal(value: ValueNode) -> None:
    if isinstance(value, IntValueNode) and len(value.value) > MAX_INT_LITERAL_LENGTH:
        raise InvalidDocument(
            f"An integer literal has {len(value.value):,} characters; "
            "Int is a 32-bit signed integer."
        )
    if isinstance(value, ListValueNode):
        for item in value.values:
            _check_literal(item)
    elif isinstance(value, ObjectValueNode):
        for field_node in value.fields:
            _check_literal(field_node.value)


def _variables_in(value: ValueNode) -> set[str]:
    if isinstance(value, VariableNode):
        return {value.name.value}
    if isinstance(value, ListValueNode):
        return set().union(*(_variables_in(v) for v in value.values))
    return set()


def measure(schema: GraphQLSchema, document: DocumentNode) -> DocumentShape:
    """Measure every operation and fragment (validation reads them all, used or not)."""
    walk = _ShapeWalk(schema, document)
    worst = Shape()
    root_fields = fragments = 0
    page_variables: set[str] = set()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            shape = walk.selection_set(definition.selection_set, root, 1)
            shape.directives += _directives(definition.directives)
            for variable in definition.variable_definitions or ():
                shape.directives += _directives(variable.directives)
                if variable.default_value is not None:
                    _check_literal(variable.default_value)
            root_fields = max(root_fields, shape.keys.total())
        elif isinstance(definition, FragmentDefinitionNode):
            fragments += 1
            shape = walk.fragment(definition.name.value, 1)
        else:
            continue
        worst.depth = max(worst.depth, shape.depth)
        worst.fields = max(worst.fields, shape.fields)
        worst.aliases = max(worst.aliases, shape.aliases)
        worst.directives = max(worst.directives, shape.directives)
        worst.repeats = max(worst.repeats, shape.repeats)
        worst.introspection |= shape.introspection  # Counter union keeps the larger count
        page_variables |= shape.page_variables
    return DocumentShape(worst, root_fields, fragments, frozenset(page_variables))


def check_shape(shape: DocumentShape, limits: Limits) -> None:
    """Refuse the first limit the document breaks, naming the measure and the limit."""
    worst = shape.worst
    measures: tuple[tuple[int, int, type[ClientError], str], ...] = (
        (worst.depth, limits.max_depth, QueryTooDeep, "The query nests fields {} levels deep"),
        (
            worst.fields,
            limits.max_fields,
            QueryTooLarge,
            "The query selects {} fields once its fragments are inlined",
        ),
        (
            shape.fragments,
            limits.max_fragments,
            QueryTooLarge,
            "The document defines {} fragments",
        ),
        (worst.aliases, limits.max_aliases, TooManyAliases, "The query uses {} aliases"),
        (
            shape.root_fields,
            limits.max_root_fields,
            TooManyRootFields,
            "The operation selects {} root fields",
        ),
        (
            worst.directives,
            limits.max_directives,
            TooManyDirectives,
            "The query uses {} directives",
        ),
        (
            worst.repeats[0],
            limits.max_repeated_fields,
            QueryTooLarge,
            f"The query selects `{worst.repeats[1]}` {{}} times in one place "
            "once its fragments are inlined",
        ),
    )
    for value, limit, refusal, wording in measures:
        if value > limit:
            raise refusal(f"{wording.format(f'{value:,}')}; the limit is {limit:,}.")
    introspection = worst.introspection
    if introspection and not limits.introspection:
        raise IntrospectionDisabled("Introspection is disabled on this server.")
    repeated = sorted(name for name, count in introspection.items() if count > 1)
    if repeated:
        raise QueryTooComplex(
            f"Introspection may ask for each of its lists once per query; "
            f"`{repeated[0]}` is asked for {introspection[repeated[0]]:,} times."
        )


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


class _CostWalk(_Walk):
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        sizes: Mapping[str, int | None],
    ) -> None:
        super().__init__(schema, document)
        self.sizes = sizes
        self.memo: dict[str, int] = {}

    def fragment(self, name: str, nesting: int) -> int:
        if name not in self.memo:
            cost = 0
            for fragment in self.spread(name):
                condition = self.type_of(fragment.type_condition, None)
                cost = self.selection_set(fragment.selection_set, condition, nesting)
                self.memo[name] = cost
            return cost
        return self.memo[name]

    def selection_set(
        self, node: SelectionSetNode, parent: GraphQLNamedType | None, nesting: int
    ) -> int:
        self.guard(nesting)
        cost = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                cost += self.field(selection, parent, nesting)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.type_of(selection.type_condition, parent)
                cost += self.selection_set(selection.selection_set, inner, nesting + 1)
            elif isinstance(selection, FragmentSpreadNode):
                cost += self.fragment(selection.name.value, nesting + 1)
        return cost

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, nesting: int) -> int:
        name = node.name.value
        definition = _field_definition(parent, name)
        if definition is None or node.selection_set is None or name.startswith("__"):
            return 0  # a scalar, an unknown field (validation reports it) or introspection
        child_type = get_named_type(definition.type)
        inner = self.selection_set(node.selection_set, child_type, nesting + 1)
        spec = None if parent is None else _prices(self.schema).get((parent.name, name))
        if spec is None:
            return inner  # a wrapper: the items, already counted by their connection
        if isinstance(spec, ListEdge):
            count = self.page_size(node)
        elif isinstance(spec, NodesByIds):
            count = self.list_length(node)
        else:
            count = spec.cost
        return count * (1 + inner)

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
) -> int:
    """Objects the operation may fetch; `sizes` are the page-size variables (cost_inputs)."""
    walk = _CostWalk(schema, document, sizes)
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
        return walk.selection_set(definition.selection_set, root, 1)
    return 0


def _literal(value: ValueNode) -> Any:
    if isinstance(value, IntValueNode):
        return int(value.value)
    if isinstance(value, ListValueNode):
        return [_literal(v) for v in value.values]
    return None
