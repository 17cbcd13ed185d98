"""What both measures of a document share: fragments inlined as execution does them, each
measured once, and a nesting guard that refuses a document before Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeGuard

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    NamedTypeNode,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

from core.errors import QueryTooDeep
from core.limits import MAX_PAGE_SIZE
from db.mapping import MAX_NODES

# Fields plus fragment hops on the path being measured; past this the document is refused
# before Python's recursion limit could be reached, whatever max_depth says.
MAX_NESTING = 64
PAGE_SIZE_ARGUMENTS = ("first", "last")
LIST_LENGTH_ARGUMENT = "ids"
SIZE_CLAMP = max(MAX_PAGE_SIZE, MAX_NODES) + 1  # anything larger is refused by the resolver
INTROSPECTION_ROOTS: dict[str, GraphQLField] = {
    "__schema": SchemaMetaFieldDef,
    "__type": TypeMetaFieldDef,
}


def is_introspective(type_: GraphQLNamedType | None) -> TypeGuard[GraphQLNamedType]:
    return type_ is not None and type_.name.startswith("__")


def field_definition(type_: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if name in INTROSPECTION_ROOTS:
        return INTROSPECTION_ROOTS[name]
    if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = type_.fields.get(name)
        return found
    return None


class Walk:
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
