"""What a row answers without another read: its ID and the fields the type map reads from
its columns. `schema/` builds its objects from these, so no type lists its columns by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.mapping import GlobalId, Vocabulary, node_type
from semantics.ids import encode_global_id


@dataclass(frozen=True)
class StoredField:
    """A GraphQL field read straight from a column; `enum` is the closed set it stores."""

    field: str
    column: str
    enum: type[Vocabulary] | None


def stored_fields(type_name: str) -> list[StoredField]:
    return [
        StoredField(name, spec.name, spec.enum) for name, spec in node_type(type_name).scalars()
    ]


def stored_lists(type_name: str) -> list[StoredField]:
    """Fields that are lists of names kept as a JSON array in a column."""
    return [StoredField(name, spec.name, None) for name, spec in node_type(type_name).names()]


def has_global_id(type_name: str) -> bool:
    return isinstance(node_type(type_name).fields.get("id"), GlobalId)


def global_id(type_name: str, row: Any) -> str:
    return encode_global_id(type_name, row.slug)
