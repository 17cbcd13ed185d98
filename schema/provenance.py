"""What a statement of the graph rests on: the types a client reads it through."""

from __future__ import annotations

from typing import Any

import strawberry

from db import provenance
from schema.enums import Basis

NOTE = (
    "Why, in words: the reasoning of an inference, what a reference says, or a remark on how "
    "the quote is read. Null when the quotes say it all."
)
SOURCE = "The reference source a REFERENCE basis rests on, e.g. `ISO 3166-1 alpha-2`."


@strawberry.type(description="What one field of an item rests on, where it differs from the item.")
class FieldProvenance:
    field: str = strawberry.field(description="The field, as the API names it (`countryCode`).")
    basis: Basis = strawberry.field(description="What the field's value rests on.")
    note: str | None = strawberry.field(description=NOTE)
    source: str | None = strawberry.field(description=SOURCE)


@strawberry.type(
    description="What an item or a relation rests on: a quote (its `citations`), a named "
    "reference source, or an editorial inference."
)
class Provenance:
    basis: Basis = strawberry.field(description="What it rests on.")
    note: str | None = strawberry.field(description=NOTE)
    source: str | None = strawberry.field(description=SOURCE)
    fields: list[FieldProvenance] = strawberry.field(
        description="Fields whose basis differs from the item's (a place's `countryCode` "
        "from ISO 3166-1, say); a field not listed rests on what the item rests on. Empty on "
        "a relation."
    )

    @classmethod
    def of(cls, found: dict[str, Any]) -> Provenance:
        return cls(
            basis=Basis[found["basis"]],
            note=found["note"],
            source=found["source"],
            fields=[
                FieldProvenance(
                    field=f["field"], basis=Basis[f["basis"]], note=f["note"], source=f["source"]
                )
                for f in found["fields"]
            ],
        )

    @classmethod
    def of_row(cls, row: Any) -> Provenance:
        return cls.of(provenance.read(row.provenance))
