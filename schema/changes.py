"""What a change of the SDL does to clients: graphql-core's own comparison, in words."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError, build_schema, find_breaking_changes, find_dangerous_changes


class InvalidSchema(ValueError):
    """A file that is not SDL of a valid schema."""


@dataclass(frozen=True)
class SchemaChanges:
    breaking: list[str]  # queries that worked may now fail
    dangerous: list[str]  # queries keep working but may see new values or defaults


def schema_changes(old_sdl: str, new_sdl: str) -> SchemaChanges:
    """`old_sdl` -> `new_sdl`, each change as `KIND: description`."""
    try:
        old, new = build_schema(old_sdl), build_schema(new_sdl)
    except GraphQLError as error:
        raise InvalidSchema(error.message) from None
    return SchemaChanges(
        breaking=[f"{c.type.name}: {c.description}" for c in find_breaking_changes(old, new)],
        dangerous=[f"{c.type.name}: {c.description}" for c in find_dangerous_changes(old, new)],
    )
