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
    """A cited link: its name in messages, its seed item, and what it joins (each side's
    kind and slug; `attribute` is the owner's list the extraction writes it in)."""

    owner: str
    item: Cited
    owner_kind: str
    owner_slug: str
    attribute: str
    target_kind: str
    target: str


# Where the extraction writes links: (section, its items' kind, their list, the target kind).
LINKS = (
    ("people", "person", "locations", "location"),
    ("programs", "program", "partners", "partner"),
    ("programs", "program", "locations", "location"),
    ("partners", "partner", "locations", "location"),
    ("reports", "report", "highlights", "program"),
)


def link_items(graph: GraphSpec) -> Iterable[LinkItem]:
    for section, kind, attribute, target_kind in LINKS:
        for owner in getattr(graph, section):
            for link in getattr(owner, attribute):
                target = getattr(link, target_kind)
                yield LinkItem(
                    f"{kind} {owner.slug!r} -> {target_kind} {target!r}",
                    link,
                    kind,
                    owner.slug,
                    attribute,
                    target_kind,
                    target,
                )
