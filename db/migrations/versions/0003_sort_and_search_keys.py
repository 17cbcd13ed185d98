"""sort and search keys

Casefolded `sort_key` and `search_text` columns, so both stores sort and search alike;
existing rows are backfilled here (seeding computes them for new rows).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (name field, searchable fields), frozen as db/mapping.py had them at this revision
KEYED = {
    "companies": ("name", ("name",)),
    "documents": ("title", ("title",)),
    "locations": ("name", ("name",)),
    "partners": ("name", ("name", "short_name")),
    "people": ("name", ("name",)),
    "programs": ("name", ("name", "description")),
    "reports": ("title", ("title",)),
}
SEPARATOR = "\x1f"


def _backfill(table: str, name_field: str, search_fields: tuple[str, ...]) -> None:
    fields = sorted({name_field, *search_fields})
    rows = sa.table(
        table,
        sa.column("id"),
        sa.column("sort_key"),
        sa.column("search_text"),
        *(sa.column(f) for f in fields),
    )
    bind = op.get_bind()
    found = bind.execute(sa.select(rows.c.id, *(rows.c[f] for f in fields))).mappings().all()
    for row in found:
        name = row[name_field]
        bind.execute(
            rows.update()
            .where(rows.c.id == row["id"])
            .values(
                sort_key=None if name is None else name.casefold(),
                search_text=SEPARATOR.join(row[f].casefold() for f in search_fields if row[f]),
            )
        )


def upgrade() -> None:
    for table, (name_field, search_fields) in KEYED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("sort_key", sa.String(), nullable=True))
            batch_op.add_column(
                sa.Column("search_text", sa.String(), server_default="", nullable=False)
            )
            batch_op.create_index(f"ix_{table}_sort_key", ["sort_key"], unique=False)
        _backfill(table, name_field, search_fields)


def downgrade() -> None:
    for table in reversed(KEYED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_sort_key")
            batch_op.drop_column("search_text")
            batch_op.drop_column("sort_key")
