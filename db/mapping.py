"""The one declarative map from GraphQL node types and edges to tables, columns and joins.

Loaders read it to build batched queries; a future query compiler reads the same map, so the
two can never disagree about what `Program.partners` means. Nothing here runs a query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, exists, false, select
from sqlmodel import SQLModel, col

from db.models import (
    Citation,
    Company,
    Document,
    Figure,
    Location,
    Partner,
    PartnerLocation,
    Person,
    PersonLocation,
    Program,
    ProgramLocation,
    ProgramPartner,
    Report,
)

Column = Any  # an InstrumentedAttribute; SQLModel's typing does not name it usefully
Condition = ColumnElement[bool]


@dataclass(frozen=True)
class Entity:
    """A node type: its table, the columns `orderBy` may name, and how its filters apply.

    `name_field` feeds the table's `sort_key` and `search_fields` its `search_text`
    (db/keys.py); entities without them are neither sorted by name nor searched.
    """

    type_name: str
    model: type[SQLModel]
    order_fields: Mapping[str, Column]
    name_field: str | None = None
    search_fields: tuple[str, ...] = ()
    kind_filter: Callable[[tuple[str, ...]], Condition] | None = None
    country_filter: Callable[[str], Condition] | None = None


@dataclass(frozen=True)
class Edge:
    """A list field: target rows whose `parent_key` equals the parent's id.

    With a `link` table the parent key lives on the link, `link_target` joins it to the
    target, and the link row's id is the subject of the relation's citations.
    """

    name: str
    target: Entity
    parent_key: Column
    link: type[SQLModel] | None = None
    link_target: Column | None = None

    @property
    def link_table_name(self) -> str | None:
        return None if self.link is None else str(self.link.__tablename__)


@dataclass(frozen=True)
class Reference:
    """A single-object field: the row of `target` whose id is the source's `foreign_key`."""

    name: str
    target: Entity
    foreign_key: Column
    attribute: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attribute", self.foreign_key.key)


def related_exists(edge: Edge, parent: type[SQLModel], condition: Condition) -> Condition:
    """EXISTS(a row reached from `parent` through `edge` satisfies `condition`)."""
    target = edge.target.model
    query = select(1).select_from(edge.link or target)
    if edge.link is not None:
        query = query.join(target, edge.link_target == col(target.id))  # type: ignore[attr-defined]
    parent_id = col(parent.id)  # type: ignore[attr-defined]
    return exists(query.where(edge.parent_key == parent_id, condition).correlate(parent))


def _located_in(edge_name: str, parent: type[SQLModel]) -> Callable[[str], Condition]:
    return lambda code: related_exists(EDGES[edge_name], parent, col(Location.country_code) == code)


def _programs_of_kind(kinds: tuple[str, ...]) -> Condition:
    return col(Program.kind).in_(kinds) if kinds else false()


def _partners_with_program_kind(kinds: tuple[str, ...]) -> Condition:
    return related_exists(EDGES["Partner.programs"], Partner, _programs_of_kind(kinds))


def _locations_of_kind(kinds: tuple[str, ...]) -> Condition:
    return col(Location.kind).in_(kinds) if kinds else false()


COMPANY = Entity(
    "Company",
    Company,
    {"NAME": Company.sort_key, "SLUG": Company.slug, "FOUNDED_YEAR": Company.founded_year},
    name_field="name",
    search_fields=("name",),
)
PERSON = Entity(
    "Person",
    Person,
    {"NAME": Person.sort_key, "SLUG": Person.slug},
    name_field="name",
    search_fields=("name",),
)
REPORT = Entity(
    "Report",
    Report,
    {"TITLE": Report.sort_key, "SLUG": Report.slug, "YEAR": Report.year},
    name_field="title",
    search_fields=("title",),
)
PROGRAM = Entity(
    "Program",
    Program,
    {"NAME": Program.sort_key, "SLUG": Program.slug, "LAUNCHED_YEAR": Program.launched_year},
    name_field="name",
    search_fields=("name", "description"),
    kind_filter=_programs_of_kind,
    country_filter=_located_in("Program.locations", Program),
)
PARTNER = Entity(
    "Partner",
    Partner,
    {"NAME": Partner.sort_key, "SLUG": Partner.slug},
    name_field="name",
    search_fields=("name", "short_name"),
    kind_filter=_partners_with_program_kind,
    country_filter=_located_in("Partner.locations", Partner),
)
LOCATION = Entity(
    "Location",
    Location,
    {"NAME": Location.sort_key, "SLUG": Location.slug, "COUNTRY_CODE": Location.country_code},
    name_field="name",
    search_fields=("name",),
    kind_filter=_locations_of_kind,
    country_filter=lambda code: col(Location.country_code) == code,
)
FIGURE = Entity(
    "Figure",
    Figure,
    {"SLUG": Figure.slug, "VALUE": Figure.value, "PERIOD_START_YEAR": Figure.period_start_year},
)
DOCUMENT = Entity(
    "Document",
    Document,
    {"TITLE": Document.sort_key, "SLUG": Document.slug, "PUBLISHED_ON": Document.published_on},
    name_field="title",
    search_fields=("title",),
)

ENTITIES: dict[str, Entity] = {
    entity.type_name: entity
    for entity in (COMPANY, PERSON, REPORT, PROGRAM, PARTNER, LOCATION, FIGURE, DOCUMENT)
}

EDGES: dict[str, Edge] = {
    edge.name: edge
    for edge in (
        Edge("Company.programs", PROGRAM, Program.company_id),
        Edge("Company.people", PERSON, Person.company_id),
        Edge("Company.reports", REPORT, Report.company_id),
        Edge("Company.figures", FIGURE, Figure.company_id),
        Edge("Program.subPrograms", PROGRAM, Program.parent_id),
        Edge("Program.figures", FIGURE, Figure.program_id),
        Edge(
            "Program.partners",
            PARTNER,
            ProgramPartner.program_id,
            ProgramPartner,
            ProgramPartner.partner_id,
        ),
        Edge(
            "Program.locations",
            LOCATION,
            ProgramLocation.program_id,
            ProgramLocation,
            ProgramLocation.location_id,
        ),
        Edge(
            "Partner.programs",
            PROGRAM,
            ProgramPartner.partner_id,
            ProgramPartner,
            ProgramPartner.program_id,
        ),
        Edge(
            "Partner.locations",
            LOCATION,
            PartnerLocation.partner_id,
            PartnerLocation,
            PartnerLocation.location_id,
        ),
        Edge("Location.children", LOCATION, Location.parent_id),
        Edge(
            "Location.partners",
            PARTNER,
            PartnerLocation.location_id,
            PartnerLocation,
            PartnerLocation.partner_id,
        ),
        Edge(
            "Location.programs",
            PROGRAM,
            ProgramLocation.location_id,
            ProgramLocation,
            ProgramLocation.program_id,
        ),
        Edge(
            "Location.people",
            PERSON,
            PersonLocation.location_id,
            PersonLocation,
            PersonLocation.person_id,
        ),
        Edge(
            "Person.locations",
            LOCATION,
            PersonLocation.person_id,
            PersonLocation,
            PersonLocation.location_id,
        ),
        Edge("Report.figures", FIGURE, Figure.report_id),
    )
}

REFERENCES: dict[str, Reference] = {
    ref.name: ref
    for ref in (
        Reference("Company.foundedIn", LOCATION, Company.founded_in_id),
        Reference("Person.company", COMPANY, Person.company_id),
        Reference("Report.company", COMPANY, Report.company_id),
        Reference("Program.company", COMPANY, Program.company_id),
        Reference("Program.parent", PROGRAM, Program.parent_id),
        Reference("Location.parent", LOCATION, Location.parent_id),
        Reference("Figure.company", COMPANY, Figure.company_id),
        Reference("Figure.program", PROGRAM, Figure.program_id),
        Reference("Figure.report", REPORT, Figure.report_id),
        Reference("Citation.document", DOCUMENT, Citation.document_id),
    )
}
