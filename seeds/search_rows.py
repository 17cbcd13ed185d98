"""What search reads, derived at seed time: each document's passages, and one search entry per
value of every field the type map marks searchable (db/mapping.py `searched`)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from db.keys import field_values, passage_slug
from db.mapping import SEARCHABLE, Names
from db.words import fuzzy_text, terms

_LINE = re.compile(r"[^\r\n]+")


def passage_spans(text: str) -> list[tuple[int, int]]:
    """The paragraphs of a document: its non-empty lines, without their surrounding blanks,
    as (start, end) code-point offsets into the text."""
    spans = []
    for line in _LINE.finditer(text):
        value = line.group()
        stripped = value.strip()
        if stripped and any(c.isalnum() for c in stripped):
            start = line.start() + (len(value) - len(value.lstrip()))
            spans.append((start, start + len(stripped)))
    return spans


def passage_rows(document_id: int, document_slug: str, text: str) -> list[dict[str, Any]]:
    return [
        {
            "slug": passage_slug(document_slug, start, end),
            "document_id": document_id,
            "start": start,
            "end": end,
            "text": text[start:end],
        }
        for start, end in passage_spans(text)
    ]


def search_entry_rows(type_name: str, item: Any) -> list[dict[str, Any]]:
    """The entries of one stored row (`item`: an ORM object of the type's table)."""
    node = SEARCHABLE[type_name]
    rows = []
    for searched in node.searched:
        value = getattr(item, node.searched_column(searched))
        if isinstance(node.fields[searched.field], Names):  # a JSON array of names
            value = orjson.loads(value)
        for position, text in field_values(value):
            rows.append(
                {
                    "target_type": type_name,
                    "target_id": item.id,
                    "target_slug": item.slug,
                    "field_name": searched.field,
                    "position": position,
                    "weight": searched.weight,
                    "text": text,
                    "terms": terms(text),
                    "fuzzy": fuzzy_text(text) if searched.fuzzy else "",
                }
            )
    return rows
