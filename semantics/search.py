"""What `search`'s arguments mean, whichever executor answers: the query, the types, the
page and its cursor, and a hit as the schema shows it.

Cursors are bound to the query and the types asked (like a list's to its filter) and carry
the hit's place in the ranking (score, type name, slug), so a page seeks to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import BadUserInput
from db.mapping import QUERY, SEARCHABLE, list_key
from db.search import POINTS, Hit, Place, SearchQuery
from semantics.highlights import Span, highlights
from semantics.ids import is_slug
from semantics.pagination import CursorScope, encode_cursor, fingerprint, page_arguments
from semantics.search_query import parse_search

SEARCH_KEY = list_key(QUERY.name, "search")


@dataclass(frozen=True)
class Found:
    """A hit as the schema shows it: its object's type and row, score and spans."""

    cursor: str
    type_name: str
    row: Any
    score: float
    highlights: list[Span]


def _place(key: str) -> Place:
    """A cursor's key read back; one this API could not have written is a bad cursor."""
    score, _, rest = key.partition(":")
    node_type, _, slug = rest.partition(":")
    if (
        not (score.isascii() and score.isdigit())
        or len(score) > 12
        or node_type not in SEARCHABLE
        or not is_slug(slug)
    ):
        raise BadUserInput("`after` is not a valid cursor", argument="after")
    return Place(int(score), node_type, slug)


def searched_types(types: list[str] | None) -> tuple[str, ...]:
    """The type names a search covers: those asked (by name), else every searchable one."""
    if types is None:
        return tuple(sorted(SEARCHABLE))
    return tuple(sorted({name for name in types if name in SEARCHABLE}))


@dataclass(frozen=True)
class SearchArguments:
    """A search's arguments, checked: its query, types, page size and place, and the scope
    its cursors are bound to."""

    query: SearchQuery
    types: tuple[str, ...]
    size: int
    place: Place | None
    where: CursorScope

    def found(self, hit: Hit, row: Any) -> Found:
        """A hit of this search as the schema shows it (its object's row is `row`)."""
        return Found(
            cursor=encode_cursor(self.where, f"{hit.score}:{hit.node_type}:{hit.node_slug}"),
            type_name=hit.node_type,
            row=row,
            score=hit.score / POINTS,
            highlights=highlights(self.query, hit.matched),
        )


def search_arguments(
    text: str, *, first: int | None, after: str | None, types: list[str] | None
) -> SearchArguments:
    """The arguments checked as `search` checks them: BAD_USER_INPUT for a query it refuses,
    a page size out of range or a cursor of another search (unless there is nothing to
    search)."""
    query = parse_search(text)
    type_names = searched_types(types)
    where = CursorScope(fingerprint(SEARCH_KEY, query, type_names), "")
    if query.finds_nothing:  # no page follows any cursor: a stale one (the search box
        after = None  # emptied while paging) finds nothing too, not an error
    arguments = page_arguments(where, first=first, after=after, last=None, before=None)
    place = None if arguments.after is None else _place(arguments.after)
    return SearchArguments(query, type_names, arguments.size, place, where)
