"""The Relay `Node` interface every entity implements."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An object with a global ID that `node(id:)` refetches.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Globally unique, opaque and stable across reseeding."
    )
