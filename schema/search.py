"""The `search` root field's types: hits with their object, score and marked spans."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from core.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from db.mapping import DESCRIPTION_WEIGHT, MAX_SEARCH_LENGTH, NAME_WEIGHT, TEXT_WEIGHT
from resolvers.context import Info
from resolvers.search import resolve_search
from schema.connection import PageInfo
from schema.node import Node
from schema.types import NODE_TYPES
from semantics.highlights import Span


@strawberry.enum(description="The kinds of object `search` finds.")
class SearchableType(Enum):
    COMPANY = strawberry.enum_value(
        "Company", description="Companies, by name, alternative names and description."
    )
    PERSON = strawberry.enum_value("Person", description="People, by name and job title.")
    REPORT = strawberry.enum_value("Report", description="Reports, by title.")
    PROGRAM = strawberry.enum_value("Program", description="Programs, by name and description.")
    PARTNER = strawberry.enum_value(
        "Partner", description="Partners, by name, short and alternative names and description."
    )
    LOCATION = strawberry.enum_value(
        "Location", description="Places, by name and alternative names."
    )
    ORGANIZATION = strawberry.enum_value(
        "Organization",
        description="Publishers and their owners, by name, alternative names and description.",
    )
    DOCUMENT = strawberry.enum_value("Document", description="Source documents, by title.")
    PASSAGE = strawberry.enum_value("Passage", description="Paragraphs of the documents' text.")


@strawberry.type(description="A span of a field's value that matched the query, to mark it.")
class Highlight:
    field: str = strawberry.field(
        description="The field whose value matched, by its name in this schema (`name`, "
        "`shortName`, `description`, `title`, `text`, ...)."
    )
    index: int | None = strawberry.field(
        description="Which value of a list field matched; null for a field of one value."
    )
    text: str = strawberry.field(description="The matched text, as in the value.")
    start: int = strawberry.field(
        description="Offset of the span's first character in the value (Unicode code points)."
    )
    end: int = strawberry.field(
        description="Offset just past the span's last character (Unicode code points)."
    )

    @classmethod
    def of(cls, span: Span) -> Highlight:
        return cls(
            field=span.field, index=span.index, text=span.text, start=span.start, end=span.end
        )


SCORE = (
    f"How well the object matches, the same on every store: each field that matched adds its "
    f"weight (names, short names and titles {NAME_WEIGHT}, descriptions and job titles "
    f"{DESCRIPTION_WEIGHT}, a passage's text {TEXT_WEIGHT}) when it holds the query's words, or "
    f"its weight times its trigram similarity to the query (at least 0.3, in thousandths, "
    f"rounded down) when it is a name the query misspells. A field counts once. Hits come "
    f"best first, ties by type name, then slug."
)


@strawberry.type(description="An object that matched a search, with why.")
class SearchHit:
    cursor: str = strawberry.field(description="Pass as `after` to page from here.")
    node: Node = strawberry.field(description="The object found.")
    score: float = strawberry.field(description=SCORE)
    highlights: list[Highlight] = strawberry.field(
        description="The spans that matched, by field name, then list index, then offset."
    )


@strawberry.type(description="A page of search hits, best first.")
class SearchConnection:
    edges: list[SearchHit] = strawberry.field(description="The page's hits with their cursors.")
    nodes: list[Node] = strawberry.field(description="The page's objects, when only they matter.")
    page_info: PageInfo = strawberry.field(
        description="Paging state (forwards only: `hasPreviousPage` is false)."
    )
    total_count: int = strawberry.field(description="Number of hits of the whole search.")


QUERY_DOC = (
    f"Words to find, at most {MAX_SEARCH_LENGTH} characters, in web-search syntax: every word "
    f'in any of its forms (`refugees` finds `refugee`), `"a phrase"` in order, `-word` to '
    f"leave out, `or` between alternatives. Punctuation and other operators are not syntax; "
    f"common words such as `the` are not searched. A query of plain words also finds names "
    f"it misspells."
)


def _node(type_name: str, row: object) -> Node:
    node = NODE_TYPES[type_name].from_row(row)
    assert isinstance(node, Node)
    return node


async def search(
    info: Info,
    query: Annotated[str, strawberry.argument(description=QUERY_DOC)],
    first: Annotated[
        int | None,
        strawberry.argument(
            description=f"Hits from the start (after `after`); 0 to {MAX_PAGE_SIZE}, "
            f"default {DEFAULT_PAGE_SIZE}."
        ),
    ] = None,
    after: Annotated[
        str | None, strawberry.argument(description="Start after the hit with this cursor.")
    ] = None,
    types: Annotated[
        list[SearchableType] | None,
        strawberry.argument(description="Only objects of these types; every type if unset."),
    ] = None,
) -> SearchConnection:
    names = None if types is None else [str(t.value) for t in types]
    page = await resolve_search(info, query, first=first, after=after, types=names)
    edges = [
        SearchHit(
            cursor=hit.cursor,
            node=_node(hit.type_name, hit.row),
            score=hit.score,
            highlights=[Highlight.of(span) for span in hit.highlights],
        )
        for hit in page.hits
    ]
    return SearchConnection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
    )
