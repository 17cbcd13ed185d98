"""What each statement of the extraction rests on, checked before anything is written.

An INFERRED item must say why (`note`), a REFERENCE must name its source, a field basis must
name a field the API has; a link called STATED (a list's, or a single field's such as a
statement's person) must have a quote that names what it links to (and a list's link, what it
links from), by name, short name or alternative name; a field that names or quotes (a name, a
caption, a topic) must stand in one of the item's own quotes; and a figure's value must be a
number one of its quotes writes, qualified there as the figure is ("more than", "nearly", or
not at all). Whatever fails rests on something else, and must say so. The checks are
necessary, not sufficient: a quote can name a place and still not tie it to the item, which
is what the notes and a reviewer are for.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from db import mapping
from db.mapping import node_type
from db.provenance import BasisEntry, ItemProvenance
from seeds.errors import SeedError
from seeds.items import entity_sections, link_items
from seeds.numbers import Written, numbers_in
from seeds.spec import (
    BasisSpec,
    Cited,
    DocumentMeta,
    FigureSpec,
    GraphSpec,
    ProvenanceSpec,
    ReportSpec,
)
from semantics.names import API_NAMES

if TYPE_CHECKING:
    from seeds.read import SeedPlan


def _check_basis(spec: BasisSpec, where: str, source: str) -> None:
    if spec.basis is mapping.Basis.INFERRED and spec.note is None:
        raise SeedError(f"{source}: {where} is INFERRED without a note saying why")
    if spec.basis is mapping.Basis.REFERENCE and spec.source is None:
        raise SeedError(f"{source}: {where} is REFERENCE without naming its source")


def provenance_of(type_name: str | None, spec: ProvenanceSpec) -> ItemProvenance:
    """The store's provenance of an item of `type_name` (None: a link, which has no fields);
    field keys are read as the API names them (`country_code` is `countryCode`)."""
    fields = []
    for key, basis in spec.fields.items():
        name = API_NAMES.apply_naming_config(key)
        if type_name is None or name not in node_type(type_name).fields:
            raise KeyError(key)
        fields.append((name, BasisEntry(basis.basis.value, basis.note, basis.source)))
    return ItemProvenance(BasisEntry(spec.basis.value, spec.note, spec.source), tuple(fields))


# Fields that name or quote: their values must stand in one of the item's own quotes unless
# the field says it rests on something else (`provenance.fields`). By YAML key.
VERBATIM: dict[str, tuple[str, ...]] = {
    "Company": ("name", "alternative_names", "founded_year"),
    "Person": ("name", "title"),
    "Report": ("title", "topics", "year"),
    "Program": ("name", "launched_year", "month"),
    "Partner": ("name", "short_name", "alternative_names"),
    "Location": ("name", "alternative_names", "country_code"),
    "Figure": ("period_start_year", "period_end_year"),
    "Organization": ("name", "alternative_names", "address"),
    "Statement": ("medium",),
    "FigureGroup": ("title", "caption"),
}


@cache
def _field_links(type_name: str, spec: type[Cited]) -> tuple[tuple[str, str], ...]:
    """The single fields of `spec`'s items that link to another item, as the type map
    states them (`Reference`s): (YAML key, the target's type). A reference the extraction
    writes otherwise (a figure's pair: its group lists it) has no key here."""
    keys = {API_NAMES.apply_naming_config(key): key for key in spec.model_fields}
    return tuple(
        (keys[name], reference.target)
        for name, reference in node_type(type_name).fields.items()
        if isinstance(reference, mapping.Reference) and name in keys
    )


def check_documents(documents: Iterable[tuple[DocumentMeta, str]]) -> None:
    """A document's provenance (its publisher's basis), checked as an item's is; its title,
    publisher and date, where STATED, stand in its own text (a date as prose writes it),
    compared with their spacing and quotation marks made plain (a title may wrap a line)."""
    for meta, text in documents:
        where, source = f"document {meta.slug!r}", f"{meta.slug}.yaml"
        _check_item(where, "Document", meta.provenance, source)
        written = {"title": [meta.title], "publisher": [meta.publisher]}
        if meta.published_on is not None:
            written["published_on"] = _dates_as_written(meta.published_on)
        plain = _plain(text)
        for key, forms in written.items():
            if _stated(meta, key) and not any(_stands_in(plain, _plain(f)) for f in forms):
                raise SeedError(
                    f"{source}: {where} field {key!r}: {forms[0]!r} is not in its text; give "
                    "the field a basis (REFERENCE or INFERRED) that says where it comes from"
                )


def _stands_in(text: str, form: str) -> bool:
    """`_mentions`, but an ISO date may run on into a time ("2024-05-31T10:00")."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", form):
        return re.search(rf"(?<!\d){form}(?!\d)", text) is not None
    return _mentions(text, form)


_PLAIN_MARKS = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _plain(text: str) -> str:
    """Runs of white space (no-break spaces and line breaks too) as one space, and curly
    quotation marks as straight ones."""
    return " ".join(text.translate(_PLAIN_MARKS).split())


def _dates_as_written(day: dt.date) -> list[str]:
    """How prose writes the date: "May 31, 2024" (the form messages show), "May 31st, 2024",
    "31 May 2024", "the 31st of May, 2024", "May 03 2024", abbreviated months ("Aug. 1,
    2024", "Sept 3"), and ISO "2024-05-31"."""
    suffix = (
        "th" if day.day in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(day.day % 10, "th")
    )
    days = dict.fromkeys((str(day.day), f"{day.day:02d}", f"{day.day}{suffix}"))
    short = calendar.month_abbr[day.month]
    also = ("Sept", "Sept.") if day.month == 9 else ()
    months = dict.fromkeys((calendar.month_name[day.month], short, f"{short}.", *also))
    forms = [
        form
        for month in months
        for number in days
        for form in (
            f"{month} {number}, {day.year}",
            f"{month} {number} {day.year}",
            f"{number} {month} {day.year}",
            f"{number} {month}, {day.year}",
            f"{number} of {month} {day.year}",
            f"{number} of {month}, {day.year}",
        )
    ]
    return [*forms, day.isoformat()]


def check_provenance(graph: GraphSpec, source: str) -> None:
    names, quotes, inferred_names = _names(graph), _quotes(graph), _inferred_names(graph)
    sections = entity_sections(graph)
    kinds = {type_name: kind for kind, type_name, _ in sections}
    for kind, type_name, items in sections:
        for item in items:
            where = f"{kind} {item.slug!r}"
            _check_item(where, type_name, item.provenance, source)
            _check_verbatim(where, type_name, item, source)
            if isinstance(item, FigureSpec):
                _check_figure(where, item, source)
            for key, target_type in _field_links(type_name, item.__class__):
                target, target_kind = getattr(item, key), kinds[target_type]
                if target is not None and _stated(item, key):
                    _check_named(
                        f"{where} field {key!r}",
                        item.citations,
                        (names[target_kind][target], quotes[target_kind][target]),
                        target_kind,
                        source,
                        inferred_names,
                    )
    for link in link_items(graph):
        _check_item(link.owner, None, link.item.provenance, source)
        if link.item.provenance.basis is not mapping.Basis.STATED:
            continue
        # both ends: "She oversees teams in Miami" names the place, not whose teams they are
        ends = ((link.target_kind, link.target), (link.owner_kind, link.owner_slug))
        for kind, slug in ends:
            _check_named(
                link.owner,
                link.item.citations,
                (names[kind][slug], quotes[kind][slug]),
                kind,
                source,
                inferred_names,
            )


def _stated(item: Any, key: str) -> bool:
    """Whether the item's field `key` rests on its quotes."""
    return _basis(item, key) is mapping.Basis.STATED


def _basis(item: Any, key: str) -> mapping.Basis:
    """What the item's field `key` rests on: its own basis, or the item's."""
    spec: ProvenanceSpec = item.provenance
    field = spec.fields.get(key)
    return field.basis if field is not None else spec.basis


def _check_named(
    where: str,
    citations: list[Any],
    target: tuple[set[str], set[tuple[str, str]]],
    kind: str,
    source: str,
    inferred_names: frozenset[str],
) -> None:
    """A STATED link's quotes must name what it links to, not only within an INFERRED name
    (`_names_itself`); one to an item with no name, be (or hold, or lie within) one of that
    item's own quotes, the words that state it."""
    known, own_quotes = target
    if not known:
        if any(_same_words(c.document, c.quote, own_quotes) for c in citations):
            return
        raise SeedError(
            f"{source}: {where} is STATED, but the {kind} it links to has no name a quote "
            f"could give, and none of its quotes is one of the {kind}'s own; cite one that is, "
            "or mark it INFERRED with a note"
        )
    if not any(_names_itself(c.quote, name, inferred_names) for name in known for c in citations):
        raise SeedError(
            f"{source}: {where} is STATED, but none of its quotes names the {kind} (as "
            f"{' or '.join(map(repr, sorted(known)))}); cite a quote that does, or mark it "
            "INFERRED with a note"
        )


def _check_verbatim(where: str, type_name: str, item: Any, source: str) -> None:
    for key in VERBATIM.get(type_name, ()):
        value = getattr(item, key)
        values = [] if value is None else list(value) if isinstance(value, list) else [value]
        for text in (_as_written(key, v) for v in values):
            # a month by its name as a text writes it: "May", not the verb "may"
            exact = key == "month"
            if _stated(item, key) and not any(
                _mentions(c.quote, text, exact_case=exact) for c in item.citations
            ):
                raise SeedError(
                    f"{source}: {where} field {key!r}: {text!r} is in none of its quotes; "
                    "quote the words, or give the field a basis (REFERENCE or INFERRED)"
                )


def _check_figure(where: str, figure: FigureSpec, source: str) -> None:
    """A STATED value is a number a quote writes ("$30 million" for 30000000, "sixty" for 60);
    a STATED qualifier, or its absence (stated exactly), is how the words before it qualify it
    there. A value of 9,999,999 for "$2 million", or an exact 230 for "more than 230", fails."""
    if not _stated(figure, "value"):
        return
    value = Decimal(repr(figure.value))
    written = [n for c in figure.citations for n in numbers_in(c.quote) if n.value == value]
    shown = _as_number(value)
    if not written:
        raise SeedError(
            f"{source}: {where} field 'value': {shown} is written in none of its quotes; "
            "quote the words that give it, or give the field a basis (REFERENCE or INFERRED)"
        )
    if _stated(figure, "qualifier") and not any(n.qualifier == figure.qualifier for n in written):
        said = " or ".join(sorted({_qualified(n) for n in written}))
        raise SeedError(
            f"{source}: {where} field 'qualifier': its quotes give {shown} as {said}, not "
            f"{_qualified(Written(value, figure.qualifier))}; give the qualifier they give, "
            "or a basis (INFERRED with a note)"
        )


def _as_number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _qualified(number: Written) -> str:
    """`MORE_THAN 230`, `exactly 6500000`, or as a quote bounds it otherwise: `"fewer than" 30`."""
    match number.qualifier:
        case None:
            qualifier = "exactly"
        case mapping.FigureQualifier():
            qualifier = number.qualifier.value
        case phrase:
            qualifier = f'"{phrase}"'
    return f"{qualifier} {_as_number(number.value)}"


def _as_written(key: str, value: Any) -> str:
    """How a text would state the value: a month by its name, a year or code as it is."""
    return calendar.month_name[value] if key == "month" else str(value)


def _mentions(quote: str, name: str, *, exact_case: bool = False) -> bool:
    """Whether `name` stands in `quote` as words ("US" in "in the US", not in "focus"); an
    all-capitals name (an abbreviation), or one asked `exact_case`, only as written ("US",
    never "us")."""
    return next(_occurrences(quote, name, exact_case=exact_case), None) is not None


def _occurrences(quote: str, name: str, *, exact_case: bool = False) -> Iterator[re.Match[str]]:
    """Where `name` stands in `quote` as words (`_mentions`)."""
    pattern = rf"(?<!\w){re.escape(name)}(?!\w)"
    flags = 0 if exact_case or name.isupper() else re.IGNORECASE
    return re.finditer(pattern, quote, flags)


def _names_itself(quote: str, name: str, inferred_names: frozenset[str]) -> bool:
    """Whether `name` stands in `quote` as words other than inside a longer name the graph
    gives only by inference: "Sony Music" in "Sony Music Group Global Impact Report" stands in
    "Sony Music Group", which is taken as Sony Music's name only by inference. (A longer name
    stated, as "Ukraine and surrounding countries" is, still says "Ukraine".)"""
    longer = [
        other for other in inferred_names if len(other) > len(name) and _mentions(other, name)
    ]
    within = [m.span() for other in longer for m in _occurrences(quote, other)]
    return any(
        not any(start <= m.start() and m.end() <= end for start, end in within)
        for m in _occurrences(quote, name)
    )


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
    """Every name a link's target may be mentioned by, by kind and slug: its names but for
    those INFERRED ("Sony" is taken as Sony Music, so a quote that says "Sony" names Sony Music
    only by that inference; a name a reference gives, such as "US" for the United States by
    its ISO code, names it)."""
    return {
        kind: {item.slug: _names_of(item, inferred=False) for item in items}
        for kind, _, items in entity_sections(graph)
    }


def _inferred_names(graph: GraphSpec) -> frozenset[str]:
    """Every name an item of the graph has only by inference ("Sony Music Group")."""
    return frozenset(
        name
        for _, _, items in entity_sections(graph)
        for item in items
        for name in _names_of(item, inferred=True)
    )


def _names_of(item: Any, *, inferred: bool) -> set[str]:
    """The item's names (a report's title among them): those INFERRED, or the others."""
    titled = ("title",) if isinstance(item, ReportSpec) else ()
    found: list[str] = []
    for key in ("name", "short_name", "alternative_names", *titled):
        value = getattr(item, key, None)
        if value and (_basis(item, key) is mapping.Basis.INFERRED) == inferred:
            found += value if isinstance(value, list) else [value]
    return set(found)


def _same_words(document: str, quote: str, quotes: set[tuple[str, str]]) -> bool:
    return any(
        document == theirs and (quote in words or words in quote) for theirs, words in quotes
    )


def _quotes(graph: GraphSpec) -> dict[str, dict[str, set[tuple[str, str]]]]:
    """Every item's own quotes (document and words), by kind and slug."""

    def quotes_of(item: Any) -> set[tuple[str, str]]:
        return {(c.document, c.quote) for c in item.citations}

    return {
        kind: {item.slug: quotes_of(item) for item in items}
        for kind, _, items in entity_sections(graph)
    }


def check_statements(graph: GraphSpec, plan: SeedPlan, source: str) -> None:
    """A person's words are a quote: each statement's text lies within one of its citations."""
    for statement in graph.statements:
        if not any(statement.text in c.quote for c in plan.citations_of(statement)):
            raise SeedError(
                f"{source}: statement {statement.slug!r}: its text is not within any of its "
                f"quotes: {statement.text[:80]!r}"
            )
