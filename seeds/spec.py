"""Typed models of the seed files, so a bad file fails loudly before the store is touched.

Every model forbids unknown keys: a typo in the YAML is an error, never a silently dropped fact.
Cross-references (slugs) are checked in `seeds.read`, once the whole graph is read.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from db.mapping import Basis, FigureKind, FigureQualifier, LocationKind, ProgramKind
from db.models import MAX_DOCUMENT_SLUG_LENGTH, MAX_NAME_LENGTH, MAX_SLUG_LENGTH, SLUG_PATTERN

Slug = Annotated[
    str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=MAX_SLUG_LENGTH)
]
DocumentSlug = Annotated[
    str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=MAX_DOCUMENT_SLUG_LENGTH)
]
# A bound no extraction of a quote comes near (the longest shipped is 316 characters); it keeps
# every value far within what the search index takes of one (a PostgreSQL tsvector holds 1 MB).
MAX_TEXT_LENGTH = 100_000


def no_nul(text: str) -> str:
    """A text either store keeps: SQLite stores a NUL (and the API would serve it); PostgreSQL
    refuses it. A value or a whole document."""
    if "\x00" in text:
        raise ValueError("holds a NUL character, which PostgreSQL cannot store")
    return text


def _one_line(text: str) -> str:
    """A name is one line: no control character (a cursor's sort value refuses them, so a
    list ordered by a name holding a tab could not be paged)."""
    if any(ord(character) < 0x20 or character == "\x7f" for character in text):
        raise ValueError("holds a control character (a tab, a line break); a name is one line")
    return text


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_LENGTH),
    AfterValidator(no_nul),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(_one_line),
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# A year goes into an INTEGER column (32 bits on PostgreSQL) and out as a GraphQL Int: the
# years a date may have (`published_on`) are within both, where 10**25 fits neither store.
Year = Annotated[int, Field(ge=dt.MINYEAR, le=dt.MAXYEAR)]
# A date each store holds as itself: PostgreSQL's driver (asyncpg) writes the first and the
# last date Python has, 0001-01-01 and 9999-12-31, as -infinity and infinity.
Day = Annotated[dt.date, Field(gt=dt.date.min, lt=dt.date.max)]
# A figure is served as a `Float!`, which JSON cannot carry as inf or nan (.inf in YAML).
Number = Annotated[float, Field(allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CitationSpec(Strict):
    """A verbatim quote; `occurrence` picks one when the quote appears more than once."""

    document: DocumentSlug
    quote: Text
    occurrence: int | None = Field(default=None, ge=1)


class BasisSpec(Strict):
    """What a statement rests on: a quote (STATED), a named reference source (REFERENCE,
    `source` required) or an editorial inference (INFERRED, `note` required)."""

    basis: Basis = Basis.STATED
    note: Text | None = None
    source: Text | None = None


class ProvenanceSpec(BasisSpec):
    """An item's basis, and its fields (by YAML key) whose basis differs from it."""

    fields: dict[str, BasisSpec] = {}


class DocumentMeta(Strict):
    """What `seeds/documents/<slug>.yaml` says about the text file beside it."""

    slug: DocumentSlug
    title: Name
    publisher: Text
    published_on: Day | None = None
    source_file: Text
    provenance: ProvenanceSpec = ProvenanceSpec()


class Cited(Strict):
    citations: list[CitationSpec] = Field(min_length=1)
    provenance: ProvenanceSpec = ProvenanceSpec()


class LocationLink(Cited):
    location: Slug


class PartnerLink(Cited):
    partner: Slug


class ProgramLink(Cited):
    program: Slug


Names = list[Name]


class CompanySpec(Cited):
    slug: Slug
    name: Name
    alternative_names: Names = []
    description: Text | None = None
    founded_year: Year | None = None
    founded_in: Slug | None = None


class PersonSpec(Cited):
    slug: Slug
    name: Name
    title: Name | None = None
    company: Slug
    locations: list[LocationLink] = []


class ReportSpec(Cited):
    slug: Slug
    title: Name
    year: Year | None = None
    topics: Names = []
    company: Slug
    highlights: list[ProgramLink] = []


class ProgramSpec(Cited):
    slug: Slug
    name: Name | None = None
    kind: ProgramKind
    description: Text | None = None
    company: Slug
    parent: Slug | None = None
    launched_year: Year | None = None
    month: int | None = Field(default=None, ge=1, le=12)
    partners: list[PartnerLink] = []
    locations: list[LocationLink] = []


class PartnerSpec(Cited):
    slug: Slug
    name: Name
    short_name: Name | None = None
    alternative_names: Names = []
    description: Text | None = None
    locations: list[LocationLink] = []


class LocationSpec(Cited):
    slug: Slug
    name: Name
    alternative_names: Names = []
    kind: LocationKind
    country_code: CountryCode | None = None
    parent: Slug | None = None


class FigureSpec(Cited):
    slug: Slug
    label: Name | None = None
    kind: FigureKind
    value: Number
    unit: Text
    qualifier: FigureQualifier | None = None
    period_start_year: Year | None = None
    period_end_year: Year | None = None
    company: Slug
    program: Slug | None = None
    report: Slug | None = None


class OrganizationSpec(Cited):
    """A publisher, or the organisation behind one; `documents` are those it published."""

    slug: Slug
    name: Name
    alternative_names: Names = []
    description: Text | None = None
    address: Text | None = None
    location: Slug | None = None
    owner: Slug | None = None
    documents: list[DocumentSlug] = []


class StatementSpec(Cited):
    """Words the documents quote a person saying; `text` must lie within a citation."""

    slug: Slug
    text: Text
    medium: Text | None = None
    person: Slug
    report: Slug | None = None


class FigurePairSpec(Cited):
    """Figures the text sets side by side, in its order."""

    slug: Slug
    figures: list[Slug] = Field(min_length=1)


class FigureGroupSpec(Cited):
    slug: Slug
    title: Name | None = None
    caption: Text | None = None
    company: Slug
    report: Slug | None = None
    pairs: list[FigurePairSpec] = []


class GraphSpec(Strict):
    """The whole extraction file (`seeds/graph.yaml`); `shared` holds values its items
    repeat through YAML anchors, and means nothing on its own."""

    shared: dict[str, Any] = {}

    companies: list[CompanySpec] = []
    people: list[PersonSpec] = []
    reports: list[ReportSpec] = []
    programs: list[ProgramSpec] = []
    partners: list[PartnerSpec] = []
    locations: list[LocationSpec] = []
    figures: list[FigureSpec] = []
    figure_groups: list[FigureGroupSpec] = []
    organizations: list[OrganizationSpec] = []
    statements: list[StatementSpec] = []
