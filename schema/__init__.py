"""The GraphQL contract: Strawberry types whose fields delegate to `resolvers/`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig

from schema.execute import PreparedDocument
from schema.query import Query
from schema.types import NODE_TYPES
from semantics.names import API_NAMES


class Schema(strawberry.Schema):
    """Strawberry's schema, minus its logging of every error at ERROR level.

    Client mistakes are not server errors; the HTTP layer logs unexpected exceptions once,
    with their stack and the request id the client was given.
    """

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        return None


# Date as Strawberry's own Date writes it (ISO 8601), saying which format it is
# (@specifiedBy), as tools that read the SDL expect of a custom scalar. Declared with
# strawberry.scalar, not copied from Strawberry's internal definition. No argument takes a
# Date, so no request reaches its parser (ISO 8601 too, as Strawberry's).
DATE = strawberry.scalar(
    name="Date",
    description="A calendar date, YYYY-MM-DD (RFC 3339 full-date).",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339#section-5.6",
    serialize=dt.date.isoformat,
    parse_value=dt.date.fromisoformat,
)

schema = Schema(
    query=Query,
    scalar_overrides={dt.date: DATE},
    types=list(NODE_TYPES.values()),
    config=StrawberryConfig(name_converter=API_NAMES),
    extensions=[PreparedDocument],
)
