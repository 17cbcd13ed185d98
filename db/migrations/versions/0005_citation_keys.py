"""citation keys

A `slug` on every citation, its span as `<document slug>-<start>-<end>` (db/keys.py), so a
quote has a global ID that survives reseeding; existing rows are backfilled here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("slug", sa.String(length=120), server_default="", nullable=False)
        )
        batch_op.create_index("ix_citations_slug", ["slug"], unique=False)
    op.execute(
        "UPDATE citations SET slug = (SELECT documents.slug FROM documents"
        " WHERE documents.id = citations.document_id)"
        " || '-' || CAST(citations.start AS TEXT) || '-' || CAST(citations.\"end\" AS TEXT)"
    )


def downgrade() -> None:
    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.drop_index("ix_citations_slug")
        batch_op.drop_column("slug")
