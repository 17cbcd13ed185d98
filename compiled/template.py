"""An operation's selections as the compiler needs them: fields collected and merged as
execution collects them, each with what the type map says it is.

Collection follows the spec's CollectFields: `@skip`/`@include` by the request's variables,
fragments inlined where their type condition applies, fields merged by response key in the
order they first appear (the order of the response's keys). Anything the compiler does not
cover raises `NotCompiled`, and the reference executor answers instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
    get_directive_values,
    get_named_type,
    is_abstract_type,
)
from graphql.execution.values import VariableValues

from db.mapping import (
    QUERY,
    REFETCHABLE,
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
)

TYPENAME = "__typename"


class NotCompiled(Exception):
    """The operation (or this request of it) is outside what the compiler covers."""


@dataclass
class Selection:
    """The fields selected on one object type, by response key, in response order."""

    type_name: str
    fields: list[Selected]


@dataclass
class Selected:
    """One response key: its field, the AST nodes merged under it, and what they select."""

    key: str
    name: str
    definition: GraphQLField | None
    nodes: list[FieldNode]
    spec: Any = None  # the type map's entry, or a connection/edge/page-info wrapper name
    child: Selection | None = None
    # node(id:)/nodes(ids:) select on an interface: one selection per concrete type, made
    # as requests name them.
    by_type: dict[str, Selection] = field(default_factory=dict)


@dataclass(frozen=True)
class Wrapper:
    """A field of a connection (`edges`, `nodes`, `pageInfo`, `totalCount`), of an edge
    (`cursor`, `node`, `citations`, `provenance`), of PageInfo or of a provenance: meaning
    given by its place."""

    name: str


class Collector:
    """Collects selections for one operation and one set of variable values."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def root(self, selection_set: SelectionSetNode) -> Selection:
        query_type = self.schema.query_type
        assert query_type is not None
        return self.selection(query_type, [selection_set])

    def selection(
        self, object_type: GraphQLObjectType, selection_sets: list[SelectionSetNode]
    ) -> Selection:
        grouped: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            self._collect(object_type, selection_set, grouped, set())
        fields = [self._selected(object_type, key, nodes) for key, nodes in grouped.items()]
        return Selection(object_type.name, fields)

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for node in selection_set.selections:
            if not self._included(node):
                continue
            if isinstance(node, FieldNode):
                key = node.alias.value if node.alias else node.name.value
                grouped.setdefault(key, []).append(node)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                if condition is None or self._applies(condition.name.value, object_type):
                    self._collect(object_type, node.selection_set, grouped, visited)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self.fragments[name]
                if self._applies(fragment.type_condition.name.value, object_type):
                    self._collect(object_type, fragment.selection_set, grouped, visited)

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip["if"] is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include is not None and include["if"] is False)

    def _applies(self, condition: str, object_type: GraphQLObjectType) -> bool:
        condition_type = self.schema.get_type(condition)
        if condition_type is object_type:
            return True
        return is_abstract_type(condition_type) and self.schema.is_sub_type(
            condition_type, object_type
        )

    def _selected(self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> Selected:
        name = nodes[0].name.value
        if name == TYPENAME:
            return Selected(key, name, None, nodes, spec=Wrapper(TYPENAME))
        if name.startswith("__"):
            raise NotCompiled("introspection")
        definition = parent.fields[name]
        selected = Selected(key, name, definition, nodes, spec=_spec(parent.name, name))
        child_type = get_named_type(definition.type)
        if isinstance(child_type, GraphQLObjectType):
            selected.child = self.selection(
                child_type, [n.selection_set for n in nodes if n.selection_set is not None]
            )
        return selected

    def concrete(self, selected: Selected, type_name: str) -> Selection:
        """What an interface-typed field (node, nodes) selects on one concrete type."""
        if type_name not in selected.by_type:
            object_type = self.schema.get_type(type_name)
            assert isinstance(object_type, GraphQLObjectType)
            selected.by_type[type_name] = self.selection(
                object_type,
                [n.selection_set for n in selected.nodes if n.selection_set is not None],
            )
        return selected.by_type[type_name]


_OBJECT_KINDS = (
    Scalar,
    Names,
    ProvenanceOf,
    GlobalId,
    Reference,
    ListEdge,
    Citations,
    QuoteContext,
    TextQuoteSelector,
    TextPositionSelector,
)
_ROOT_KINDS = (BySlug, NodeById, NodesByIds, ListEdge, Search)


def _spec(type_name: str, field_name: str) -> Any:
    """The meaning of `type_name.field_name`: the map's entry, or a wrapper's name."""
    if type_name == QUERY.name:
        spec = QUERY.fields.get(field_name)
        if not isinstance(spec, _ROOT_KINDS):
            raise NotCompiled(f"Query.{field_name}")
        return spec
    owner = REFETCHABLE.get(type_name)
    if owner is not None:
        spec = owner.fields.get(field_name)
        if not isinstance(spec, _OBJECT_KINDS):
            raise NotCompiled(f"{type_name}.{field_name}")
        return spec
    return Wrapper(field_name)  # of a connection, edge, PageInfo, context, selector, provenance
