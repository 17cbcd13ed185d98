"""The entity types of the graph. Fields are thin: each names the resolver that answers it.

Lists are `connection_field`s (resolved by `resolvers/lists.py` under the edge name);
single links call `resolvers/nodes.py` by reference name; both names are keys of db/mapping.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

from resolvers.citations import entity_subject, resolve_citations
from resolvers.context import Info
from resolvers.ids import encode_global_id
from resolvers.nodes import resolve_reference
from schema.connection import Connection, connection_field
from schema.enums import FigureKind, FigureQualifier, LocationKind, ProgramKind
from schema.inputs import (
    FigureOrder,
    LocationFilter,
    LocationOrder,
    PartnerFilter,
    PartnerOrder,
    PersonFilter,
    PersonOrder,
    ProgramFilter,
    ProgramOrder,
    ReportFilter,
    ReportOrder,
)
from schema.node import Node
from schema.sources import Citation, Document

T = TypeVar("T")

__all__ = ["Company", "Connection", "Document", "Figure", "Location", "Partner", "Person"]


@strawberry.interface(description="Something the source documents state, with the quotes.")
class Cited:
    row: strawberry.Private[Any]

    @strawberry.field(description="Verbatim quotes from the documents that state this.")
    async def citations(self, info: Info) -> list[Citation]:
        rows = await resolve_citations(info, entity_subject(self.row))
        return [Citation.from_row(c) for c in rows]


def _linked(row: Any, from_row: Callable[[Any], T]) -> T | None:
    """The node for a single link's row, or None where the link is empty."""
    return None if row is None else from_row(row)


def _global_id(type_name: str, row: Any) -> strawberry.ID:
    return strawberry.ID(encode_global_id(type_name, row.slug))


@strawberry.type(description="A company the documents describe.")
class Company(Node, Cited):
    slug: str = strawberry.field(description="Stable, human-readable key.")
    name: str = strawberry.field(description="Name as the documents give it.")
    description: str | None = strawberry.field(description="Summary in the documents' words.")
    founded_year: int | None = strawberry.field(description="Year the company got its start.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Company:
        return cls(
            id=_global_id(cls.__name__, row),
            slug=row.slug,
            name=row.name,
            description=row.description,
            founded_year=row.founded_year,
            pk=row.id,
            row=row,
        )

    @strawberry.field(description="Where the company got its start.")
    async def founded_in(self, info: Info) -> Location | None:
        return _linked(
            await resolve_reference(info, "Company.foundedIn", self.row), Location.from_row
        )

    programs = connection_field(
        "Company.programs",
        "Program",
        ProgramFilter,
        ProgramOrder,
        "NAME",
        description="Programs, funds, benefits and initiatives the company runs.",
    )
    people = connection_field(
        "Company.people",
        "Person",
        PersonFilter,
        PersonOrder,
        "NAME",
        description="People at the company the documents name.",
    )
    reports = connection_field(
        "Company.reports",
        "Report",
        ReportFilter,
        ReportOrder,
        "TITLE",
        description="Reports the company published.",
    )
    figures = connection_field(
        "Company.figures",
        "Figure",
        None,
        FigureOrder,
        "SLUG",
        description="Figures (amounts, counts) the documents give about the company.",
    )


@strawberry.type(description="A person the documents name.")
class Person(Node, Cited):
    slug: str = strawberry.field(description="Stable, human-readable key.")
    name: str = strawberry.field(description="Full name.")
    title: str | None = strawberry.field(description="Job title, where the documents give one.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Person:
        return cls(
            id=_global_id(cls.__name__, row),
            slug=row.slug,
            name=row.name,
            title=row.title,
            pk=row.id,
            row=row,
        )

    @strawberry.field(description="The company the person works for.")
    async def company(self, info: Info) -> Company:
        return Company.from_row(await resolve_reference(info, "Person.company", self.row))

    locations = connection_field(
        "Person.locations",
        "Location",
        LocationFilter,
        LocationOrder,
        "NAME",
        description="Places the person oversees teams in; edges cite the relation.",
    )


@strawberry.type(description="A report a company published.")
class Report(Node, Cited):
    slug: str = strawberry.field(description="Stable, human-readable key.")
    title: str = strawberry.field(description="Title as the documents give it.")
    year: int | None = strawberry.field(description="Year the report covers.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Report:
        return cls(
            id=_global_id(cls.__name__, row),
            slug=row.slug,
            title=row.title,
            year=row.year,
            pk=row.id,
            row=row,
        )

    @strawberry.field(description="The company that published the report.")
    async def company(self, info: Info) -> Company:
        return Company.from_row(await resolve_reference(info, "Report.company", self.row))

    figures = connection_field(
        "Report.figures",
        "Figure",
        None,
        FigureOrder,
        "SLUG",
        description="Figures the documents attribute to this report.",
    )


@strawberry.type(
    description="A program, framework, fund, benefit, artist-support offering, philanthropic "
    "initiative, funded partner project or campaign."
)
class Program(Node, Cited):
    slug: str = strawberry.field(description="Stable, human-readable key.")
    name: str | None = strawberry.field(
        description="Name as the documents give it; null when they describe it without one."
    )
    kind: ProgramKind = strawberry.field(description="What sort of program this is.")
    description: str | None = strawberry.field(description="Summary in the documents' words.")
    launched_year: int | None = strawberry.field(description="Year launched, where stated.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Program:
        return cls(
            id=_global_id(cls.__name__, row),
            slug=row.slug,
            name=row.name,
            kind=ProgramKind[row.kind],
            description=row.description,
            launched_year=row.launched_year,
            pk=row.id,
            row=row,
        )

    @strawberry.field(description="The company that runs or funds the program.")
    async def company(self, info: Info) -> Company:
        return Company.from_row(await resolve_reference(info, "Program.company", self.row))

    @strawberry.field(description="The framework or program this one was set up under.")
    async def parent(self, info: Info) -> Program | None:
        return _linked(await resolve_reference(info, "Program.parent", self.row), Program.from_row)

    sub_programs = connection_field(
        "Program.subPrograms",
        "Program",
        ProgramFilter,
        ProgramOrder,
        "NAME",
        description="Programs set up under this one.",
    )
    partners = connection_field(
        "Program.partners",
        "Partner",
        PartnerFilter,
        PartnerOrder,
        "NAME",
        description="Partner organisations of the program; edges cite the relation.",
    )
    locations = connection_field(
        "Program.locations",
        "Location",
        LocationFilter,
        LocationOrder,
        "NAME",
        description="Where the program operates or applies; edges cite the relation.",
    )
    figures = connection_field(
        "Program.figures",
        "Figure",
        None,
        FigureOrder,
        "SLUG",
        description="Figures the documents give about this program.",
    )


@strawberry.type(description="An organisation a company works with or funds.")
class Partner(Node, Cited):
    slug: str = strawberry.field(description="Stable, human-readable key.")
    name: str = strawberry.field(description="Name as the documents give it.")
    short_name: str | None = strawberry.field(description="Abbreviation the documents use.")
    description: str | None = strawberry.field(description="Summary in the documents' words.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Partner:
        return cls(
            id=_global_id(cls.__name__, row),
            slug=row.slug,
            name=row.name,
            short_name=row.short_name,
            description=row.description,
            pk=row.id,
            row=row,
        )

    programs = connection_field(
        "Partner.programs",
        "Program",
        ProgramFilter,
        ProgramOrder,
        "NAME",
        description="Programs the partner works with; edges cite the relation.",
    )
    locations = connection_field(
        "Partner.locations",
        "Location",
        LocationFilter,
        LocationOrder,
        "NAME",
        description="Where the partner is based or works; edges cite the relation.",
    )


@strawberry.type(description="A country, region or city.")
class Location(Node, Cited):
    slug: str = strawberry.field(description="Stable, human-readable key.")
    name: str = strawberry.field(description="Common English name.")
    kind: LocationKind = strawberry.field(description="Country, region or city.")
    country_code: str | None = strawberry.field(
        description="ISO 3166-1 alpha-2 code of the country (a city's containing country); "
        "null for regions spanning countries."
    )
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Location:
        return cls(
            id=_global_id(cls.__name__, row),
            slug=row.slug,
            name=row.name,
            kind=LocationKind[row.kind],
            country_code=row.country_code,
            pk=row.id,
            row=row,
        )

    @strawberry.field(description="The location containing this one, where it is in the graph.")
    async def parent(self, info: Info) -> Location | None:
        return _linked(
            await resolve_reference(info, "Location.parent", self.row), Location.from_row
        )

    children = connection_field(
        "Location.children",
        "Location",
        LocationFilter,
        LocationOrder,
        "NAME",
        description="Locations inside this one.",
    )
    partners = connection_field(
        "Location.partners",
        "Partner",
        PartnerFilter,
        PartnerOrder,
        "NAME",
        description="Partners based or working here; edges cite the relation.",
    )
    programs = connection_field(
        "Location.programs",
        "Program",
        ProgramFilter,
        ProgramOrder,
        "NAME",
        description="Programs operating or applying here; edges cite the relation.",
    )
    people = connection_field(
        "Location.people",
        "Person",
        PersonFilter,
        PersonOrder,
        "NAME",
        description="People who oversee teams here; edges cite the relation.",
    )


@strawberry.type(description="A number the documents state: an amount of money or a count.")
class Figure(Node, Cited):
    slug: str = strawberry.field(description="Stable, human-readable key.")
    label: str | None = strawberry.field(
        description="What the figure measures, only where the documents say; otherwise null."
    )
    kind: FigureKind = strawberry.field(description="Money or count.")
    value: float = strawberry.field(description="The number, in `unit`s.")
    unit: str = strawberry.field(
        description="Currency code for money (e.g. `USD`), else the things counted."
    )
    qualifier: FigureQualifier | None = strawberry.field(
        description="How the source hedges the number; null when stated exactly."
    )
    period_start_year: int | None = strawberry.field(description="First year the figure covers.")
    period_end_year: int | None = strawberry.field(description="Last year the figure covers.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Figure:
        return cls(
            id=_global_id(cls.__name__, row),
            slug=row.slug,
            label=row.label,
            kind=FigureKind[row.kind],
            value=row.value,
            unit=row.unit,
            qualifier=None if row.qualifier is None else FigureQualifier[row.qualifier],
            period_start_year=row.period_start_year,
            period_end_year=row.period_end_year,
            pk=row.id,
            row=row,
        )

    @strawberry.field(description="The company the figure is about.")
    async def company(self, info: Info) -> Company:
        return Company.from_row(await resolve_reference(info, "Figure.company", self.row))

    @strawberry.field(description="The program the figure is about, if any.")
    async def program(self, info: Info) -> Program | None:
        return _linked(await resolve_reference(info, "Figure.program", self.row), Program.from_row)

    @strawberry.field(description="The report the figure is sourced to, if any.")
    async def report(self, info: Info) -> Report | None:
        return _linked(await resolve_reference(info, "Figure.report", self.row), Report.from_row)


NODE_TYPES: dict[str, Any] = {
    t.__name__: t for t in (Company, Person, Report, Program, Partner, Location, Figure, Document)
}
