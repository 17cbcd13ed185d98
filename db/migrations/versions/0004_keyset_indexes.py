"""keyset indexes

Indexes in the order lists are paged in (db/order.py): the default order's key, then the
slug, byte-wise (COLLATE "C" on PostgreSQL, SQLite's BINARY), and for each list reached
through a foreign key the same behind that key. A page then seeks to its cursor and reads
only its own rows, in order, however long the list or however many items a parent has.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, leading foreign key or None, default order's key column), frozen as db/mapping.py
# had them at this revision: root lists, then lists through a foreign key.
KEYSET = [
    ("companies", None, "sort_key"),
    ("people", None, "sort_key"),
    ("reports", None, "sort_key"),
    ("programs", None, "sort_key"),
    ("partners", None, "sort_key"),
    ("locations", None, "sort_key"),
    ("documents", None, "sort_key"),
    ("figures", None, "slug"),
    ("programs", "company_id", "sort_key"),
    ("programs", "parent_id", "sort_key"),
    ("people", "company_id", "sort_key"),
    ("reports", "company_id", "sort_key"),
    ("figures", "company_id", "slug"),
    ("figures", "program_id", "slug"),
    ("figures", "report_id", "slug"),
    ("locations", "parent_id", "sort_key"),
]


def _name(table: str, key: str | None, column: str) -> str:
    return f"ix_{table}_keyset_{key or 'all'}_{column}"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    collate = ' COLLATE "C"' if postgres else ""
    for table, key, column in KEYSET:
        ordered = [f"{column}{collate}"] + ([] if column == "slug" else [f"slug{collate}"])
        columns = ([key] if key else []) + ordered
        op.execute(f"CREATE INDEX {_name(table, key, column)} ON {table} ({', '.join(columns)})")


def downgrade() -> None:
    for table, key, column in KEYSET:
        op.execute(f"DROP INDEX {_name(table, key, column)}")
