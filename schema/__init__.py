"""The GraphQL contract: Strawberry types whose fields delegate to `resolvers/`."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.query import Query
from schema.types import NODE_TYPES

schema = strawberry.Schema(
    query=Query,
    types=list(NODE_TYPES.values()),
    config=StrawberryConfig(auto_camel_case=True),
)
