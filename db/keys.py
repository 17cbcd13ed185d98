"""Derived columns that make sorting and searching identical on every store.

SQLite's `lower()` and `LIKE` fold only ASCII, PostgreSQL's follow the database collation; a
key computed here with `str.casefold()` and compared byte-wise means the same order and the
same matches everywhere, which offset cursors and differential tests rely on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SEPARATOR = "\x1f"  # between searchable fields; search text may not contain control characters


def sort_key(text: str | None) -> str | None:
    return None if text is None else text.casefold()


def search_text(*parts: str | Sequence[str] | None) -> str:
    """The casefolded parts; a part may be a list of names (alternative names)."""
    flat = (text for part in parts for text in ((part,) if isinstance(part, str) else part or ()))
    return SEPARATOR.join(text.casefold() for text in flat if text)


def derived_columns(
    values: Mapping[str, Any], *, name_field: str, search_fields: tuple[str, ...]
) -> dict[str, Any]:
    """`sort_key` and `search_text` for a row's values, by the entity's field names."""
    return {
        "sort_key": sort_key(values[name_field]),
        "search_text": search_text(*(values.get(f) for f in search_fields)),  # absent: none
    }


def citation_slug(document_slug: str, start: int, end: int) -> str:
    """A quote's stable key: its document and span, e.g. `staying-connected-12-80`. Every
    field of a Citation follows from the span, so two facts citing it share one object."""
    return f"{document_slug}-{start}-{end}"


def passage_slug(document_slug: str, start: int, end: int) -> str:
    """A passage is keyed by its span, as a quote is."""
    return citation_slug(document_slug, start, end)


def field_values(value: str | Sequence[str] | None) -> list[tuple[int | None, str]]:
    """The values a field holds, each with its place in a list field (None for a field of
    one value): a field may hold a string, null, or a list of strings (alternative names,
    read from their JSON array). Empty strings hold nothing to search."""
    if value is None:
        return []
    if isinstance(value, str):
        return [(None, value)] if value else []
    return [(index, item) for index, item in enumerate(value) if item]
