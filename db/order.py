"""A list's order and the keyset seeks of its cursors, as SQL both executors share.

Items are ordered by the order field (text byte-wise, empty values last), ties by slug. A
row's key is `<slug>:<tagged sort value>` (`n` for an empty value, else `v` and the value as
text), written in SQL by `row_key`, so the loaders and the compiled statements spell it alike
on each store; a cursor carries it, and `seek` turns it back into a condition an index can
answer, so the page after row 500,000 costs what the first page costs.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Integer,
    String,
    Text,
    TypeDecorator,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
)
from sqlalchemy.sql.elements import ColumnElement

from db import floats
from db.mapping import Condition, NodeType
from db.models import MAX_SLUG_LENGTH, SLUG_PATTERN

_SLUG = re.compile(SLUG_PATTERN)
# A sort value as `row_key` writes it, and no other spelling of it: Python's `float`, `int`
# and `fromisoformat` also read " 12\n", "1_2" or Arabic-Indic digits (another cursor for
# one place).
_INTEGER = re.compile(r"-?[0-9]{1,10}")
_FLOAT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?" + floats.SCALED_MARK + "?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_INTEGER = 2**31 - 1  # integer columns are 32-bit on PostgreSQL
KEY_SEPARATOR = ":"


@dataclass(frozen=True)
class Ordering:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Seek:
    """A place in a list: the sort value of a row (None when empty) and its slug."""

    value: Any
    slug: str


def _kind(column: Any) -> Any:
    kind = column.type
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind  # AutoString


def bytewise(column: Any, dialect: str) -> Any:
    """Text compared byte-wise (code point order), as SQLite's default BINARY collation does,
    whatever collation the PostgreSQL database or column was created with."""
    is_text = isinstance(_kind(column), String)
    return column.collate("C") if is_text and dialect == "postgresql" else column


def sort_column(node: NodeType, table: Any, ordering: Ordering) -> Any:
    """The column of `table` (the node's table or an alias) that `ordering` sorts by."""
    return table.c[node.order[ordering.field].key]


def order_by(
    sort: Any, slug: Any, ordering: Ordering, dialect: str, *, reverse: bool = False
) -> list[Any]:
    """ORDER BY clauses for the list's order, or its exact reverse (to take a last page)."""
    sort, slug = bytewise(sort, dialect), bytewise(slug, dialect)
    descending = ordering.descending != reverse
    by_value = sort.desc() if descending else sort.asc()
    by_value = by_value.nulls_first() if reverse else by_value.nulls_last()
    return [by_value, slug.desc() if reverse else slug.asc()]


def _value_text(column: Any, dialect: str) -> ColumnElement[str]:
    """The sort value as text both stores spell alike (PostgreSQL's float text is the shortest
    that reads back exactly; SQLite's `%.15g` is that too whenever it reads back exactly;
    else, and from 1e90 up, SQLite writes it as db/floats.py does: exact, but not alike)."""
    kind = _kind(column)
    if isinstance(kind, String):
        return column  # type: ignore[no-any-return]
    if isinstance(kind, Float) and dialect == "sqlite":
        short = func.printf("%.15g", column)
        # (SQLite's own reading of a large value's text may be as inexact as its writing)
        exact = and_(func.abs(column) < floats.SCALED_FROM, cast(short, Float) == column)
        return case((exact, short), else_=floats.written(column))
    if isinstance(kind, Date) and dialect == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return cast(column, Text)


def row_key(slug: Any, sort: Any, dialect: str) -> ColumnElement[str]:
    """`<slug>:n` or `<slug>:v<value>`: where a row sits in the list's order."""
    tagged = case(
        (sort.is_(None), literal("n")), else_=literal("v").op("||")(_value_text(sort, dialect))
    )
    return slug.op("||")(literal(KEY_SEPARATOR)).op("||")(tagged)  # type: ignore[no-any-return]


def parse_key(node: NodeType, ordering: Ordering, key: str) -> Seek:
    """The place a row key names; ValueError when it is not one `row_key` could write."""
    slug, separator, tagged = key.partition(KEY_SEPARATOR)
    if not separator or len(slug) > MAX_SLUG_LENGTH or not _SLUG.fullmatch(slug):
        raise ValueError("not a row key")
    if tagged == "n":
        return Seek(None, slug)
    if not tagged.startswith("v"):
        raise ValueError("not a row key")
    text = tagged[1:]
    kind = _kind(node.order[ordering.field])
    if isinstance(kind, String):
        if any(ord(character) < 0x20 for character in text):  # PostgreSQL refuses NUL
            raise ValueError("control characters in a sort value")
        return Seek(text, slug)
    if isinstance(kind, Integer):
        if not _INTEGER.fullmatch(text) or abs(int(text)) > MAX_INTEGER:
            raise ValueError("not an integer")
        return Seek(int(text), slug)
    if isinstance(kind, Float):
        number = floats.read(text) if _FLOAT.fullmatch(text) else math.nan
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return Seek(number, slug)
    if isinstance(kind, Date):
        if not _DATE.fullmatch(text):
            raise ValueError("not a date")
        return Seek(dt.date.fromisoformat(text), slug)
    raise ValueError(f"cannot seek in a {kind!r} order")


def seek(
    sort: Any,
    slug: Any,
    ordering: Ordering,
    dialect: str,
    *,
    name: str,
    after: bool,
    empty_value: bool,
) -> Condition:
    """Rows strictly after (or before) the place bound as `<name>_value` and `<name>_slug`.

    `empty_value` says whether that place's sort value is empty (NULL): empty values sort
    last, so the two cases differ in shape, and the caller picks the shape by the cursor.
    """
    slug_param = bindparam(f"{name}_slug", type_=String())
    sort_bytes, slug_bytes = bytewise(sort, dialect), bytewise(slug, dialect)
    if empty_value:
        if after:
            return and_(sort.is_(None), slug_bytes > slug_param)
        return or_(sort.is_not(None), slug_bytes < slug_param)
    value = bindparam(f"{name}_value", type_=sort.type)
    if after:
        later = sort_bytes < value if ordering.descending else sort_bytes > value
        return or_(later, and_(sort_bytes == value, slug_bytes > slug_param), sort.is_(None))
    earlier = sort_bytes > value if ordering.descending else sort_bytes < value
    return or_(earlier, and_(sort_bytes == value, slug_bytes < slug_param))


def seek_parameters(name: str, place: Seek) -> dict[str, Any]:
    parameters: dict[str, Any] = {f"{name}_slug": place.slug}
    if place.value is not None:
        parameters[f"{name}_value"] = place.value
    return parameters
