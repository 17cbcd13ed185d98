"""Citations of entities and of relations, and the document text around a quote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import BadUserInput
from db.mapping import node_type
from resolvers.context import Info
from resolvers.ids import context_id

MAX_CONTEXT = 2000


@dataclass(frozen=True)
class QuoteContext:
    id: str
    before: str
    quote: str
    after: str


async def resolve_citations(info: Info, subject: tuple[str, int] | None) -> list[Any]:
    """Citations of a row, by its subject (table name, id); a list without its own relation
    (no link table) has none."""
    if subject is None:
        return []
    citations = await info.context.loaders.citations.load(subject)
    info.context.usage.fetched(len(citations))
    return citations


def entity_subject(type_name: str, row: Any) -> tuple[str, int]:
    """What citations of this entity's row name as their subject, as the type map says."""
    return (node_type(type_name).subject, row.id)


def quote_context(text: str, citation: Any, characters: int) -> QuoteContext:
    if not 0 <= characters <= MAX_CONTEXT:
        raise BadUserInput(f"`characters` must be between 0 and {MAX_CONTEXT}")
    return QuoteContext(
        id=context_id(citation.slug, characters),
        before=text[max(0, citation.start - characters) : citation.start],
        quote=text[citation.start : citation.end],
        after=text[citation.end : citation.end + characters],
    )
