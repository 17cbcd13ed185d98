"""Where facts come from: source documents and the quotes that cite them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from resolvers.citations import quote_context
from resolvers.context import Info
from resolvers.nodes import link, resolve_reference
from schema.node import Node
from schema.objects import FromRow, link_field

CITED_DOCUMENT = link("Citation", "document")


@strawberry.type(description="A source document the graph was extracted from.")
class Document(Node, FromRow):
    slug: str = strawberry.field(description="Stable, human-readable key.")
    title: str = strawberry.field(description="Title as the document gives it.")
    publisher: str = strawberry.field(description="The site that published it, as it names itself.")
    published_on: dt.date | None = strawberry.field(
        description="Publication date, where the document states one."
    )
    text: str = strawberry.field(
        description="Full text; citation offsets index into it (Unicode code points)."
    )
    pk: strawberry.Private[int]
    row: strawberry.Private[Any]


@strawberry.type(description="A quote with the text just before and after it.")
class QuoteContext:
    id: strawberry.ID = strawberry.field(
        description="Stable key of this context (its quote and width) for client caches; "
        "not refetched by `node(id:)`."
    )
    before: str = strawberry.field(description="Text preceding the quote.")
    quote: str = strawberry.field(description="The quote itself.")
    after: str = strawberry.field(description="Text following the quote.")


@strawberry.type(description="A verbatim quote from a source document that states a fact.")
class Citation(Node, FromRow):
    quote: str = strawberry.field(description="The quoted text, exactly as in the document.")
    start: int = strawberry.field(description="Offset of the quote's first character in `text`.")
    end: int = strawberry.field(description="Offset just past the quote's last character.")
    pk: strawberry.Private[int]
    row: strawberry.Private[Any]

    document = link_field(
        "Citation", "document", description="The document quoted.", module=__name__
    )

    @strawberry.field(description="The quote in its surrounding text.")
    async def context(
        self,
        info: Info,
        characters: Annotated[
            int,
            strawberry.argument(description="Characters to show on each side, 0 to 2000."),
        ] = 120,
    ) -> QuoteContext:
        document = await resolve_reference(info, CITED_DOCUMENT, self.row)
        found = quote_context(document.text, self.row, characters)
        return QuoteContext(
            id=strawberry.ID(found.id), before=found.before, quote=found.quote, after=found.after
        )


@strawberry.type(
    description="A paragraph of a source document (a non-empty line of its text), as "
    "`search` finds it."
)
class Passage(Node, FromRow):
    start: int = strawberry.field(
        description="Offset of the passage's first character in the document's `text`."
    )
    end: int = strawberry.field(description="Offset just past the passage's last character.")
    text: str = strawberry.field(description="The passage, exactly as in the document.")
    pk: strawberry.Private[int]
    row: strawberry.Private[Any]

    document = link_field(
        "Passage", "document", description="The document the passage is part of.", module=__name__
    )
