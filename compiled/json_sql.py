"""The SQL both statement forms write alike on each store: JSON arrays and aggregates, exact
floats, and the columns of a quote's context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Float,
    FromClause,
    Integer,
    Select,
    String,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSON

from compiled.bind import ContextSelection
from db import floats
from db.mapping import CITATION, node_type, reference

# PostgreSQL's json_build_array takes at most 100 arguments: a row has at most that many.
MAX_COLUMNS = 100
CONTEXT_PREFIX = "ctx"
QUOTED = reference(CITATION.name, "document")  # the document a quote's context is cut from


def array(values: list[Any], postgres: bool) -> Any:
    if postgres:
        return func.json_build_array(*values, type_=JSON)
    return func.json_array(*values)


def aggregate(row: Any, postgres: bool) -> Any:
    """The rows' arrays as one array, in the order the rows come (NULL on PostgreSQL when
    there are none)."""
    if postgres:
        return func.json_agg(row, type_=JSON)
    return func.json_group_array(row)


def exact(column: Any, postgres: bool) -> Any:
    """SQLite's JSON functions write a float with 15 significant digits; its text as
    db/floats.py writes it reads back exactly (the assembler turns float columns back into
    floats: `read_float`)."""
    if postgres or not isinstance(column.type, Float):
        return column
    return case((column.is_(None), null()), else_=floats.written(column))


def read_float(value: Any) -> float | None:
    """A float as `exact` wrote it (or as PostgreSQL's JSON holds it)."""
    if value is None:
        return None
    return floats.read(value) if isinstance(value, str) else float(value)


def context_name(context: ContextSelection, part: str) -> str:
    return f"{CONTEXT_PREFIX}{context.site}_{part}"


def quote_select(
    citations: FromClause,
    columns: list[Any],
    contexts: list[ContextSelection],
    document: Callable[[FromClause], FromClause],
    postgres: bool,
) -> Select[Any]:
    """`columns` of a citations table and, where `contexts` ask for it, the text around each
    quote, read from the document the type map's `Citation.document` links it to: `document`
    says how its table is read (the table itself, or an alias made only when it is needed)."""
    if not contexts:
        return select(*columns)
    text = document(node_type(QUOTED.target).table)
    return select(*columns, *_context_columns(citations, text, contexts, postgres)).select_from(
        citations.join(text, text.c.id == citations.c[QUOTED.attribute])
    )


def _context_columns(
    citations: FromClause, document: FromClause, contexts: list[ContextSelection], postgres: bool
) -> list[Any]:
    """The text before, of and after each quote, as the contexts ask for it (their widths are
    parameters), and the context's key, labelled by `context_name`."""
    columns: list[Any] = []
    for context in contexts:
        characters = bindparam(f"s{context.site}_characters", type_=Integer())
        start, end, text = citations.c.start, citations.c.end, document.c.text
        begin = (func.greatest if postgres else func.max)(start - characters, 0)
        parts = {
            # the key semantics/ids.py:context_id encodes: `<citation slug>-<characters>`
            "id": citations.c.slug + literal("-", String) + cast(characters, String),
            "before": func.substr(text, begin + 1, start - begin),
            "quote": func.substr(text, start + 1, end - start),
            "after": func.substr(text, end + 1, characters),
        }
        columns += [
            value.label(context_name(context, name))
            for name, value in parts.items()
            if any(part == name for _, part in context.fields)
        ]
    return columns
