"""The per-request context every resolver receives as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphql import DocumentNode

from loaders import Loaders

if TYPE_CHECKING:
    from strawberry.types import Info as StrawberryInfo


@dataclass
class Usage:
    """Objects the resolvers fetched for this request: a query's actual cost, in the same
    unit as the estimate (list items, citations, single objects)."""

    objects: int = 0

    def fetched(self, count: int) -> None:
        self.objects += count


@dataclass
class Context:
    """Built once per request by the reference executor (schema/execute.py): the request's
    loaders (and so its session), what it has fetched so far, and the prepared document it
    runs."""

    loaders: Loaders
    request_id: str
    usage: Usage = field(default_factory=Usage)
    document: DocumentNode | None = None


if TYPE_CHECKING:
    Info = StrawberryInfo[Context, None]
else:  # strawberry resolves resolver annotations at runtime
    from strawberry.types import Info as Info
