"""`search(query:)`: a page of ranked hits, each with its object and the spans it matched by
(what its arguments mean: semantics/search.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from db.mapping import SEARCHABLE
from resolvers.context import Info
from semantics.search import Found, search_arguments


@dataclass(frozen=True)
class FoundPage:
    hits: list[Found]
    total: int
    has_next: bool


async def resolve_search(
    info: Info, text: str, *, first: int | None, after: str | None, types: list[str] | None
) -> FoundPage:
    asked = search_arguments(text, first=first, after=after, types=types)
    if asked.query.finds_nothing:
        return FoundPage([], 0, False)
    page = await info.context.loaders.search(asked.query, asked.types, asked.size, asked.place)
    info.context.usage.fetched(len(page.hits))
    rows = await asyncio.gather(
        *(
            info.context.loaders.by_id(SEARCHABLE[hit.node_type]).load(hit.node_id)
            for hit in page.hits
        )
    )
    found = [
        asked.found(hit, row)
        for hit, row in zip(page.hits, rows, strict=True)
        if row is not None  # read in the same transaction: always there
    ]
    return FoundPage(found, page.total, page.has_next)
