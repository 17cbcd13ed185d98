"""Where facts come from: source documents and the quotes that cite them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from resolvers.citations import quote_context
from resolvers.context import Info
from resolvers.ids import encode_global_id
from resolvers.nodes import resolve_reference
from schema.node import Node


@strawberry.type(description="A source document the graph was extracted from.")
class Document(Node):
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

    @classmethod
    def from_row(cls, row: Any) -> Document:
        return cls(
            id=strawberry.ID(encode_global_id(cls.__name__, row.slug)),
            slug=row.slug,
            title=row.title,
            publisher=row.publisher,
            published_on=row.published_on,
            text=row.text,
            pk=row.id,
        )


@strawberry.type(description="A quote with the text just before and after it.")
class QuoteContext:
    before: str = strawberry.field(description="Text preceding the quote.")
    quote: str = strawberry.field(description="The quote itself.")
    after: str = strawberry.field(description="Text following the quote.")


@strawberry.type(description="A verbatim quote from a source document that states a fact.")
class Citation:
    quote: str = strawberry.field(description="The quoted text, exactly as in the document.")
    start: int = strawberry.field(description="Offset of the quote's first character in `text`.")
    end: int = strawberry.field(description="Offset just past the quote's last character.")
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> Citation:
        return cls(quote=row.quote, start=row.start, end=row.end, row=row)

    @strawberry.field(description="The document quoted.")
    async def document(self, info: Info) -> Document:
        return Document.from_row(await resolve_reference(info, "Citation.document", self.row))

    @strawberry.field(description="The quote in its surrounding text.")
    async def context(
        self,
        info: Info,
        characters: Annotated[
            int,
            strawberry.argument(description="Characters to show on each side, 0 to 2000."),
        ] = 120,
    ) -> QuoteContext:
        document = await resolve_reference(info, "Citation.document", self.row)
        found = quote_context(document.text, self.row, characters)
        return QuoteContext(before=found.before, quote=found.quote, after=found.after)
