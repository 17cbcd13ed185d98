"""initial tables

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("publisher", sa.String(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("source_file", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_documents_published_on"), ["published_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_documents_slug"), ["slug"], unique=True)
        batch_op.create_index(batch_op.f("ix_documents_title"), ["title"], unique=False)

    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["locations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_locations_country_code"), ["country_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_locations_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_locations_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_locations_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_locations_slug"), ["slug"], unique=True)

    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("short_name", sa.String(), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partners_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_partners_slug"), ["slug"], unique=True)

    op.create_table(
        "citations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "subject_type", "subject_id", "document_id", "start", "end", name="uq_citation_span"
        ),
    )
    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_citations_document_id"), ["document_id"], unique=False)
        batch_op.create_index("ix_citations_subject", ["subject_type", "subject_id"], unique=False)

    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("founded_year", sa.Integer(), nullable=True),
        sa.Column("founded_in_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["founded_in_id"],
            ["locations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_companies_founded_in_id"), ["founded_in_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_companies_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_companies_slug"), ["slug"], unique=True)

    op.create_table(
        "partner_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "location_id"),
    )
    with op.batch_alter_table("partner_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_locations_location_id"), ["location_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_partner_locations_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_people_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_people_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_people_slug"), ["slug"], unique=True)

    op.create_table(
        "programs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("launched_year", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["programs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_programs_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_programs_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_programs_launched_year"), ["launched_year"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_programs_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_programs_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_programs_slug"), ["slug"], unique=True)

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_slug"), ["slug"], unique=True)
        batch_op.create_index(batch_op.f("ix_reports_title"), ["title"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_year"), ["year"], unique=False)

    op.create_table(
        "figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("qualifier", sa.String(length=16), nullable=True),
        sa.Column("period_start_year", sa.Integer(), nullable=True),
        sa.Column("period_end_year", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("figures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_figures_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_figures_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_figures_program_id"), ["program_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_figures_report_id"), ["report_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_figures_slug"), ["slug"], unique=True)
        batch_op.create_index(batch_op.f("ix_figures_value"), ["value"], unique=False)

    op.create_table(
        "person_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "location_id"),
    )
    with op.batch_alter_table("person_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_locations_location_id"), ["location_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_person_locations_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "program_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("program_id", "location_id"),
    )
    with op.batch_alter_table("program_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_program_locations_location_id"), ["location_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_program_locations_program_id"), ["program_id"], unique=False
        )

    op.create_table(
        "program_partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["programs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("program_id", "partner_id"),
    )
    with op.batch_alter_table("program_partners", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_program_partners_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_program_partners_program_id"), ["program_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("program_partners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_partners_program_id"))
        batch_op.drop_index(batch_op.f("ix_program_partners_partner_id"))

    op.drop_table("program_partners")
    with op.batch_alter_table("program_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_locations_program_id"))
        batch_op.drop_index(batch_op.f("ix_program_locations_location_id"))

    op.drop_table("program_locations")
    with op.batch_alter_table("person_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_locations_person_id"))
        batch_op.drop_index(batch_op.f("ix_person_locations_location_id"))

    op.drop_table("person_locations")
    with op.batch_alter_table("figures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_figures_value"))
        batch_op.drop_index(batch_op.f("ix_figures_slug"))
        batch_op.drop_index(batch_op.f("ix_figures_report_id"))
        batch_op.drop_index(batch_op.f("ix_figures_program_id"))
        batch_op.drop_index(batch_op.f("ix_figures_kind"))
        batch_op.drop_index(batch_op.f("ix_figures_company_id"))

    op.drop_table("figures")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_year"))
        batch_op.drop_index(batch_op.f("ix_reports_title"))
        batch_op.drop_index(batch_op.f("ix_reports_slug"))
        batch_op.drop_index(batch_op.f("ix_reports_company_id"))

    op.drop_table("reports")
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_programs_slug"))
        batch_op.drop_index(batch_op.f("ix_programs_parent_id"))
        batch_op.drop_index(batch_op.f("ix_programs_name"))
        batch_op.drop_index(batch_op.f("ix_programs_launched_year"))
        batch_op.drop_index(batch_op.f("ix_programs_kind"))
        batch_op.drop_index(batch_op.f("ix_programs_company_id"))

    op.drop_table("programs")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_slug"))
        batch_op.drop_index(batch_op.f("ix_people_name"))
        batch_op.drop_index(batch_op.f("ix_people_company_id"))

    op.drop_table("people")
    with op.batch_alter_table("partner_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_locations_partner_id"))
        batch_op.drop_index(batch_op.f("ix_partner_locations_location_id"))

    op.drop_table("partner_locations")
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_companies_slug"))
        batch_op.drop_index(batch_op.f("ix_companies_name"))
        batch_op.drop_index(batch_op.f("ix_companies_founded_in_id"))

    op.drop_table("companies")
    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.drop_index("ix_citations_subject")
        batch_op.drop_index(batch_op.f("ix_citations_document_id"))

    op.drop_table("citations")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partners_slug"))
        batch_op.drop_index(batch_op.f("ix_partners_name"))

    op.drop_table("partners")
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_locations_slug"))
        batch_op.drop_index(batch_op.f("ix_locations_parent_id"))
        batch_op.drop_index(batch_op.f("ix_locations_name"))
        batch_op.drop_index(batch_op.f("ix_locations_kind"))
        batch_op.drop_index(batch_op.f("ix_locations_country_code"))

    op.drop_table("locations")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_title"))
        batch_op.drop_index(batch_op.f("ix_documents_slug"))
        batch_op.drop_index(batch_op.f("ix_documents_published_on"))

    op.drop_table("documents")
