"""How many bytes a value of a field may take in an answer, from what the seed measured.

The cost estimate (operation/cost.py) counts objects: work for the store. An answer's size
is another matter: a page of a hundred documents is a hundred objects and half a megabyte of
text. So the same walk that counts objects adds up bytes: every key, every object's braces,
and every value at its widest. A text of the type map weighs its longest value in the store,
as the last seed measured it (db/widths.py); a global ID or a cursor what the longest slug
and sort key make of it; a quote's context what its `characters` allow, at most the longest
document; numbers, enums and booleans `SMALL` bytes. Lists without a page (a provenance's
fields, a hit's highlights) count as many entries as their widest stored value could hold.
The estimate is an upper bound wherever the store measured the values (but for highlights
of one-letter words, see HIGHLIGHT_STRIDE), and close to one elsewhere; the answer itself is
measured too (server/endpoint.py), so none over the limit is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from core.errors import ResponseTooLarge
from core.limits import Limits
from db.mapping import (
    CITATION,
    QUOTE_SELECTOR,
    REFETCHABLE,
    SEARCHABLE,
    GlobalId,
    reference,
)
from db.state import StoreSnapshot
from db.widths import PROVENANCE, SORT_KEYS, is_text, width_key

SMALL = 24  # a number, an enum, a boolean, a date, a type's name: at most this many bytes
NULL = 4
UNRECORDED_TEXT = 256  # a text where the store measured none (seeded before widths were)
BYTES_PER_CHARACTER = 4  # UTF-8's widest; a context's width is in characters
# A cursor (semantics/pagination.py) past its slugs and sort value: `cursor:v2`, the hash of
# its list, filter and order, its separators.
CURSOR_FRAME = 32
DOCUMENT = reference(CITATION.name, "document").target  # what a quote's context is cut from
# The smallest entry of a provenance's `fields` in its stored JSON, and the fewest bytes a
# highlight (a word the query searched) and the gap before the next take: how many entries a
# value can hold at most. A hit's highlights' texts together are at most its matched values,
# so each counts one stride of them. A bound for words of two letters or more: a value of
# one-letter words (`x x x`) holds up to half again as many, which the measured answer bounds
# (a stride of two priced an ordinary page of hits at over the default limit).
PROVENANCE_ENTRY = 50
HIGHLIGHT_STRIDE = 3
CURSORS = frozenset({"cursor", "startCursor", "endCursor"})
SELECTOR_SHOWS = dict(QUOTE_SELECTOR.parts)
PROVENANCE_TEXTS = frozenset(
    (owner, text) for owner in ("Provenance", "FieldProvenance") for text in ("note", "source")
)


def token(characters: int) -> int:
    """A base64 token (a global ID, a cursor) of that many bytes, quoted."""
    return 4 * ceil(characters / 3) + 2


def key(name: str) -> int:
    """A key in an object: quoted, a colon, a comma."""
    return len(name) + 4


@dataclass(frozen=True)
class Widths:
    """The widest value of every field, read from one store's measures."""

    snapshot: StoreSnapshot

    def measured(self, type_name: str, field_name: str) -> int:
        found = self.snapshot.size(width_key(type_name, field_name))
        return max(UNRECORDED_TEXT if found is None else found, NULL)

    def slug(self) -> int:
        return max(self.measured(name, "id") for name in REFETCHABLE)

    def identifier(self, type_name: str) -> int:
        if type_name in REFETCHABLE:
            return token(len(type_name) + 1 + self.measured(type_name, "id"))
        # a value's key (a quote's context, a selector): its citation's span and width
        return token(len(type_name) + 1 + self.measured(CITATION.name, "id") + 6)

    def cursor(self) -> int:
        """`cursor:v2:<scope>:<parent>:<slug>:v<sort value>`, base64."""
        sort = max(self.snapshot.size(SORT_KEYS) or UNRECORDED_TEXT, SMALL)
        return token(CURSOR_FRAME + 2 * self.slug() + sort)

    def context(self, characters: int) -> int:
        """One side of a quote's context: that many characters, at most a whole document."""
        return min(BYTES_PER_CHARACTER * max(characters, 0) + 2, self.text())

    def text(self) -> int:
        return self.measured(DOCUMENT, "text")

    def provenance(self) -> int:
        return self.snapshot.size(PROVENANCE) or UNRECORDED_TEXT

    def searched(self) -> int:
        """The widest value `search` matches, which its highlights mark."""
        return max(self.measured(t.name, s.field) for t in SEARCHABLE.values() for s in t.searched)

    def entries(self, type_name: str, field_name: str) -> int | None:
        """How many entries a list without a page holds at most; None for other fields."""
        if (type_name, field_name) == ("Provenance", "fields"):
            return self.provenance() // PROVENANCE_ENTRY + 1
        if (type_name, field_name) == ("SearchHit", "highlights"):
            return self.searched() // HIGHLIGHT_STRIDE + 1
        return None

    def shared(self, type_name: str, field_name: str) -> int | None:
        """What a provenance's texts of one field take together, however many entries show
        them: its stored JSON holds each (quoted) and is at most its widest, as measured;
        None for other fields, and where the store measured none (each entry is priced at
        UNRECORDED_TEXT then, as `value` does)."""
        if (type_name, field_name) in PROVENANCE_TEXTS and self.snapshot.size(PROVENANCE):
            return self.provenance()
        return None

    def value(self, type_name: str, field_name: str, characters: int) -> int:
        """The widest value of a leaf field; `characters`: the width of the quote context
        it is in."""
        if field_name in CURSORS:
            return self.cursor()
        owner = REFETCHABLE.get(type_name)
        spec = None if owner is None else owner.fields.get(field_name)
        if isinstance(spec, GlobalId) or field_name == "id":
            return self.identifier(type_name)
        if spec is not None and is_text(spec):
            return self.measured(type_name, field_name)
        if type_name == QUOTE_SELECTOR.w3c_type and field_name in SELECTOR_SHOWS:
            # a W3C name for a field of the quote's context, at the selector's width
            type_name, field_name = "QuoteContext", SELECTOR_SHOWS[field_name]
            characters = QUOTE_SELECTOR.characters
        return {
            ("QuoteContext", "quote"): self.measured(CITATION.name, "quote"),
            ("QuoteContext", "before"): self.context(characters),
            ("QuoteContext", "after"): self.context(characters),
            ("Highlight", "text"): HIGHLIGHT_STRIDE + 2,
            **dict.fromkeys(PROVENANCE_TEXTS, self.provenance()),
        }.get((type_name, field_name), SMALL)


def too_large(measured: int, limits: Limits) -> ResponseTooLarge:
    """An answer found over the limit once built (or while its statement's value is read)."""
    return ResponseTooLarge(
        f"The answer took more than {limits.max_response_bytes:,} bytes, the limit, and was "
        "stopped. Select fewer long texts (a document's text, quotes' contexts, descriptions) "
        "or ask for smaller pages (first/last).",
        bytes=measured,
        limit=limits.max_response_bytes,
    )


def check_size(estimated: int, limits: Limits) -> None:
    if estimated > limits.max_response_bytes:
        raise ResponseTooLarge(
            f"The answer may take up to {estimated:,} bytes; the limit is "
            f"{limits.max_response_bytes:,}. Select fewer long texts (a document's text, "
            "quotes' contexts, descriptions) or ask for smaller pages (first/last).",
            bytes=estimated,
            limit=limits.max_response_bytes,
        )
