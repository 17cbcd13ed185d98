"""The items of an extraction, walked alike by every check and by the writer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from seeds.spec import Cited, GraphSpec


def entity_sections(graph: GraphSpec) -> tuple[tuple[str, str, list[Any]], ...]:
    """Each section of entities: (its kind in messages, its GraphQL type, its items)."""
    return (
        ("company", "Company", graph.companies),
        ("person", "Person", graph.people),
        ("report", "Report", graph.reports),
        ("program", "Program", graph.programs),
        ("partner", "Partner", graph.partners),
        ("location", "Location", graph.locations),
        ("figure", "Figure", graph.figures),
        ("figure group", "FigureGroup", graph.figure_groups),
        ("figure pair", "FigurePair", [p for g in graph.figure_groups for p in g.pairs]),
        ("organization", "Organization", graph.organizations),
        ("statement", "Statement", graph.statements),
    )


@dataclass(frozen=True)
class LinkItem:
    """A cited link: its name in messages, its seed item and the slug of what it links to."""

    owner: str
    item: Cited
    target_kind: str
    target: str


def link_items(graph: GraphSpec) -> Iterable[LinkItem]:
    for person in graph.people:
        for location in person.locations:
            yield LinkItem(
                f"person {person.slug!r} -> location {location.location!r}",
                location,
                "location",
                location.location,
            )
    for program in graph.programs:
        for partner in program.partners:
            yield LinkItem(
                f"program {program.slug!r} -> partner {partner.partner!r}",
                partner,
                "partner",
                partner.partner,
            )
        for location in program.locations:
            yield LinkItem(
                f"program {program.slug!r} -> location {location.location!r}",
                location,
                "location",
                location.location,
            )
    for partner_spec in graph.partners:
        for location in partner_spec.locations:
            yield LinkItem(
                f"partner {partner_spec.slug!r} -> location {location.location!r}",
                location,
                "location",
                location.location,
            )
    for report in graph.reports:
        for highlight in report.highlights:
            yield LinkItem(
                f"report {report.slug!r} -> program {highlight.program!r}",
                highlight,
                "program",
                highlight.program,
            )
