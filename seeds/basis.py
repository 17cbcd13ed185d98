"""What each statement of the extraction rests on, checked before anything is written.

An INFERRED item must say why (`note`), a REFERENCE must name its source, a field basis must
name a field the API has, and a link called STATED must have a quote that names what it
links to (by name, short name or a declared alternative name): a link whose quotes never
mention its target rests on something else, and must say so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from strawberry.utils.str_converters import to_camel_case

from db.mapping import node_type
from db.provenance import Basis, Provenance
from seeds.errors import SeedError
from seeds.items import entity_sections, link_items
from seeds.spec import BasisSpec, GraphSpec, ProvenanceSpec

if TYPE_CHECKING:
    from seeds.read import SeedPlan


def _check_basis(spec: BasisSpec, where: str, source: str) -> None:
    if spec.basis == "INFERRED" and spec.note is None:
        raise SeedError(f"{source}: {where} is INFERRED without a note saying why")
    if spec.basis == "REFERENCE" and spec.source is None:
        raise SeedError(f"{source}: {where} is REFERENCE without naming its source")


def provenance_of(type_name: str | None, spec: ProvenanceSpec) -> Provenance:
    """The store's provenance of an item of `type_name` (None: a link, which has no fields);
    field keys are read as the API names them (`country_code` is `countryCode`)."""
    fields = []
    for key, basis in spec.fields.items():
        name = to_camel_case(key)
        if type_name is None or name not in node_type(type_name).fields:
            raise KeyError(key)
        fields.append((name, Basis(basis.basis.value, basis.note, basis.source)))
    return Provenance(Basis(spec.basis.value, spec.note, spec.source), tuple(fields))


def check_provenance(graph: GraphSpec, source: str) -> None:
    for kind, type_name, items in entity_sections(graph):
        for item in items:
            _check_item(f"{kind} {item.slug!r}", type_name, item.provenance, source)
    names = _names(graph)
    for link in link_items(graph):
        _check_item(link.owner, None, link.item.provenance, source)
        if link.item.provenance.basis != "STATED":
            continue
        known = names[link.target_kind][link.target]
        quotes = [c.quote.casefold() for c in link.item.citations]
        if not any(_mentions(quote, name) for name in known for quote in quotes):
            raise SeedError(
                f"{source}: {link.owner} is STATED, but none of its quotes names the "
                f"{link.target_kind} (as {' or '.join(map(repr, sorted(known))) or 'nothing'}); "
                "cite a quote that does, or mark the link INFERRED with a note"
            )


def _mentions(quote: str, name: str) -> bool:
    """Whether `name` stands in `quote` as words ("US" in "in the US", not in "focus")."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", quote) is not None


def _check_item(where: str, type_name: str | None, spec: ProvenanceSpec, source: str) -> None:
    _check_basis(spec, where, source)
    for key, basis in spec.fields.items():
        _check_basis(basis, f"{where} field {key!r}", source)
    try:
        provenance_of(type_name, spec)
    except KeyError as error:
        what = "a link has no fields" if type_name is None else "no such field"
        raise SeedError(
            f"{source}: {where} gives a basis for field {error.args[0]!r}: {what}"
        ) from None


def _names(graph: GraphSpec) -> dict[str, dict[str, set[str]]]:
    """Every name a link's target may be mentioned by, casefolded, by kind and slug."""

    def names_of(item: Any) -> set[str]:
        found: Iterable[str | None] = (
            getattr(item, "name", None),
            getattr(item, "short_name", None),
            *getattr(item, "alternative_names", ()),
        )
        return {name.casefold() for name in found if name}

    return {
        "location": {loc.slug: names_of(loc) for loc in graph.locations},
        "partner": {p.slug: names_of(p) for p in graph.partners},
        "program": {p.slug: names_of(p) for p in graph.programs},
    }


def check_statements(graph: GraphSpec, plan: SeedPlan, source: str) -> None:
    """A person's words are a quote: each statement's text lies within one of its citations."""
    for statement in graph.statements:
        if not any(statement.text in c.quote for c in plan.citations_of(statement)):
            raise SeedError(
                f"{source}: statement {statement.slug!r}: its text is not within any of its "
                f"quotes: {statement.text[:80]!r}"
            )
