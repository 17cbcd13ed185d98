"""What a statement rests on, as the store keeps it.

An entity or link row keeps its provenance as JSON text in `provenance`: its basis, a note
(the reasoning of an inference, or what a reference says), the reference source named, and
the fields whose basis differs from the item's, in the order the extraction gives them.
`basis` and `unstated` repeat the item's basis and the names of its fields that are not
stated, so a list can keep stated facts only (`statedOnly`) with plain column tests. The
seed writes all three from one value, here; the resolvers and the compiled executor read
the JSON back with `read`; `relation_source` says where an edge reads its relation's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from db import mapping

if TYPE_CHECKING:
    from db.queries import PageRow

STATED = mapping.Basis.STATED.value
FIELD_SEPARATOR = ","
LINK_PROVENANCE = "edge_provenance"  # a page's column (db/queries.py): its link row's provenance


@dataclass(frozen=True)
class BasisEntry:
    """The item's basis, or one field's, as the store keeps it: `basis` names a member of
    mapping.Basis, STATED, REFERENCE (`source` names the reference) or INFERRED (`note`
    gives the reasoning)."""

    basis: str = STATED
    note: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class ItemProvenance:
    item: BasisEntry
    fields: Sequence[tuple[str, BasisEntry]] = ()  # (GraphQL field name, its basis)


def columns(provenance: ItemProvenance) -> dict[str, Any]:
    """The row's `provenance`, `basis` and `unstated` columns."""
    item = provenance.item
    document = {
        "basis": item.basis,
        "note": item.note,
        "source": item.source,
        "fields": [
            {"field": name, "basis": b.basis, "note": b.note, "source": b.source}
            for name, b in provenance.fields
        ],
    }
    unstated = [name for name, b in provenance.fields if b.basis != STATED]
    return {
        "provenance": orjson.dumps(document).decode(),
        "basis": item.basis,
        "unstated": _bounded(unstated),
    }


def _bounded(names: Sequence[str]) -> str:
    """`,company,parent,`: a field name matches as `,name,` whatever its place."""
    return FIELD_SEPARATOR + FIELD_SEPARATOR.join(names) + FIELD_SEPARATOR if names else ""


def unstated_pattern(field_name: str) -> str:
    """The LIKE pattern that finds `field_name` among a row's `unstated` fields."""
    return f"%{FIELD_SEPARATOR}{field_name}{FIELD_SEPARATOR}%"


def read(text: str) -> dict[str, Any]:
    """The provenance as the API shows it: basis, note, source and fields."""
    found: dict[str, Any] = orjson.loads(text)
    return found


def relation(item: dict[str, Any], field_name: str) -> dict[str, Any]:
    """The basis of the item's `field_name` (a field absent from `fields` shares the item's),
    as a provenance of its own: what an edge through that foreign key rests on."""
    for entry in item["fields"]:
        if entry["field"] == field_name:
            return {
                "basis": entry["basis"],
                "note": entry["note"],
                "source": entry["source"],
                "fields": [],
            }
    return {"basis": item["basis"], "note": None, "source": None, "fields": []}


@dataclass(frozen=True)
class RelationSource:
    """Where what an edge's relation rests on is read: its link row's provenance (a page's
    `edge_provenance`, `field` None), or the provenance of the item's own `field` that names
    the parent (its `provenance` column)."""

    field: str | None

    @property
    def column(self) -> str:
        """The page's column the text is read from."""
        return LINK_PROVENANCE if self.field is None else "provenance"

    def read(self, text: str | None) -> dict[str, Any] | None:
        """The relation's provenance, as the API shows it, from that column's text."""
        if text is None:
            return None
        found = read(text)
        return found if self.field is None else relation(found, self.field)

    def of(self, item: PageRow) -> dict[str, Any] | None:
        return self.read(item.link_provenance if self.field is None else item.row.provenance)


def relation_source(spec: mapping.ListEdge) -> RelationSource | None:
    """Where a list's edges read their relation's provenance; None where they have none (a
    root list, a list of uncited items)."""
    if spec.link is not None:
        return RelationSource(None)
    field_name = mapping.relation_field(spec)
    if field_name is None or not mapping.TYPES[spec.target].cited:
        return None
    return RelationSource(field_name)
