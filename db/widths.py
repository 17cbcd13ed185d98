"""The widest value of each text the type map states, as bytes of the JSON an answer writes.

The seed records them beside the list sizes (db/state.py), so the cost estimate can weigh a
text field by the longest value it may show (operation/size.py): a document's text is 4 KB,
a slug 30 bytes. Measured per field of every type the map states whose column holds text (a
name, a description, a quote, a list of names), per type the longest slug (its global ID is
built from it), and over the store the longest sort key (cursors carry it) and provenance
(its JSON is what `provenance` shows).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import AutoString

from db.mapping import LISTS, REFETCHABLE, FieldSpec, Names, Scalar, table_name, table_of
from db.models import Provenanced

SORT_KEYS = "sortKey.bytes"
PROVENANCE = "provenance.bytes"
# Characters JSON writes as two (a backslash and a letter); other control characters (six)
# are not in stored text.
ESCAPED = ('"', "\\", "\n", "\r", "\t")


def width_key(type_name: str, field_name: str) -> str:
    """The longest value of a text field, in bytes of JSON: `Document.text.bytes`; `id` is
    the type's longest slug."""
    return f"{type_name}.{field_name}.bytes"


class Octets(FunctionElement[int]):
    """A text's length in bytes: `octet_length` (SQLite before 3.43 lacks it: the length of
    the text as a blob)."""

    type = Integer()
    inherit_cache = True


@compiles(Octets)
def _octets(element: Octets, compiler: SQLCompiler, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(Octets, "sqlite")
def _octets_sqlite(element: Octets, compiler: SQLCompiler, **kw: Any) -> str:
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


def json_bytes(column: Any) -> ColumnElement[int]:
    """What JSON takes to write the text: its bytes, one more per escaped character, and
    its quotes."""
    escapes = [func.length(column) - func.length(func.replace(column, c, "")) for c in ESCAPED]
    return Octets(column) + sum(escapes, literal(0)) + 2


def _longest(expression: ColumnElement[int], table: Any) -> Select[Any]:
    return select(func.coalesce(func.max(expression), 0)).select_from(table)


def is_text(spec: FieldSpec) -> bool:
    """Whether the field shows a stored text (or a list of names) the seed measures."""
    return isinstance(spec, Names) or (
        isinstance(spec, Scalar) and isinstance(spec.column.type, String | AutoString)
    )


def measures() -> Iterator[tuple[str, Select[Any]]]:
    """Each recorded width with the statement that measures it, derived from the type map."""
    for node in REFETCHABLE.values():
        table = node.table
        yield width_key(node.name, "id"), _longest(Octets(table.c.slug), table)
        for name, spec in node.fields.items():
            if isinstance(spec, Scalar | Names) and is_text(spec):
                column = table.c[spec.column.key]
                # a list of names is kept as the JSON array an answer writes
                width = Octets(column) if isinstance(spec, Names) else json_bytes(column)
                yield width_key(node.name, name), _longest(width, table)
    sorted_by = [
        _longest(Octets(table.c.sort_key), table)
        for table in (node.table for node in REFETCHABLE.values())
        if "sort_key" in table.c
    ]
    yield SORT_KEYS, _greatest(sorted_by)
    links = [spec.link.model for spec in LISTS.values() if spec.link is not None]
    models = {*(node.model for node in REFETCHABLE.values()), *links}
    provenanced = sorted((m for m in models if issubclass(m, Provenanced)), key=table_name)
    tables = [table_of(m) for m in provenanced]
    yield PROVENANCE, _greatest([_longest(Octets(t.c.provenance), t) for t in tables])


def _greatest(statements: list[Select[Any]]) -> Select[Any]:
    """The largest of the statements' one values, as one statement."""
    values = union_all(*statements).subquery()
    return select(func.max(values.c[0]))
