"""The GraphQL contract: Strawberry types whose fields delegate to `resolvers/`."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig

from schema.execute import PreparedDocument
from schema.query import Query
from schema.types import NODE_TYPES


class Schema(strawberry.Schema):
    """Strawberry's schema, minus its logging of every error at ERROR level.

    Client mistakes are not server errors; the HTTP layer logs unexpected exceptions once,
    with their stack and the request id the client was given.
    """

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        return None


schema = Schema(
    query=Query,
    types=list(NODE_TYPES.values()),
    config=StrawberryConfig(auto_camel_case=True),
    extensions=[PreparedDocument],
)
