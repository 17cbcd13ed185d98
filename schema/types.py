"""The entity types of the graph: the contract's descriptions; meaning comes from the map.

Plain fields are filled from the row as db/mapping.py reads it (`FromRow`); lists are
`connection_field`s and single links `link_field`s, both named by (type, field) as the map
names them and resolved by `resolvers/`.
"""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.citations import entity_subject, resolve_citations
from resolvers.context import Info
from schema.connection import Connection, connection_field
from schema.enums import FigureKind, FigureQualifier, LocationKind, ProgramKind
from schema.node import Node
from schema.objects import FromRow, link_field
from schema.sources import Citation, Document, Passage

__all__ = ["Company", "Connection", "Document", "Figure", "Location", "Partner", "Person"]

SLUG = "Stable, human-readable key."


@strawberry.interface(description="Something the source documents state, with the quotes.")
class Cited(FromRow):
    pk: strawberry.Private[int]
    row: strawberry.Private[Any]

    @strawberry.field(description="Verbatim quotes from the documents that state this.")
    async def citations(self, info: Info) -> list[Citation]:
        rows = await resolve_citations(info, entity_subject(type(self).__name__, self.row))
        return [Citation.from_row(c) for c in rows]


@strawberry.type(description="A company the documents describe.")
class Company(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    name: str = strawberry.field(description="Name as the documents give it.")
    description: str | None = strawberry.field(description="Summary in the documents' words.")
    founded_year: int | None = strawberry.field(description="Year the company got its start.")

    founded_in = link_field("Company", "foundedIn", description="Where the company got its start.")
    programs = connection_field(
        "Company",
        "programs",
        description="Programs, funds, benefits and initiatives the company runs.",
    )
    people = connection_field(
        "Company", "people", description="People at the company the documents name."
    )
    reports = connection_field("Company", "reports", description="Reports the company published.")
    figures = connection_field(
        "Company",
        "figures",
        description="Figures (amounts, counts) the documents give about the company.",
    )


@strawberry.type(description="A person the documents name.")
class Person(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    name: str = strawberry.field(description="Full name.")
    title: str | None = strawberry.field(description="Job title, where the documents give one.")

    company = link_field("Person", "company", description="The company the person works for.")
    locations = connection_field(
        "Person",
        "locations",
        description="Places the person oversees teams in; edges cite the relation.",
    )


@strawberry.type(description="A report a company published.")
class Report(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    title: str = strawberry.field(description="Title as the documents give it.")
    year: int | None = strawberry.field(description="Year the report covers.")

    company = link_field("Report", "company", description="The company that published the report.")
    figures = connection_field(
        "Report", "figures", description="Figures the documents attribute to this report."
    )


@strawberry.type(
    description="A program, framework, fund, benefit, artist-support offering, philanthropic "
    "initiative, funded partner project or campaign."
)
class Program(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    name: str | None = strawberry.field(
        description="Name as the documents give it; null when they describe it without one."
    )
    kind: ProgramKind = strawberry.field(description="What sort of program this is.")
    description: str | None = strawberry.field(description="Summary in the documents' words.")
    launched_year: int | None = strawberry.field(description="Year launched, where stated.")

    company = link_field(
        "Program", "company", description="The company that runs or funds the program."
    )
    parent = link_field(
        "Program", "parent", description="The framework or program this one was set up under."
    )
    sub_programs = connection_field(
        "Program", "subPrograms", description="Programs set up under this one."
    )
    partners = connection_field(
        "Program",
        "partners",
        description="Partner organisations of the program; edges cite the relation.",
    )
    locations = connection_field(
        "Program",
        "locations",
        description="Where the program operates or applies; edges cite the relation.",
    )
    figures = connection_field(
        "Program", "figures", description="Figures the documents give about this program."
    )


@strawberry.type(description="An organisation a company works with or funds.")
class Partner(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    name: str = strawberry.field(description="Name as the documents give it.")
    short_name: str | None = strawberry.field(description="Abbreviation the documents use.")
    description: str | None = strawberry.field(description="Summary in the documents' words.")

    programs = connection_field(
        "Partner",
        "programs",
        description="Programs the partner works with; edges cite the relation.",
    )
    locations = connection_field(
        "Partner",
        "locations",
        description="Where the partner is based or works; edges cite the relation.",
    )


@strawberry.type(description="A country, region or city.")
class Location(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    name: str = strawberry.field(description="Common English name.")
    kind: LocationKind = strawberry.field(description="Country, region or city.")
    country_code: str | None = strawberry.field(
        description="ISO 3166-1 alpha-2 code of the country (a city's containing country); "
        "null for regions spanning countries."
    )

    parent = link_field(
        "Location",
        "parent",
        description="The location containing this one, where it is in the graph.",
    )
    children = connection_field("Location", "children", description="Locations inside this one.")
    partners = connection_field(
        "Location",
        "partners",
        description="Partners based or working here; edges cite the relation.",
    )
    programs = connection_field(
        "Location",
        "programs",
        description="Programs operating or applying here; edges cite the relation.",
    )
    people = connection_field(
        "Location",
        "people",
        description="People who oversee teams here; edges cite the relation.",
    )


@strawberry.type(description="A number the documents state: an amount of money or a count.")
class Figure(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
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

    company = link_field("Figure", "company", description="The company the figure is about.")
    program = link_field(
        "Figure", "program", description="The program the figure is about, if any."
    )
    report = link_field(
        "Figure", "report", description="The report the figure is sourced to, if any."
    )


NODE_TYPES: dict[str, type[FromRow]] = {
    t.__name__: t
    for t in (
        Company,
        Person,
        Report,
        Program,
        Partner,
        Location,
        Figure,
        Document,
        Citation,
        Passage,
    )
}
