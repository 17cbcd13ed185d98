"""Citations of entities and of relations, and the document text around a quote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import BadUserInput
from db.models import Citation
from resolvers.context import Info

MAX_CONTEXT = 2000


@dataclass(frozen=True)
class QuoteContext:
    before: str
    quote: str
    after: str


async def resolve_citations(info: Info, subject: tuple[str, int] | None) -> list[Citation]:
    """Citations of a row, by (table name, id); a list without its own relation has none."""
    if subject is None:
        return []
    citations = await info.context.loaders.citations.load(subject)
    info.context.usage.fetched(len(citations))
    return citations


def entity_subject(row: Any) -> tuple[str, int]:
    return (str(row.__tablename__), row.id)


def quote_context(text: str, citation: Citation, characters: int) -> QuoteContext:
    if not 0 <= characters <= MAX_CONTEXT:
        raise BadUserInput(f"`characters` must be between 0 and {MAX_CONTEXT}")
    return QuoteContext(
        before=text[max(0, citation.start - characters) : citation.start],
        quote=text[citation.start : citation.end],
        after=text[citation.end : citation.end + characters],
    )
