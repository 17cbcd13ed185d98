"""The per-request context every resolver receives as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from loaders import Loaders

if TYPE_CHECKING:
    from strawberry.types import Info as StrawberryInfo


@dataclass
class Context:
    """Built once per request by the HTTP layer; holds the request's loaders and session."""

    loaders: Loaders
    request_id: str


if TYPE_CHECKING:
    Info = StrawberryInfo[Context, None]
else:  # strawberry resolves resolver annotations at runtime
    from strawberry.types import Info as Info
