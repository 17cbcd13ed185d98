"""search entries name the object they find `target_*`, not `node_*`

`search_entries.node_type`, `node_id` and `node_slug` become `target_type`, `target_id` and
`target_slug` (and their index `ix_search_entries_target`): a schema generated from the
tables (PostGraphile 4, the benchmark's peer) turned `node_id` into a field `nodeId`, the
name it gives every row's global id, and refused to start. The rows are kept as they are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = (("node_type", "target_type"), ("node_id", "target_id"), ("node_slug", "target_slug"))


def upgrade() -> None:
    op.drop_index("ix_search_entries_node", table_name="search_entries")
    for old, new in RENAMED:  # PostgreSQL, and SQLite since 3.25
        op.execute(f"ALTER TABLE search_entries RENAME COLUMN {old} TO {new}")
    op.create_index("ix_search_entries_target", "search_entries", ["target_type", "target_id"])


def downgrade() -> None:
    op.drop_index("ix_search_entries_target", table_name="search_entries")
    for old, new in RENAMED:
        op.execute(f"ALTER TABLE search_entries RENAME COLUMN {new} TO {old}")
    op.create_index("ix_search_entries_node", "search_entries", ["node_type", "node_id"])
