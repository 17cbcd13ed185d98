"""The type map: what every GraphQL type, field and edge means in the store, stated once.

Each type lists its fields by GraphQL name: a column (and the enum its text names), the
global ID, a single link through a foreign key, a list through a foreign key or a link table,
citations, or a computed field, each with what it costs. Filters take the table (or alias) they
apply to, so one statement can nest the same table several times. `schema/` builds its objects
from rows with it, the loaders build their SQL from it, the cost estimate prices fields with it
and the compiler reads the same entries; `tests/test_type_map.py` pairs it with the schema field
by field. A wrong name here fails when this module is imported. Nothing here runs a query.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Self

from sqlalchemy import ColumnElement, FromClause, Select, and_, exists, false, select
from sqlmodel import SQLModel

from db.models import (
    Citation,
    Company,
    Document,
    Figure,
    FigureGroup,
    FigurePair,
    Location,
    Organization,
    Partner,
    PartnerLocation,
    Passage,
    Person,
    PersonLocation,
    Program,
    ProgramLocation,
    ProgramPartner,
    Report,
    ReportProgram,
    Statement,
)

Column = Any  # an InstrumentedAttribute; SQLModel types it as the column's value
Condition = ColumnElement[bool]

# What a `citations` list (not paged) counts where the store has not recorded the most
# citations one row has (db/state.py): no object in the seed data has more than 4.
CITATIONS_ESTIMATE = 5


def table_of(model: type[SQLModel]) -> FromClause:
    table: FromClause = model.__table__  # type: ignore[attr-defined]
    return table


def table_name(model: type[SQLModel]) -> str:
    return str(model.__tablename__)


# The closed sets of the contract: the GraphQL enums whose members a column keeps, by name
# (so a member must not be renamed). Each is stated here once: schema/enums.py makes the
# GraphQL enum of it (the class's docstring describes the enum, each member's `description`
# the value) and seeds/spec.py reads the seed files against it.


class Vocabulary(enum.StrEnum):
    """A closed set whose members are their names, each with what it means."""

    _value_: str
    description: str

    def __new__(cls, value: str, description: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member


class ProgramKind(Vocabulary):
    """What sort of undertaking a program is."""

    FRAMEWORK = "FRAMEWORK", "A strategic framework."
    FUND = "FUND", "A fund that supports partner organisations."
    PROGRAM = "PROGRAM", "An internal program."
    BENEFIT = "BENEFIT", "A benefit offered to employees."
    ARTIST_SUPPORT = "ARTIST_SUPPORT", "Support offered to artists and songwriters."
    PHILANTHROPY = "PHILANTHROPY", "A philanthropic initiative or commitment."
    PARTNER_PROJECT = (
        "PARTNER_PROJECT",
        "A partner organisation's own project the company supports.",
    )
    CAMPAIGN = "CAMPAIGN", "A theme, observance or campaign the company runs."


class LocationKind(Vocabulary):
    """What sort of place a location is."""

    COUNTRY = "COUNTRY", "A country."
    REGION = "REGION", "A region spanning or within countries."
    CITY = "CITY", "A city or town."


class FigureKind(Vocabulary):
    """Whether a figure is an amount of money or a count of things."""

    MONEY = "MONEY", "An amount in the currency `unit` names."
    COUNT = "COUNT", "A number of the things `unit` names."


class FigureQualifier(Vocabulary):
    """How the source qualifies a figure; absent when stated exactly."""

    MORE_THAN = "MORE_THAN", '"more than" the value.'
    NEARLY = "NEARLY", '"nearly" the value.'


class Basis(Vocabulary):
    """What a statement of the graph rests on."""

    STATED = "STATED", "A quote from the documents states it (see `citations`)."
    REFERENCE = (
        "REFERENCE",
        "A named reference source (`source`): ISO 3166-1 for a country code, a "
        "gazetteer for a city's country.",
    )
    INFERRED = (
        "INFERRED",
        "An editorial inference from the quotes (`citations`); `note` gives the reasoning.",
    )


# What a field is. Each kind says what it costs (`cost`): the price of each object the field
# makes the store fetch, which the estimate (operation/cost.py) multiplies by how many it may
# fetch: a list's items, a search's hits, `nodes`' IDs, a `citations` list's quotes; one
# otherwise. The actual cost both executors count (`extensions.cost.actual`) counts one for
# each object fetched: every price is one object, or none for a field that reads nothing more
# (tests/test_cost.py holds them to that), so the two are in the same unit.


@dataclass(frozen=True, eq=False)
class Scalar:
    """A value stored in a column; `enum` is the closed set whose members it stores."""

    column: Column
    enum: type[Vocabulary] | None = None
    cost = 0

    @property
    def name(self) -> str:
        return str(self.column.key)


@dataclass(frozen=True, eq=False)
class Names:
    """A list of strings (alternative names, topics) kept as a JSON array in `column`."""

    column: Column
    cost = 0

    @property
    def name(self) -> str:
        return str(self.column.key)


@dataclass(frozen=True)
class ProvenanceOf:
    """What the row rests on, read from its `provenance` column (db/provenance.py); on an
    edge, what the relation rests on."""

    cost = 0


@dataclass(frozen=True)
class GlobalId:
    """The Relay `id`: base64 of `Type:slug`, so it survives reseeding and moving stores."""

    cost = 0


@dataclass(frozen=True, eq=False)
class Reference:
    """One object: the `target` row whose id is the source row's `foreign_key`."""

    target: str
    foreign_key: Column
    cost = 1

    @property
    def attribute(self) -> str:
        return str(self.foreign_key.key)

    @property
    def nullable(self) -> bool:
        return bool(self.foreign_key.nullable)


@dataclass(frozen=True, eq=False)
class Link:
    """A link table: `parent_key` points at the list's parent, `target_key` at its items.

    Its rows are what the relation's citations cite.
    """

    model: type[SQLModel]
    parent_key: Column
    target_key: Column

    @property
    def subject(self) -> str:
        return table_name(self.model)


@dataclass(frozen=True, eq=False)
class ListEdge:
    """A cursor connection of `target` items, priced per item: its page size, at most the
    most items one parent has in this list in the store (db/state.py).

    A root list has no `parent_key`; an edge's items are the `target` rows whose
    `parent_key` (on the target, or on the `link` table) is the parent's id.
    """

    target: str
    default_order: str
    parent_key: Column | None = None
    link: Link | None = None
    cost = 1  # per item

    @property
    def is_root(self) -> bool:
        return self.parent_key is None and self.link is None

    @property
    def nullable(self) -> bool:
        """A nested list is nullable: a bad argument nulls that list alone, with its error at
        its path, and the parent keeps its other fields. A root list's error is the request's."""
        return not self.is_root

    @property
    def parent_column(self) -> Column:
        key = self.link.parent_key if self.link is not None else self.parent_key
        assert key is not None, "a root list has no parent"
        return key


@dataclass(frozen=True)
class Citations:
    """The quotes that state a row (or, on an edge, the relation), in extraction order,
    priced per quote. Not paged: a list counts the most quotes one row (or relation) has in
    the store (db/state.py), `estimate` where the store recorded none."""

    estimate = CITATIONS_ESTIMATE  # quotes in a list where the store recorded no size
    cost = 1  # per quote


@dataclass(frozen=True)
class QuoteContext:
    """A citation's quote in its document's text: reads the document (one object), at most
    `max_characters` of it on each side."""

    max_characters: int = 2000
    cost = 1


# Characters of the document's text a W3C TextQuoteSelector keeps on each side of its quote
# (fewer at the document's start or end), as the Hypothesis client keeps: enough to find the
# quote again in an edited copy.
SELECTOR_CONTEXT = 32


@dataclass(frozen=True)
class TextQuoteSelector:
    """A citation as a W3C Web Annotation TextQuoteSelector: its QuoteContext at a fixed
    width under the W3C's names (`parts`: each W3C field and the context's field it shows);
    reads the document (one object). `w3c_type` is its `type`, and its GraphQL type's name."""

    characters: int = SELECTOR_CONTEXT
    w3c_type = "TextQuoteSelector"
    parts = (("exact", "quote"), ("prefix", "before"), ("suffix", "after"))
    cost = 1


@dataclass(frozen=True, eq=False)
class TextPositionSelector:
    """A citation as a W3C TextPositionSelector: its fields show columns of the citation's own
    row (`columns`: each W3C field and its column); reads nothing more."""

    columns: tuple[tuple[str, Column], ...]
    w3c_type = "TextPositionSelector"
    cost = 0


@dataclass(frozen=True)
class BySlug:
    """A root lookup: the `target` row with this slug, or null."""

    target: str
    cost = 1


@dataclass(frozen=True)
class NodeById:
    """`node(id:)`: whatever a global ID names."""

    cost = 1


@dataclass(frozen=True)
class NodesByIds:
    """`nodes(ids:)`: one object per ID, priced per ID."""

    max_ids: int = 100
    cost = 1  # per ID


@dataclass(frozen=True)
class Search:
    """`search(query:)`: ranked hits over every searchable object and passage, priced per
    hit as a list item is (its page size, at most as many objects as the store can find:
    db/state.py records them). A longer query text is refused."""

    max_length: int = 200
    cost = 1  # per hit


FieldSpec = (
    Scalar
    | Names
    | ProvenanceOf
    | GlobalId
    | Reference
    | ListEdge
    | Citations
    | QuoteContext
    | TextQuoteSelector
    | TextPositionSelector
    | BySlug
    | NodeById
    | NodesByIds
    | Search
)

# What a match in a field scores (db/search.py): names above descriptions above passages.
NAME_WEIGHT = 4
DESCRIPTION_WEIGHT = 2
TEXT_WEIGHT = 1


@dataclass(frozen=True)
class Searched:
    """A field `search` reads: its GraphQL name, what a match in it scores, and whether a
    misspelt query still finds it (`fuzzy`: names, by trigram similarity)."""

    field: str
    weight: int
    fuzzy: bool = False


def _names(*fields: str) -> tuple[Searched, ...]:
    return tuple(Searched(name, NAME_WEIGHT, fuzzy=True) for name in fields)


def _described(*fields: str) -> tuple[Searched, ...]:
    return tuple(Searched(name, DESCRIPTION_WEIGHT) for name in fields)


@dataclass(frozen=True)
class Filters:
    """How a list of this type is filtered; each takes the table (or alias) it applies to.

    `search` is matched against the row's `search_text` (casefolded at seed time from
    the entity's `search_fields`); `kind` and `country` say what those filters mean here,
    and `kind_argument` what a client calls the kind filter (a partner's is its programs').
    """

    search: bool = False
    kind: Callable[[FromClause, tuple[Any, ...]], Condition] | None = None
    kind_argument: str = "kind"
    country: Callable[[FromClause, Any], Condition] | None = None


@dataclass(frozen=True)
class FilterArguments:
    """The fields of a list's `filter` argument, as the API names them; None where a list of
    this type offers no such filter. The schema's filter inputs offer exactly these (a test
    pairs them), and both executors read a filter by these names."""

    search: str | None
    kind: str | None
    country: str | None
    stated_only: str | None

    def names(self) -> tuple[str, ...]:
        given = (self.search, self.kind, self.country, self.stated_only)
        return tuple(name for name in given if name is not None)


@dataclass(frozen=True)
class NodeType:
    """A GraphQL object type backed by a table: its fields, orders and filters.

    `name_field` feeds the table's `sort_key` and `search_fields` its `search_text`
    (db/keys.py), which list filters match; `searched` are the fields `search` finds it by.
    `cited` types have citations whose subject is the table's name, and a provenance: their
    lists can keep stated items only (`statedOnly`).
    """

    name: str
    model: type[SQLModel]
    fields: Mapping[str, FieldSpec]
    order: Mapping[str, Column] = field(default_factory=dict)
    filters: Filters = Filters()
    name_field: str | None = None
    search_fields: tuple[str, ...] = ()
    searched: tuple[Searched, ...] = ()
    cited: bool = True

    @property
    def table(self) -> FromClause:
        return table_of(self.model)

    @property
    def subject(self) -> str:
        """What citations of this type's rows name as their subject."""
        return table_name(self.model)

    def scalars(self) -> Iterator[tuple[str, Scalar]]:
        return ((name, spec) for name, spec in self.fields.items() if isinstance(spec, Scalar))

    def columns(self) -> Iterator[Column]:
        """Every column the type's fields show (its scalars', its lists of names', its
        position selectors')."""
        for spec in self.fields.values():
            if isinstance(spec, Scalar | Names):
                yield spec.column
            elif isinstance(spec, TextPositionSelector):
                yield from (column for _, column in spec.columns)

    def edges(self) -> Iterator[tuple[str, ListEdge]]:
        return ((name, spec) for name, spec in self.fields.items() if isinstance(spec, ListEdge))

    @property
    def has_provenance(self) -> bool:
        return isinstance(self.fields.get("provenance"), ProvenanceOf)

    def names(self) -> Iterator[tuple[str, Names]]:
        return ((name, spec) for name, spec in self.fields.items() if isinstance(spec, Names))

    @cached_property
    def filter_arguments(self) -> FilterArguments:
        """What its lists' filters are called: the search by the field that names an item
        (`nameContains`, a report's `titleContains`)."""
        filters = self.filters
        return FilterArguments(
            search=f"{self.name_field}Contains" if filters.search else None,
            kind=filters.kind_argument if filters.kind is not None else None,
            country="countryCode" if filters.country is not None else None,
            stated_only="statedOnly" if self.cited else None,
        )

    def searched_column(self, searched: Searched) -> str:
        """The column holding a searched field's value (a list of names is JSON text)."""
        spec = self.fields[searched.field]
        assert isinstance(spec, Scalar | Names), f"{self.name}.{searched.field} is not stored"
        return spec.name


@dataclass(frozen=True)
class RootType:
    """The Query type: lookups, node refetches and root lists."""

    name: str
    fields: Mapping[str, FieldSpec]


# Filters. `table` is the list's own table or an alias of it; subqueries alias their tables
# anew, so the same table may appear at several levels of one statement.


def related_exists(
    table: FromClause,
    link: Link,
    target: type[SQLModel],
    condition: Callable[[FromClause], Condition],
) -> Condition:
    """EXISTS(a `target` row linked to `table`'s row through `link` satisfies `condition`)."""
    link_table = table_of(link.model).alias()
    target_table = table_of(target).alias()
    query = (
        select(1)
        .select_from(
            link_table.join(target_table, link_table.c[link.target_key.key] == target_table.c.id)
        )
        .where(link_table.c[link.parent_key.key] == table.c.id, condition(target_table))
    )
    return exists(query.correlate(table))


def _in_country(link: Link) -> Callable[[FromClause, Any], Condition]:
    def condition(table: FromClause, code: Any) -> Condition:
        return related_exists(table, link, Location, lambda places: places.c.country_code == code)

    return condition


def _of_kind(table: FromClause, kinds: tuple[Any, ...]) -> Condition:
    """`kinds` are bound parameters (db/queries.py binds one per kind, so a statement serves
    every filter with as many kinds)."""
    return table.c.kind.in_(list(kinds)) if kinds else false()


PROGRAM_PARTNERS = Link(ProgramPartner, ProgramPartner.program_id, ProgramPartner.partner_id)
PARTNER_PROGRAMS = Link(ProgramPartner, ProgramPartner.partner_id, ProgramPartner.program_id)
PROGRAM_LOCATIONS = Link(ProgramLocation, ProgramLocation.program_id, ProgramLocation.location_id)
LOCATION_PROGRAMS = Link(ProgramLocation, ProgramLocation.location_id, ProgramLocation.program_id)
PARTNER_LOCATIONS = Link(PartnerLocation, PartnerLocation.partner_id, PartnerLocation.location_id)
LOCATION_PARTNERS = Link(PartnerLocation, PartnerLocation.location_id, PartnerLocation.partner_id)
PERSON_LOCATIONS = Link(PersonLocation, PersonLocation.person_id, PersonLocation.location_id)
LOCATION_PEOPLE = Link(PersonLocation, PersonLocation.location_id, PersonLocation.person_id)
REPORT_PROGRAMS = Link(ReportProgram, ReportProgram.report_id, ReportProgram.program_id)
PROGRAM_REPORTS = Link(ReportProgram, ReportProgram.program_id, ReportProgram.report_id)


def _partners_with_program_kind(table: FromClause, kinds: tuple[Any, ...]) -> Condition:
    return related_exists(
        table, PARTNER_PROGRAMS, Program, lambda programs: _of_kind(programs, kinds)
    )


def _location_in_country(table: FromClause, code: Any) -> Condition:
    condition: Condition = table.c.country_code == code
    return condition


CITED = Citations()
ID = GlobalId()
PROVENANCE = ProvenanceOf()
QUOTE_SELECTOR = TextQuoteSelector()
POSITION_SELECTOR = TextPositionSelector((("start", Citation.start), ("end", Citation.end)))

TYPES: dict[str, NodeType] = {
    t.name: t
    for t in (
        NodeType(
            "Company",
            Company,
            {
                "id": ID,
                "slug": Scalar(Company.slug),
                "name": Scalar(Company.name),
                "alternativeNames": Names(Company.alternative_names),
                "description": Scalar(Company.description),
                "foundedYear": Scalar(Company.founded_year),
                "foundedIn": Reference("Location", Company.founded_in_id),
                "programs": ListEdge("Program", "NAME", Program.company_id),
                "people": ListEdge("Person", "NAME", Person.company_id),
                "reports": ListEdge("Report", "TITLE", Report.company_id),
                "figures": ListEdge("Figure", "SLUG", Figure.company_id),
                "figureGroups": ListEdge("FigureGroup", "SLUG", FigureGroup.company_id),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={
                "NAME": Company.sort_key,
                "SLUG": Company.slug,
                "FOUNDED_YEAR": Company.founded_year,
            },
            filters=Filters(search=True),
            name_field="name",
            search_fields=("name", "alternative_names"),
            searched=(*_names("name", "alternativeNames"), *_described("description")),
        ),
        NodeType(
            "Person",
            Person,
            {
                "id": ID,
                "slug": Scalar(Person.slug),
                "name": Scalar(Person.name),
                "title": Scalar(Person.title),
                "company": Reference("Company", Person.company_id),
                "locations": ListEdge("Location", "NAME", link=PERSON_LOCATIONS),
                "statements": ListEdge("Statement", "SLUG", Statement.person_id),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={"NAME": Person.sort_key, "SLUG": Person.slug},
            filters=Filters(search=True),
            name_field="name",
            search_fields=("name",),
            searched=(*_names("name"), *_described("title")),
        ),
        NodeType(
            "Report",
            Report,
            {
                "id": ID,
                "slug": Scalar(Report.slug),
                "title": Scalar(Report.title),
                "year": Scalar(Report.year),
                "topics": Names(Report.topics),
                "company": Reference("Company", Report.company_id),
                "figures": ListEdge("Figure", "SLUG", Figure.report_id),
                "figureGroups": ListEdge("FigureGroup", "SLUG", FigureGroup.report_id),
                "highlights": ListEdge("Program", "NAME", link=REPORT_PROGRAMS),
                "statements": ListEdge("Statement", "SLUG", Statement.report_id),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={"TITLE": Report.sort_key, "SLUG": Report.slug, "YEAR": Report.year},
            filters=Filters(search=True),
            name_field="title",
            search_fields=("title",),
            searched=_names("title"),
        ),
        NodeType(
            "Program",
            Program,
            {
                "id": ID,
                "slug": Scalar(Program.slug),
                "name": Scalar(Program.name),
                "kind": Scalar(Program.kind, enum=ProgramKind),
                "description": Scalar(Program.description),
                "launchedYear": Scalar(Program.launched_year),
                "month": Scalar(Program.month),
                "company": Reference("Company", Program.company_id),
                "parent": Reference("Program", Program.parent_id),
                "subPrograms": ListEdge("Program", "NAME", Program.parent_id),
                "partners": ListEdge("Partner", "NAME", link=PROGRAM_PARTNERS),
                "locations": ListEdge("Location", "NAME", link=PROGRAM_LOCATIONS),
                "figures": ListEdge("Figure", "SLUG", Figure.program_id),
                "highlightedIn": ListEdge("Report", "TITLE", link=PROGRAM_REPORTS),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={
                "NAME": Program.sort_key,
                "SLUG": Program.slug,
                "LAUNCHED_YEAR": Program.launched_year,
            },
            filters=Filters(search=True, kind=_of_kind, country=_in_country(PROGRAM_LOCATIONS)),
            name_field="name",
            search_fields=("name", "description"),
            searched=(*_names("name"), *_described("description")),
        ),
        NodeType(
            "Partner",
            Partner,
            {
                "id": ID,
                "slug": Scalar(Partner.slug),
                "name": Scalar(Partner.name),
                "shortName": Scalar(Partner.short_name),
                "alternativeNames": Names(Partner.alternative_names),
                "description": Scalar(Partner.description),
                "programs": ListEdge("Program", "NAME", link=PARTNER_PROGRAMS),
                "locations": ListEdge("Location", "NAME", link=PARTNER_LOCATIONS),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={"NAME": Partner.sort_key, "SLUG": Partner.slug},
            filters=Filters(
                search=True,
                kind=_partners_with_program_kind,
                kind_argument="programKind",
                country=_in_country(PARTNER_LOCATIONS),
            ),
            name_field="name",
            search_fields=("name", "short_name", "alternative_names"),
            searched=(*_names("name", "shortName", "alternativeNames"), *_described("description")),
        ),
        NodeType(
            "Location",
            Location,
            {
                "id": ID,
                "slug": Scalar(Location.slug),
                "name": Scalar(Location.name),
                "alternativeNames": Names(Location.alternative_names),
                "kind": Scalar(Location.kind, enum=LocationKind),
                "countryCode": Scalar(Location.country_code),
                "parent": Reference("Location", Location.parent_id),
                "children": ListEdge("Location", "NAME", Location.parent_id),
                "partners": ListEdge("Partner", "NAME", link=LOCATION_PARTNERS),
                "programs": ListEdge("Program", "NAME", link=LOCATION_PROGRAMS),
                "people": ListEdge("Person", "NAME", link=LOCATION_PEOPLE),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={
                "NAME": Location.sort_key,
                "SLUG": Location.slug,
                "COUNTRY_CODE": Location.country_code,
            },
            filters=Filters(search=True, kind=_of_kind, country=_location_in_country),
            name_field="name",
            search_fields=("name", "alternative_names"),
            searched=_names("name", "alternativeNames"),
        ),
        NodeType(
            "Figure",
            Figure,
            {
                "id": ID,
                "slug": Scalar(Figure.slug),
                "label": Scalar(Figure.label),
                "kind": Scalar(Figure.kind, enum=FigureKind),
                "value": Scalar(Figure.value),
                "unit": Scalar(Figure.unit),
                "qualifier": Scalar(Figure.qualifier, enum=FigureQualifier),
                "periodStartYear": Scalar(Figure.period_start_year),
                "periodEndYear": Scalar(Figure.period_end_year),
                "company": Reference("Company", Figure.company_id),
                "program": Reference("Program", Figure.program_id),
                "report": Reference("Report", Figure.report_id),
                "pair": Reference("FigurePair", Figure.pair_id),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={
                "SLUG": Figure.slug,
                "VALUE": Figure.value,
                "PERIOD_START_YEAR": Figure.period_start_year,
            },
        ),
        NodeType(
            "Document",
            Document,
            {
                "id": ID,
                "slug": Scalar(Document.slug),
                "title": Scalar(Document.title),
                "publisher": Scalar(Document.publisher),
                "publishedOn": Scalar(Document.published_on),
                "text": Scalar(Document.text),
                "publishedBy": Reference("Organization", Document.publisher_id),
                "provenance": PROVENANCE,
            },
            order={
                "TITLE": Document.sort_key,
                "SLUG": Document.slug,
                "PUBLISHED_ON": Document.published_on,
            },
            filters=Filters(search=True),
            name_field="title",
            search_fields=("title",),
            searched=_names("title"),
            cited=False,
        ),
        NodeType(
            "Organization",
            Organization,
            {
                "id": ID,
                "slug": Scalar(Organization.slug),
                "name": Scalar(Organization.name),
                "alternativeNames": Names(Organization.alternative_names),
                "description": Scalar(Organization.description),
                "address": Scalar(Organization.address),
                "location": Reference("Location", Organization.location_id),
                "owner": Reference("Organization", Organization.owner_id),
                "owns": ListEdge("Organization", "NAME", Organization.owner_id),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={"NAME": Organization.sort_key, "SLUG": Organization.slug},
            filters=Filters(search=True),
            name_field="name",
            search_fields=("name", "alternative_names"),
            searched=(*_names("name", "alternativeNames"), *_described("description")),
        ),
        NodeType(
            "Statement",
            Statement,
            {
                "id": ID,
                "slug": Scalar(Statement.slug),
                "text": Scalar(Statement.text),
                "medium": Scalar(Statement.medium),
                "person": Reference("Person", Statement.person_id),
                "report": Reference("Report", Statement.report_id),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={"SLUG": Statement.slug},
        ),
        NodeType(
            "FigureGroup",
            FigureGroup,
            {
                "id": ID,
                "slug": Scalar(FigureGroup.slug),
                "title": Scalar(FigureGroup.title),
                "caption": Scalar(FigureGroup.caption),
                "company": Reference("Company", FigureGroup.company_id),
                "report": Reference("Report", FigureGroup.report_id),
                "pairs": ListEdge("FigurePair", "POSITION", FigurePair.group_id),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={"SLUG": FigureGroup.slug},
        ),
        NodeType(
            "FigurePair",
            FigurePair,
            {
                "id": ID,
                "slug": Scalar(FigurePair.slug),
                "position": Scalar(FigurePair.position),
                "group": Reference("FigureGroup", FigurePair.group_id),
                "figures": ListEdge("Figure", "SLUG", Figure.pair_id),
                "citations": CITED,
                "provenance": PROVENANCE,
            },
            order={"POSITION": FigurePair.position, "SLUG": FigurePair.slug},
        ),
    )
}

# A quote is a node keyed by its span (db/keys.citation_slug), read from its own table; it
# has no root list or lookup by slug and is cited by nothing.
CITATION = NodeType(
    "Citation",
    Citation,
    {
        "id": ID,
        "quote": Scalar(Citation.quote),
        "start": Scalar(Citation.start),
        "end": Scalar(Citation.end),
        "document": Reference("Document", Citation.document_id),
        "context": QuoteContext(),
        "textQuoteSelector": QUOTE_SELECTOR,
        "textPositionSelector": POSITION_SELECTOR,
    },
    cited=False,
)

CITATION_ORDER = ("position", "id")
"""A subject's citations in the order they were extracted (`position`; `id` breaks a tie)."""


def citation_subject(citations: FromClause) -> tuple[Column, Column]:
    """What a citation cites, as columns of `citations` (the table or an alias): the table
    its subject row is in (a type's `NodeType.subject`, a relation's `Link.subject`) and that
    row's id."""
    return citations.c.subject_type, citations.c.subject_id


def citing(citations: FromClause, subject: Any, row_id: Any) -> Condition:
    """The citations of a row of the table `subject` names: `row_id` is its id (a value, or a
    column of the query the condition is correlated with), or a select of ids (the rows'
    citations)."""
    subject_type, subject_id = citation_subject(citations)
    row = subject_id.in_(row_id) if isinstance(row_id, Select) else subject_id == row_id
    return and_(subject_type == subject, row)


def citation_order(citations: FromClause) -> list[Column]:
    """`CITATION_ORDER`'s columns of `citations` (the table or an alias)."""
    return [citations.c[name] for name in CITATION_ORDER]


# A paragraph of a document, keyed by its span (db/keys.passage_slug); search finds it by
# its text. Like a quote it has no root list or lookup by slug.
PASSAGE = NodeType(
    "Passage",
    Passage,
    {
        "id": ID,
        "document": Reference("Document", Passage.document_id),
        "start": Scalar(Passage.start),
        "end": Scalar(Passage.end),
        "text": Scalar(Passage.text),
    },
    searched=(Searched("text", TEXT_WEIGHT),),
    cited=False,
)

_ROOT_LISTS = {
    "companies": "Company",
    "people": "Person",
    "reports": "Report",
    "programs": "Program",
    "partners": "Partner",
    "locations": "Location",
    "figures": "Figure",
    "documents": "Document",
    "organizations": "Organization",
    "statements": "Statement",
    "figureGroups": "FigureGroup",
    "figurePairs": "FigurePair",
}
_DEFAULT_ORDER = {
    "Report": "TITLE",
    "Document": "TITLE",
    "Figure": "SLUG",
    "Statement": "SLUG",
    "FigureGroup": "SLUG",
    "FigurePair": "SLUG",
}

QUERY = RootType(
    "Query",
    {
        "node": NodeById(),
        "nodes": NodesByIds(),
        "search": Search(),
        **{name[0].lower() + name[1:]: BySlug(name) for name in TYPES},
        **{
            field_name: ListEdge(target, _DEFAULT_ORDER.get(target, "NAME"))
            for field_name, target in _ROOT_LISTS.items()
        },
    },
)

# The fields of every connection's edges. Their cost is their items', counted once by the
# connection; an edge's `citations` cite the relation (none on a list without a link).
EDGE_FIELDS = frozenset({"cursor", "node", "citations", "provenance"})


REFETCHABLE: dict[str, NodeType] = {**TYPES, CITATION.name: CITATION, PASSAGE.name: PASSAGE}
"""Every type `node(id:)` refetches, by name."""


def node_type(name: str) -> NodeType:
    """The type of that name (a node type, Citation or Passage); KeyError names an unknown one."""
    return REFETCHABLE[name]


SEARCHABLE: dict[str, NodeType] = {t.name: t for t in REFETCHABLE.values() if t.searched}
"""Every type `search` finds, by name."""

_SEARCH = QUERY.fields["search"]
assert isinstance(_SEARCH, Search)
MAX_SEARCH_LENGTH = _SEARCH.max_length
"""The longest search text taken: `search(query:)`'s and a list filter's (`nameContains`,
`titleContains`); a longer one is refused."""

_NODES = QUERY.fields["nodes"]
assert isinstance(_NODES, NodesByIds)
MAX_NODES = _NODES.max_ids

_CONTEXT = CITATION.fields["context"]
assert isinstance(_CONTEXT, QuoteContext)
MAX_CONTEXT = _CONTEXT.max_characters
"""The most characters `Citation.context(characters:)` shows on each side of its quote."""

OWNERS: tuple[NodeType | RootType, ...] = (*TYPES.values(), CITATION, PASSAGE, QUERY)
"""Every type with fields in the map."""


def list_key(owner: str, field_name: str) -> str:
    """A list's key: `Program.partners`, `Query.programs` (a root list)."""
    return f"{owner}.{field_name}"


LISTS: dict[str, ListEdge] = {
    list_key(owner.name, name): spec
    for owner in OWNERS
    for name, spec in owner.fields.items()
    if isinstance(spec, ListEdge)
}
"""Every list by its key, `Program.partners` or `Query.programs` (a root list)."""


def relation_field(spec: ListEdge) -> str | None:
    """The item's field that names the parent of a list through a foreign key (a program's
    `company` for `Company.programs`): what the edge's relation rests on. None for a list
    through a link table, or a root list."""
    if spec.link is not None or spec.parent_key is None:
        return None
    for name, field_spec in TYPES[spec.target].fields.items():
        if isinstance(field_spec, Reference) and field_spec.foreign_key is spec.parent_key:
            return name
    raise LookupError(f"no field of {spec.target} holds {spec.parent_key}")


def reference(type_name: str, field_name: str) -> Reference:
    """The single link `type_name.field_name`; unknown names fail at once."""
    spec = node_type(type_name).fields[field_name]
    if not isinstance(spec, Reference):
        raise TypeError(f"{type_name}.{field_name} is not a single link")
    return spec


def check(types: Mapping[str, NodeType], owners: tuple[NodeType | RootType, ...]) -> None:
    """Every name the map uses names something: a wrong one fails at import."""
    for owner in owners:
        for field_name, spec in owner.fields.items():
            where = f"{owner.name}.{field_name}"
            if isinstance(spec, Reference | ListEdge | BySlug) and spec.target not in types:
                raise LookupError(f"{where} names an unknown type {spec.target!r}")
            if isinstance(spec, ListEdge) and spec.default_order not in types[spec.target].order:
                raise LookupError(f"{where} orders by unknown {spec.default_order!r}")
            if isinstance(spec, ListEdge) and not spec.is_root and spec.link is None:
                relation_field(spec)  # a foreign-key list's items name their parent
    for node in (*types.values(), *(o for o in owners if isinstance(o, NodeType))):
        for column in (*node.order.values(), *node.columns()):
            if column.class_ is not node.model:
                raise LookupError(f"{node.name} maps a column of another table: {column}")
        for searched in node.searched:
            if not isinstance(node.fields.get(searched.field), Scalar | Names):
                raise LookupError(f"{node.name} searches {searched.field!r}, no stored value")


check({**TYPES, PASSAGE.name: PASSAGE}, OWNERS)
