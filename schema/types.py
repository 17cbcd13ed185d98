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
from schema.provenance import Provenance
from schema.sources import Citation, Document, Passage

__all__ = [
    "Company",
    "Connection",
    "Document",
    "Figure",
    "FigureGroup",
    "FigurePair",
    "Location",
    "Organization",
    "Partner",
    "Person",
    "Statement",
]

SLUG = "Stable, human-readable key."


@strawberry.interface(description="Something the source documents state, with the quotes.")
class Cited(FromRow):
    pk: strawberry.Private[int]
    row: strawberry.Private[Any]

    @strawberry.field(description="Verbatim quotes from the documents that state this.")
    async def citations(self, info: Info) -> list[Citation]:
        rows = await resolve_citations(info, entity_subject(type(self).__name__, self.row))
        return [Citation.from_row(c) for c in rows]

    @strawberry.field(
        description="What this rests on: its quotes, a named reference source or an "
        "inference, and the fields that rest on something else."
    )
    def provenance(self) -> Provenance:
        return Provenance.of_row(self.row)


@strawberry.type(description="A company the documents describe.")
class Company(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    name: str = strawberry.field(description="Name as the documents give it.")
    alternative_names: list[str] = strawberry.field(
        description="Other names the documents use for it; `provenance.fields` says what "
        "each rests on. Name filters and search match them."
    )
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
    figure_groups = connection_field(
        "Company",
        "figureGroups",
        description="Figures the documents set out together about the company.",
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
    statements = connection_field(
        "Person", "statements", description="Words the documents quote the person saying."
    )


@strawberry.type(description="A report a company published.")
class Report(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    title: str = strawberry.field(description="Title as the documents give it.")
    year: int | None = strawberry.field(description="Year the report covers.")
    topics: list[str] = strawberry.field(
        description="What the documents say the report covers, in their words and order; "
        "not exhaustive where they add \u201cand more\u201d."
    )

    company = link_field("Report", "company", description="The company that published the report.")
    figures = connection_field(
        "Report", "figures", description="Figures the documents attribute to this report."
    )
    figure_groups = connection_field(
        "Report",
        "figureGroups",
        description="Figures the documents set out together and source to this report.",
    )
    highlights = connection_field(
        "Report",
        "highlights",
        description="Programs the documents present as highlighted in the report; edges "
        "cite and qualify the relation.",
    )
    statements = connection_field(
        "Report",
        "statements",
        description="Words a person is quoted saying about or in the report.",
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
    month: int | None = strawberry.field(
        description="Month of the year it is held in (1 = January), where the documents say."
    )

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
    highlighted_in = connection_field(
        "Program",
        "highlightedIn",
        description="Reports the documents present as highlighting this program.",
    )


@strawberry.type(description="An organisation a company works with or funds.")
class Partner(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    name: str = strawberry.field(description="Name as the documents give it.")
    short_name: str | None = strawberry.field(description="Abbreviation the documents use.")
    alternative_names: list[str] = strawberry.field(
        description="Other names the documents use for it; `provenance.fields` says what "
        "each rests on. Name filters and search match them."
    )
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
    alternative_names: list[str] = strawberry.field(
        description="Other names the documents use for it; `provenance.fields` says what "
        "each rests on. Name filters and search match them."
    )
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
    pair = link_field(
        "Figure",
        "pair",
        description="The pair of figures the documents set this one beside, if any.",
    )


@strawberry.type(description="An organisation that publishes the documents, or stands behind one.")
class Organization(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    name: str = strawberry.field(description="Name as the documents give it.")
    alternative_names: list[str] = strawberry.field(
        description="Other names the documents use for it; `provenance.fields` says what "
        "each rests on. Name filters and search match them."
    )
    description: str | None = strawberry.field(description="Summary in the documents' words.")
    address: str | None = strawberry.field(
        description="Postal address as the documents write it (lines kept), where they give one."
    )

    location = link_field(
        "Organization", "location", description="The city of its address, where given."
    )
    owner = link_field(
        "Organization",
        "owner",
        description="The organisation that owns it (for a brand, the owner of its trademark).",
    )
    owns = connection_field("Organization", "owns", description="Organisations it owns.")


@strawberry.type(description="Words the documents quote a person saying.")
class Statement(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    text: str = strawberry.field(description="The words, verbatim from the quote.")
    medium: str | None = strawberry.field(
        description="Where the person said it, in the documents' words (e.g. a letter)."
    )

    person = link_field("Statement", "person", description="Who said it.")
    report = link_field(
        "Statement", "report", description="The report it was said in or about, if any."
    )


@strawberry.type(
    description="Figures the documents set out together under a heading and caption, in pairs."
)
class FigureGroup(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    title: str | None = strawberry.field(description="Heading the documents give the group.")
    caption: str | None = strawberry.field(
        description="Caption the documents give the group, verbatim: what its figures are."
    )

    company = link_field("FigureGroup", "company", description="The company it is about.")
    report = link_field(
        "FigureGroup", "report", description="The report the figures are sourced to, if any."
    )
    pairs = connection_field(
        "FigureGroup", "pairs", description="Its pairs of figures, in the documents' order."
    )


@strawberry.type(
    description="Figures of a group the documents set side by side; the documents do not "
    "label what a pair stands for, so neither does the API."
)
class FigurePair(Node, Cited):
    slug: str = strawberry.field(description=SLUG)
    position: int = strawberry.field(description="Place in its group, from 1.")

    group = link_field("FigurePair", "group", description="The group it belongs to.")
    figures = connection_field("FigurePair", "figures", description="Its figures.")


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
        Organization,
        Statement,
        FigureGroup,
        FigurePair,
        Passage,
    )
}
