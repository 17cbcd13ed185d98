"""provenance, and the facts the documents state that had no place yet

Every entity and link table (and documents) gains `provenance` (JSON: basis, note, source and the fields
with a basis of their own), with `basis` and `unstated` repeating what lists filter on
(db/provenance.py). Existing rows read as stated until the store is seeded again. New
tables: organizations (publishers), statements (words a person is quoted saying), figure
groups and their pairs, and the programs a report highlights; new columns: alternative
names, a report's topics, a program's month, a document's publisher, a figure's pair.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATED = '{"basis":"STATED","note":null,"source":null,"fields":[]}'
OLD_TABLES = (
    "documents",
    "companies",
    "people",
    "reports",
    "programs",
    "partners",
    "locations",
    "figures",
    "program_partners",
    "program_locations",
    "partner_locations",
    "person_locations",
)
NAMED = ("companies", "partners", "locations")


def _provenance() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("basis", sa.String(length=16), server_default="STATED", nullable=False),
        sa.Column("provenance", sa.Text(), server_default=STATED, nullable=False),
        sa.Column("unstated", sa.String(), server_default="", nullable=False),
    ]


def _names() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("alternative_names", sa.Text(), server_default="[]", nullable=False)


def _indexes(table: str, *columns: str, unique: tuple[str, ...] = ()) -> None:
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=column in unique)


def upgrade() -> None:
    op.create_table(
        "organizations",
        *_provenance(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("sort_key", sa.String(), nullable=True),
        sa.Column("search_text", sa.String(), server_default="", nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _names(),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes(
        "organizations", "location_id", "name", "owner_id", "slug", "sort_key", unique=("slug",)
    )
    op.create_table(
        "figure_groups",
        *_provenance(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(), nullable=True),
        sa.Column("caption", sa.String(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("figure_groups", "company_id", "report_id", "slug", unique=("slug",))
    op.create_table(
        "report_programs",
        *_provenance(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "program_id"),
    )
    _indexes("report_programs", "program_id", "report_id")
    op.create_table(
        "statements",
        *_provenance(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("medium", sa.String(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("statements", "person_id", "report_id", "slug", unique=("slug",))
    op.create_table(
        "figure_pairs",
        *_provenance(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["figure_groups.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("figure_pairs", "group_id", "position", "slug", unique=("slug",))
    for table in OLD_TABLES:
        with op.batch_alter_table(table) as batch_op:
            for column in _provenance():
                batch_op.add_column(column)
            if table in NAMED:
                batch_op.add_column(_names())
    with op.batch_alter_table("reports") as batch_op:
        batch_op.add_column(sa.Column("topics", sa.Text(), server_default="[]", nullable=False))
    with op.batch_alter_table("programs") as batch_op:
        batch_op.add_column(sa.Column("month", sa.Integer(), nullable=True))
    # No foreign key (db/models.py): SQLite would rebuild `documents`, which citations reference.
    op.add_column("documents", sa.Column("publisher_id", sa.Integer(), nullable=True))
    op.create_index("ix_documents_publisher_id", "documents", ["publisher_id"])
    with op.batch_alter_table("figures") as batch_op:
        batch_op.add_column(sa.Column("pair_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_figures_pair_id", ["pair_id"])
        batch_op.create_foreign_key("fk_figures_pair_id", "figure_pairs", ["pair_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("figures") as batch_op:
        batch_op.drop_constraint("fk_figures_pair_id", type_="foreignkey")
        batch_op.drop_index("ix_figures_pair_id")
        batch_op.drop_column("pair_id")
    op.drop_index("ix_documents_publisher_id", table_name="documents")
    with op.batch_alter_table("documents", recreate="never") as batch_op:
        batch_op.drop_column("publisher_id")
    with op.batch_alter_table("programs") as batch_op:
        batch_op.drop_column("month")
    with op.batch_alter_table("reports") as batch_op:
        batch_op.drop_column("topics")
    for table in OLD_TABLES:
        # SQLite drops plain columns in place; rebuilding `documents` would trip the foreign
        # keys of the citations that reference it.
        recreate: Literal["auto", "never"] = "never" if table == "documents" else "auto"
        with op.batch_alter_table(table, recreate=recreate) as batch_op:
            if table in NAMED:
                batch_op.drop_column("alternative_names")
            for column in ("unstated", "provenance", "basis"):
                batch_op.drop_column(column)
    for table in (
        "figure_pairs",
        "statements",
        "report_programs",
        "figure_groups",
        "organizations",
    ):
        op.drop_table(table)
