"""Citations of entities and of relations, the document text around a quote, and a quote as
the W3C Web Annotation selectors annotation tools read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.mapping import POSITION_SELECTOR, QUOTE_SELECTOR, node_type
from resolvers.context import Info
from semantics.ids import context_id, encode_global_id
from semantics.quotes import context_width


@dataclass(frozen=True)
class QuoteContext:
    id: str
    before: str
    quote: str
    after: str


@dataclass(frozen=True)
class QuoteSelector:
    id: str
    type: str
    exact: str
    prefix: str
    suffix: str


@dataclass(frozen=True)
class PositionSelector:
    id: str
    type: str
    start: int
    end: int


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
    characters = context_width(characters)
    return QuoteContext(
        id=context_id(citation.slug, characters),
        before=text[max(0, citation.start - characters) : citation.start],
        quote=text[citation.start : citation.end],
        after=text[citation.end : citation.end + characters],
    )


def quote_selector(text: str, citation: Any) -> QuoteSelector:
    """A citation's W3C TextQuoteSelector: its context at the selector's fixed width, each
    part under the W3C name the type map gives it."""
    spec = QUOTE_SELECTOR
    found = quote_context(text, citation, spec.characters)
    return QuoteSelector(
        id=context_id(citation.slug, spec.characters, spec.w3c_type),
        type=spec.w3c_type,
        **{name: getattr(found, part) for name, part in spec.parts},
    )


def position_selector(citation: Any) -> PositionSelector:
    """A citation's W3C TextPositionSelector: its own offsets, keyed by its span."""
    spec = POSITION_SELECTOR
    return PositionSelector(
        id=encode_global_id(spec.w3c_type, citation.slug),
        type=spec.w3c_type,
        **{name: getattr(citation, column.key) for name, column in spec.columns},
    )
