"""The tables. Closed sets (kinds, qualifiers) are stored as short strings so both stores agree.

`sort_key` and `search_text` are derived from an entity's name and searchable fields (see
db/keys.py and the map in db/mapping.py), never written by hand; so are a stated item's
`basis` and `unstated` columns, from its `provenance` (db/provenance.py).

Citations point at their subject by (`subject_type`, `subject_id`): an entity table's name or a
link table's name, and the row's id. The seed loader is the only writer and checks every subject.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_SLUG_LENGTH = 120
# Names and titles are indexed: a PostgreSQL b-tree entry holds at most 2,704 bytes, and a
# name's sort key (casefolded: up to three characters a character) of four-byte characters
# stays under it at this length.
MAX_NAME_LENGTH = 200
# A document's slug leaves room in a citation's key for its span (db/keys.citation_slug).
MAX_DOCUMENT_SLUG_LENGTH = MAX_SLUG_LENGTH - 24
# A provenance with nothing but a stated basis, as the seed writes it (db/provenance.py).
STATED_PROVENANCE = '{"basis":"STATED","note":null,"source":null,"fields":[]}'
# A list of names (or topics) as a JSON array.
NO_NAMES = "[]"


class Provenanced(SQLModel):
    """What an entity or link rests on: `provenance` is its JSON (db/provenance.py); `basis`
    and `unstated` repeat the item's basis and its not-stated fields so lists can filter on
    them (`statedOnly`)."""

    basis: str = Field(
        default="STATED", max_length=16, sa_column_kwargs={"server_default": "STATED"}
    )
    provenance: str = Field(
        default=STATED_PROVENANCE,
        sa_type=Text,
        sa_column_kwargs={"server_default": STATED_PROVENANCE},
    )
    unstated: str = Field(default="", sa_column_kwargs={"server_default": ""})


class Document(Provenanced, table=True):
    __tablename__ = "documents"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    sort_key: str | None = Field(default=None, index=True)
    search_text: str = Field(default="", sa_column_kwargs={"server_default": ""})
    title: str = Field(index=True)
    publisher: str
    published_on: dt.date | None = Field(default=None, index=True)
    source_file: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    # An organisation's id, as the seed writes it. No foreign key: SQLite would rebuild this
    # table, which citations reference, to add or drop one.
    publisher_id: int | None = Field(default=None, index=True)


class Citation(SQLModel, table=True):
    __tablename__ = "citations"
    __table_args__ = (
        Index("ix_citations_subject", "subject_type", "subject_id"),
        UniqueConstraint(
            "subject_type", "subject_id", "document_id", "start", "end", name="uq_citation_span"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject_type: str = Field(max_length=40)
    subject_id: int
    document_id: int = Field(foreign_key="documents.id", index=True)
    quote: str = Field(sa_column=Column(Text, nullable=False))
    start: int
    end: int
    position: int = 0
    # The quote's global ID: its span (db/keys.citation_slug). Not unique: several facts may
    # cite one span, and every field of a Citation is the span's.
    slug: str = Field(
        default="",
        max_length=MAX_SLUG_LENGTH,
        index=True,
        sa_column_kwargs={"server_default": ""},
    )


class Location(Provenanced, table=True):
    __tablename__ = "locations"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    sort_key: str | None = Field(default=None, index=True)
    search_text: str = Field(default="", sa_column_kwargs={"server_default": ""})
    name: str = Field(index=True)
    alternative_names: str = Field(
        default=NO_NAMES, sa_type=Text, sa_column_kwargs={"server_default": NO_NAMES}
    )
    kind: str = Field(max_length=16, index=True)
    country_code: str | None = Field(default=None, max_length=2, index=True)
    parent_id: int | None = Field(default=None, foreign_key="locations.id", index=True)


class Company(Provenanced, table=True):
    __tablename__ = "companies"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    sort_key: str | None = Field(default=None, index=True)
    search_text: str = Field(default="", sa_column_kwargs={"server_default": ""})
    name: str = Field(index=True)
    alternative_names: str = Field(
        default=NO_NAMES, sa_type=Text, sa_column_kwargs={"server_default": NO_NAMES}
    )
    description: str | None = None
    founded_year: int | None = Field(default=None, index=True)
    founded_in_id: int | None = Field(default=None, foreign_key="locations.id", index=True)


class Person(Provenanced, table=True):
    __tablename__ = "people"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    sort_key: str | None = Field(default=None, index=True)
    search_text: str = Field(default="", sa_column_kwargs={"server_default": ""})
    name: str = Field(index=True)
    title: str | None = None
    company_id: int = Field(foreign_key="companies.id", index=True)


class Report(Provenanced, table=True):
    __tablename__ = "reports"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    sort_key: str | None = Field(default=None, index=True)
    search_text: str = Field(default="", sa_column_kwargs={"server_default": ""})
    title: str = Field(index=True)
    year: int | None = Field(default=None, index=True)
    topics: str = Field(
        default=NO_NAMES, sa_type=Text, sa_column_kwargs={"server_default": NO_NAMES}
    )
    company_id: int = Field(foreign_key="companies.id", index=True)


class Program(Provenanced, table=True):
    __tablename__ = "programs"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    sort_key: str | None = Field(default=None, index=True)
    search_text: str = Field(default="", sa_column_kwargs={"server_default": ""})
    name: str | None = Field(default=None, index=True)
    kind: str = Field(max_length=32, index=True)
    description: str | None = None
    company_id: int = Field(foreign_key="companies.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="programs.id", index=True)
    launched_year: int | None = Field(default=None, index=True)
    month: int | None = None


class Partner(Provenanced, table=True):
    __tablename__ = "partners"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    sort_key: str | None = Field(default=None, index=True)
    search_text: str = Field(default="", sa_column_kwargs={"server_default": ""})
    name: str = Field(index=True)
    short_name: str | None = None
    alternative_names: str = Field(
        default=NO_NAMES, sa_type=Text, sa_column_kwargs={"server_default": NO_NAMES}
    )
    description: str | None = None


class Figure(Provenanced, table=True):
    __tablename__ = "figures"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    label: str | None = None
    kind: str = Field(max_length=16, index=True)
    value: float = Field(index=True)
    unit: str
    qualifier: str | None = Field(default=None, max_length=16)
    period_start_year: int | None = Field(default=None, index=True)
    period_end_year: int | None = None
    company_id: int = Field(foreign_key="companies.id", index=True)
    program_id: int | None = Field(default=None, foreign_key="programs.id", index=True)
    report_id: int | None = Field(default=None, foreign_key="reports.id", index=True)
    pair_id: int | None = Field(default=None, foreign_key="figure_pairs.id", index=True)


class Organization(Provenanced, table=True):
    """A publisher, or the company behind one."""

    __tablename__ = "organizations"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    sort_key: str | None = Field(default=None, index=True)
    search_text: str = Field(default="", sa_column_kwargs={"server_default": ""})
    name: str = Field(index=True)
    alternative_names: str = Field(
        default=NO_NAMES, sa_type=Text, sa_column_kwargs={"server_default": NO_NAMES}
    )
    description: str | None = None
    address: str | None = None
    location_id: int | None = Field(default=None, foreign_key="locations.id", index=True)
    owner_id: int | None = Field(default=None, foreign_key="organizations.id", index=True)


class Statement(Provenanced, table=True):
    """Words the documents quote a person saying."""

    __tablename__ = "statements"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    text: str = Field(sa_type=Text)
    medium: str | None = None
    person_id: int = Field(foreign_key="people.id", index=True)
    report_id: int | None = Field(default=None, foreign_key="reports.id", index=True)


class FigureGroup(Provenanced, table=True):
    """Figures the documents set out together under one caption."""

    __tablename__ = "figure_groups"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    title: str | None = None
    caption: str | None = None
    company_id: int = Field(foreign_key="companies.id", index=True)
    report_id: int | None = Field(default=None, foreign_key="reports.id", index=True)


class FigurePair(Provenanced, table=True):
    """Figures of a group the documents set side by side, in the order they give them."""

    __tablename__ = "figure_pairs"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    position: int = Field(index=True)
    group_id: int = Field(foreign_key="figure_groups.id", index=True)


class ProgramPartner(Provenanced, table=True):
    __tablename__ = "program_partners"
    __table_args__ = (UniqueConstraint("program_id", "partner_id"),)

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="programs.id", index=True)
    partner_id: int = Field(foreign_key="partners.id", index=True)


class ProgramLocation(Provenanced, table=True):
    __tablename__ = "program_locations"
    __table_args__ = (UniqueConstraint("program_id", "location_id"),)

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="programs.id", index=True)
    location_id: int = Field(foreign_key="locations.id", index=True)


class PartnerLocation(Provenanced, table=True):
    __tablename__ = "partner_locations"
    __table_args__ = (UniqueConstraint("partner_id", "location_id"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partners.id", index=True)
    location_id: int = Field(foreign_key="locations.id", index=True)


class PersonLocation(Provenanced, table=True):
    __tablename__ = "person_locations"
    __table_args__ = (UniqueConstraint("person_id", "location_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="people.id", index=True)
    location_id: int = Field(foreign_key="locations.id", index=True)


class ReportProgram(Provenanced, table=True):
    """A program a report highlights."""

    __tablename__ = "report_programs"
    __table_args__ = (UniqueConstraint("report_id", "program_id"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="reports.id", index=True)
    program_id: int = Field(foreign_key="programs.id", index=True)


class Passage(SQLModel, table=True):
    """A paragraph of a document (a non-empty line), keyed by its span as a quote is; split
    at seed time so that search can find and show a document's text piece by piece."""

    __tablename__ = "passages"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=MAX_SLUG_LENGTH, unique=True, index=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    start: int
    end: int
    text: str = Field(sa_column=Column(Text, nullable=False))


class SearchEntry(SQLModel, table=True):
    """One value of one searchable field of one object (db/mapping.py says which), as the
    search indexes of both stores read it (migration 0008); written only by the seed.

    `position` is the value's place in a list field, null for a field of one value; `terms`
    and `fuzzy` are its words as db/words.py makes them; `weight` what a match in it scores.
    """

    __tablename__ = "search_entries"
    __table_args__ = (Index("ix_search_entries_target", "target_type", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    target_type: str = Field(max_length=40)
    target_id: int
    target_slug: str = Field(max_length=MAX_SLUG_LENGTH)
    field_name: str = Field(max_length=40)
    position: int | None = None
    weight: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    terms: str = Field(sa_column=Column(Text, nullable=False))
    fuzzy: str = Field(sa_column=Column(Text, nullable=False))


class StoreState(SQLModel, table=True):
    """What the last seed recorded about the store (db/state.py): its data version, and the
    most items any one parent has in each list. Written only by the seed."""

    __tablename__ = "store_state"

    key: str = Field(primary_key=True, max_length=200)
    value: int = Field(sa_type=BigInteger)
