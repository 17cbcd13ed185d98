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


def _rename(pairs: Sequence[tuple[str, str]], index: tuple[str, str]) -> None:
    """The columns renamed (PostgreSQL, and SQLite since 3.25: the index follows them), then
    the index: renamed in place on PostgreSQL (no rebuild while the table is locked), made
    anew on SQLite (which cannot rename one)."""
    old_index, new_index = index
    for old, new in pairs:
        op.execute(f"ALTER TABLE search_entries RENAME COLUMN {old} TO {new}")
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX {old_index} RENAME TO {new_index}")
        return
    op.drop_index(old_index, table_name="search_entries")
    columns = [new for _, new in pairs if not new.endswith("_slug")]
    op.create_index(new_index, "search_entries", columns)


def upgrade() -> None:
    _rename(RENAMED, ("ix_search_entries_node", "ix_search_entries_target"))


def downgrade() -> None:
    back = tuple((new, old) for old, new in RENAMED)
    _rename(back, ("ix_search_entries_target", "ix_search_entries_node"))
