"""Where facts come from: source documents and the quotes that cite them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from db.mapping import MAX_CONTEXT, QUOTE_SELECTOR, reference
from resolvers.citations import position_selector, quote_context, quote_selector
from resolvers.context import Info
from resolvers.nodes import resolve_reference
from schema.node import Node
from schema.objects import FromRow, link_field
from schema.provenance import Provenance

CITED_DOCUMENT = reference("Citation", "document")
AROUND = QUOTE_SELECTOR.characters
CODE_POINTS = (
    "Offsets count Unicode code points, as the W3C model asks and `Document.text` is indexed; "
    "JavaScript strings index UTF-16 code units, so convert an offset before slicing: "
    "`Array.from(text).slice(0, start).join('').length`."
)
W3C_KEY = (
    "for client caches; not refetched by `node(id:)`, and not part of the W3C selector "
    "(leave it out of a Web Annotation)."
)


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

    @strawberry.field(
        description="What the document's own details rest on: `fields` says how its "
        "publisher was read from the page."
    )
    def provenance(self) -> Provenance:
        return Provenance.of_row(self.row)

    published_by = link_field(
        "Document",
        "publishedBy",
        description="The organisation that published it, as the page names it; null where "
        "the extraction names none.",
        lazy=True,
    )


@strawberry.type(description="A quote with the text just before and after it.")
class QuoteContext:
    id: strawberry.ID = strawberry.field(
        description="Stable key of this context (its quote and width) for client caches; "
        "not refetched by `node(id:)`."
    )
    before: str = strawberry.field(description="Text preceding the quote.")
    quote: str = strawberry.field(description="The quote itself.")
    after: str = strawberry.field(description="Text following the quote.")


@strawberry.type(
    description="A W3C Web Annotation TextQuoteSelector "
    "(https://www.w3.org/TR/annotation-model/#text-quote-selector): the quote with up to "
    f"{AROUND} characters of the document's text on each side, so that a tool finds it again "
    "in an edited copy of the document."
)
class TextQuoteSelector:
    id: strawberry.ID = strawberry.field(
        description="Stable key of this selector (its quote and the width of its context) "
        + W3C_KEY
    )
    type: str = strawberry.field(description='The W3C class: always "TextQuoteSelector".')
    exact: str = strawberry.field(description="The quote, exactly as in the document.")
    prefix: str = strawberry.field(
        description=f"Up to {AROUND} characters (Unicode code points) of the document's text "
        "just before the quote: fewer near the document's start."
    )
    suffix: str = strawberry.field(
        description=f"Up to {AROUND} characters (Unicode code points) of the document's text "
        "just after the quote: fewer near the document's end."
    )


@strawberry.type(
    description="A W3C Web Annotation TextPositionSelector "
    "(https://www.w3.org/TR/annotation-model/#text-position-selector): where the quote sits "
    f"in the document's `text`. {CODE_POINTS}"
)
class TextPositionSelector:
    id: strawberry.ID = strawberry.field(
        description="Stable key of this selector (its quote's span) " + W3C_KEY
    )
    type: str = strawberry.field(description='The W3C class: always "TextPositionSelector".')
    start: int = strawberry.field(
        description="Offset of the quote's first character in the document's `text`, in "
        "Unicode code points (the first character is 0)."
    )
    end: int = strawberry.field(
        description="Offset just past the quote's last character, in Unicode code points."
    )


@strawberry.type(description="A verbatim quote from a source document that states a fact.")
class Citation(Node, FromRow):
    quote: str = strawberry.field(description="The quoted text, exactly as in the document.")
    start: int = strawberry.field(
        description="Offset of the quote's first character in its document's `text`, in Unicode "
        "code points."
    )
    end: int = strawberry.field(
        description="Offset just past the quote's last character, in Unicode code points."
    )
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
            strawberry.argument(
                description=f"Characters to show on each side, 0 to {MAX_CONTEXT}."
            ),
        ] = 120,
    ) -> QuoteContext:
        document = await resolve_reference(info, CITED_DOCUMENT, self.row)
        found = quote_context(document.text, self.row, characters)
        return QuoteContext(
            id=strawberry.ID(found.id), before=found.before, quote=found.quote, after=found.after
        )

    @strawberry.field(
        description="The quote as a W3C TextQuoteSelector, for annotation tools: the quote "
        f"with up to {AROUND} characters of the document's text on each side."
    )
    async def text_quote_selector(self, info: Info) -> TextQuoteSelector:
        document = await resolve_reference(info, CITED_DOCUMENT, self.row)
        found = quote_selector(document.text, self.row)
        return TextQuoteSelector(
            id=strawberry.ID(found.id),
            type=found.type,
            exact=found.exact,
            prefix=found.prefix,
            suffix=found.suffix,
        )

    @strawberry.field(
        description="The quote's offsets as a W3C TextPositionSelector, for annotation tools "
        "(Unicode code points: see the type for JavaScript)."
    )
    def text_position_selector(self) -> TextPositionSelector:
        found = position_selector(self.row)
        return TextPositionSelector(
            id=strawberry.ID(found.id), type=found.type, start=found.start, end=found.end
        )


@strawberry.type(
    description="A paragraph of a source document (a non-empty line of its text), as "
    "`search` finds it."
)
class Passage(Node, FromRow):
    start: int = strawberry.field(
        description="Offset of the passage's first character in the document's `text`, in "
        "Unicode code points."
    )
    end: int = strawberry.field(
        description="Offset just past the passage's last character, in Unicode code points."
    )
    text: str = strawberry.field(description="The passage, exactly as in the document.")
    pk: strawberry.Private[int]
    row: strawberry.Private[Any]

    document = link_field(
        "Passage", "document", description="The document the passage is part of.", module=__name__
    )
