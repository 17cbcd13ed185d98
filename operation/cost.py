"""What an operation may fetch, priced before it runs, field by field as the type map states.

Cost is an estimate of the objects a query can fetch: every item of a connection (its page
size: `first`/`last`, default 20), every citation, every single object (a lookup or a link).
A connection's own wrappers (edges, nodes, pageInfo) are free. So `first: 50` inside
`first: 50` costs 50 + 50 * 50 = 2,550. Introspection costs nothing (the good-faith rule of
operation/shape.py bounds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
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
from db.mapping import CITED, MAX_NODES, OWNERS, FieldSpec, ListEdge, NodesByIds
from operation.walk import (
    LIST_LENGTH_ARGUMENT,
    PAGE_SIZE_ARGUMENTS,
    SIZE_CLAMP,
    Walk,
    field_definition,
)


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


class _CostWalk(Walk):
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
        definition = field_definition(parent, name)
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
