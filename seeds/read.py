"""Read the seed files into one checked plan; any fault is a `SeedError` naming file and item.

Nothing here touches the store: a plan is either complete and consistent or not made at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from core.logs import validation_problems
from seeds.basis import check_documents, check_provenance, check_statements
from seeds.errors import SeedError
from seeds.items import entity_sections, link_items
from seeds.search_rows import passage_spans
from seeds.spec import MAX_TEXT_LENGTH, CitationSpec, Cited, DocumentMeta, GraphSpec, no_nul

__all__ = ["SeedError", "SeedPlan", "build_plan", "read_seeds"]

SEEDS_DIR = Path(__file__).resolve().parent
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class SeedDocument:
    meta: DocumentMeta
    text: str


@dataclass(frozen=True)
class LocatedCitation:
    document: str
    quote: str
    start: int
    end: int


@dataclass(frozen=True)
class SeedPlan:
    documents: dict[str, SeedDocument]
    graph: GraphSpec
    citations: dict[int, list[LocatedCitation]]
    """Located citations of every `Cited` item in `graph`, keyed by `id()` of that item."""

    def citations_of(self, item: Cited) -> list[LocatedCitation]:
        return self.citations[id(item)]


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping: PyYAML keeps the last, so
    a fact written twice would be silently dropped, as a misspelt key would be."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` may be overridden key by key, as YAML means it to
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
            except TypeError:
                pass  # an unhashable key: the safe loader's own error says so below
        return super().construct_mapping(node, deep=deep)


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """A date or time as the safe loader reads it; an impossible one (`2024-02-30`) an error
    at its place, where the loader raises a bare ValueError that names none."""
    assert isinstance(node, yaml.ScalarNode)
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError as error:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a date: {error}", node.start_mark
        ) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _parse_yaml(text: str, name: str) -> Any:
    """YAML's safe subset, its errors' positions naming the file (not "<unicode string>")."""
    loader = _UniqueKeyLoader(text)
    loader.name = name
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _load_yaml(path: Path) -> Any:
    try:
        return _parse_yaml(path.read_text(encoding="utf-8"), path.name)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SeedError(f"{path.name}: cannot read YAML: {exc}") from None
    except RecursionError:  # PyYAML composes nested collections by recursion
        raise SeedError(f"{path.name}: cannot read YAML: nested too deeply") from None


def _validate(model: type[M], data: Any, source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SeedError(f"{source}: {validation_problems(exc)}") from None


def _read_document(path: Path) -> str:
    """A document's text as its bytes say, line ends included: `read_text` would turn CRLF
    into LF, and every offset the API serves would then miss the file by one a line."""
    text = no_nul(path.read_bytes().decode("utf-8"))
    # each line is a passage the search index takes whole (a PostgreSQL tsvector holds 1 MB)
    longest = max((end - start for start, end in passage_spans(text)), default=0)
    if longest > MAX_TEXT_LENGTH:
        raise ValueError(f"a line of it is over {MAX_TEXT_LENGTH:,} characters ({longest:,})")
    return text


def read_documents(directory: Path) -> dict[str, SeedDocument]:
    if not directory.is_dir():
        raise SeedError(f"{directory}: no such folder")
    documents: dict[str, SeedDocument] = {}
    for meta_path in sorted(directory.glob("*.yaml")):
        meta = _validate(DocumentMeta, _load_yaml(meta_path), meta_path.name)
        if meta.slug != meta_path.stem:
            raise SeedError(f"{meta_path.name}: slug {meta.slug!r} differs from the file name")
        if meta.slug in documents:
            raise SeedError(f"{meta_path.name}: duplicate document slug {meta.slug!r}")
        text_path = directory / f"{meta.slug}.txt"
        try:
            text = _read_document(text_path)
        except (OSError, ValueError) as exc:  # (UnicodeDecodeError is a ValueError)
            raise SeedError(f"{meta_path.name}: cannot read {text_path.name}: {exc}") from None
        documents[meta.slug] = SeedDocument(meta, text)
    if not documents:
        raise SeedError(f"{directory.name}: no document metadata (*.yaml) found")
    return documents


def _slugs(kind: str, items: Iterable[Any], source: str) -> set[str]:
    seen: set[str] = set()
    for item in items:
        if item.slug in seen:
            raise SeedError(f"{source}: duplicate {kind} slug {item.slug!r}")
        seen.add(item.slug)
    return seen


def _check_references(graph: GraphSpec, source: str) -> None:
    known = {
        "company": _slugs("company", graph.companies, source),
        "person": _slugs("person", graph.people, source),
        "report": _slugs("report", graph.reports, source),
        "program": _slugs("program", graph.programs, source),
        "partner": _slugs("partner", graph.partners, source),
        "location": _slugs("location", graph.locations, source),
        "figure": _slugs("figure", graph.figures, source),
        "figure group": _slugs("figure group", graph.figure_groups, source),
        "figure pair": _slugs(
            "figure pair", (p for g in graph.figure_groups for p in g.pairs), source
        ),
        "organization": _slugs("organization", graph.organizations, source),
        "statement": _slugs("statement", graph.statements, source),
    }

    def need(kind: str, slug: str | None, owner: str) -> None:
        if slug is not None and slug not in known[kind]:
            raise SeedError(f"{source}: {owner} refers to unknown {kind} {slug!r}")

    for company in graph.companies:
        need("location", company.founded_in, f"company {company.slug!r}")
    for person in graph.people:
        need("company", person.company, f"person {person.slug!r}")
        for link in person.locations:
            need("location", link.location, f"person {person.slug!r}")
    for report in graph.reports:
        need("company", report.company, f"report {report.slug!r}")
        for program_link in report.highlights:
            need("program", program_link.program, f"report {report.slug!r}")
    for program in graph.programs:
        owner = f"program {program.slug!r}"
        need("company", program.company, owner)
        need("program", program.parent, owner)
        for partner_link in program.partners:
            need("partner", partner_link.partner, owner)
        for location_link in program.locations:
            need("location", location_link.location, owner)
    for partner in graph.partners:
        for link in partner.locations:
            need("location", link.location, f"partner {partner.slug!r}")
    for location in graph.locations:
        need("location", location.parent, f"location {location.slug!r}")
    for figure in graph.figures:
        owner = f"figure {figure.slug!r}"
        need("company", figure.company, owner)
        need("program", figure.program, owner)
        need("report", figure.report, owner)
    paired: dict[str, str] = {}
    for group in graph.figure_groups:
        owner = f"figure group {group.slug!r}"
        need("company", group.company, owner)
        need("report", group.report, owner)
        for pair in group.pairs:
            for figure_slug in pair.figures:
                need("figure", figure_slug, f"figure pair {pair.slug!r}")
                if figure_slug in paired:
                    raise SeedError(
                        f"{source}: figure {figure_slug!r} is in two pairs, "
                        f"{paired[figure_slug]!r} and {pair.slug!r}"
                    )
                paired[figure_slug] = pair.slug
    for organization in graph.organizations:
        owner = f"organization {organization.slug!r}"
        need("location", organization.location, owner)
        need("organization", organization.owner, owner)
    for statement in graph.statements:
        owner = f"statement {statement.slug!r}"
        need("person", statement.person, owner)
        need("report", statement.report, owner)
    _check_no_cycles("program", {p.slug: p.parent for p in graph.programs}, source)
    _check_no_cycles("organization", {o.slug: o.owner for o in graph.organizations}, source)
    _check_no_cycles("location", {loc.slug: loc.parent for loc in graph.locations}, source)
    _check_unique_links(graph, source)
    for program in graph.programs:
        if program.name is None and program.description is None:
            raise SeedError(
                f"{source}: program {program.slug!r} has neither a name nor a description; "
                "a client would have nothing to show"
            )


def _check_no_cycles(kind: str, parents: dict[str, str | None], source: str) -> None:
    for start in parents:
        seen = {start}
        node = parents[start]
        while node is not None:
            if node in seen:  # (in the cycle, where `start` may be only below it)
                raise SeedError(f"{source}: {kind} {node!r} is its own ancestor")
            seen.add(node)
            node = parents.get(node)


def _check_unique_links(graph: GraphSpec, source: str) -> None:
    owners: list[tuple[str, str, list[str]]] = []
    for person in graph.people:
        owners.append(("person", person.slug, [link.location for link in person.locations]))
    for program in graph.programs:
        owners.append(("program", program.slug, [link.partner for link in program.partners]))
        owners.append(("program", program.slug, [link.location for link in program.locations]))
    for partner in graph.partners:
        owners.append(("partner", partner.slug, [link.location for link in partner.locations]))
    for report in graph.reports:
        owners.append(("report", report.slug, [link.program for link in report.highlights]))
    for kind, slug, targets in owners:
        duplicates = sorted({t for t in targets if targets.count(t) > 1})
        if duplicates:
            raise SeedError(f"{source}: {kind} {slug!r} links {duplicates[0]!r} twice")


def locate(text: str, citation: CitationSpec) -> tuple[int, str] | None:
    """Start offset and text of the quote in the document (its `occurrence`-th match); None
    when absent or ambiguous. A line break in the quote matches the document's, `\n` or
    `\r\n`: YAML gives a quote only `\n`, and a document checked out with CRLFs keeps them
    (the span is then the document's own text)."""
    pattern = re.compile("\r?\n".join(re.escape(line) for line in citation.quote.split("\n")))
    found: list[tuple[int, str]] = []
    match = pattern.search(text)
    while match is not None:  # overlapping matches count, as in the text they overlap
        found.append((match.start(), match.group()))
        match = pattern.search(text, match.start() + 1)
    if citation.occurrence is None:
        return found[0] if len(found) == 1 else None
    return found[citation.occurrence - 1] if len(found) >= citation.occurrence else None


def _cited_items(graph: GraphSpec) -> Iterable[tuple[str, Cited]]:
    """Every cited entity and link, with a name for error messages."""
    for kind, _, items in entity_sections(graph):
        for item in items:
            yield f"{kind} {item.slug!r}", item
    for link in link_items(graph):
        yield link.owner, link.item


def _locate_all(
    graph: GraphSpec, documents: dict[str, SeedDocument], source: str
) -> dict[int, list[LocatedCitation]]:
    located: dict[int, list[LocatedCitation]] = {}
    for owner, item in _cited_items(graph):
        found: list[LocatedCitation] = []
        for citation in item.citations:
            document = documents.get(citation.document)
            if document is None:
                raise SeedError(f"{source}: {owner} cites unknown document {citation.document!r}")
            located_at = locate(document.text, citation)
            if located_at is None:
                raise SeedError(
                    f"{source}: {owner}: quote not found verbatim (exactly once, or at the "
                    f"given occurrence) in {citation.document}.txt: {citation.quote!r}"
                )
            start, quote = located_at
            span = LocatedCitation(citation.document, quote, start, start + len(quote))
            if span in found:
                raise SeedError(f"{source}: {owner} cites the same span twice: {citation.quote!r}")
            found.append(span)
        located[id(item)] = found
    return located


def read_seeds(directory: Path = SEEDS_DIR) -> SeedPlan:
    """Read `documents/` and `graph.yaml` under `directory` and check them whole."""
    documents = read_documents(directory / "documents")
    graph_path = directory / "graph.yaml"
    return build_plan(documents, _load_yaml(graph_path), graph_path.name)


def build_plan(documents: dict[str, SeedDocument], data: Any, source: str) -> SeedPlan:
    """Check raw extraction data (as YAML parses it) against `documents` and locate quotes."""
    graph = _validate(GraphSpec, data, source)
    _check_references(graph, source)
    publishers: dict[str, str] = {}  # a document's one publisher
    for organization in graph.organizations:
        for slug in organization.documents:
            if slug not in documents:
                raise SeedError(
                    f"{source}: organization {organization.slug!r} refers to unknown "
                    f"document {slug!r}"
                )
            if slug in publishers:
                raise SeedError(
                    f"{source}: document {slug!r} is listed by organizations "
                    f"{publishers[slug]!r} and {organization.slug!r}; a document has one "
                    "publisher"
                )
            publishers[slug] = organization.slug
    check_documents((d.meta, d.text) for d in documents.values())
    plan = SeedPlan(documents, graph, _locate_all(graph, documents, source))
    check_provenance(graph, source)  # once every quote is known to be in its document
    check_statements(graph, plan, source)
    return plan
