"""Filter and order arguments of the lists. Unset filter fields do not filter."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

import strawberry

from db.mapping import MAX_SEARCH_LENGTH
from schema.enums import (
    CompanyOrderField,
    DocumentOrderField,
    FigureGroupOrderField,
    FigureOrderField,
    FigurePairOrderField,
    LocationKind,
    LocationOrderField,
    OrderDirection,
    OrganizationOrderField,
    PartnerOrderField,
    PersonOrderField,
    ProgramKind,
    ProgramOrderField,
    ReportOrderField,
    StatementOrderField,
)
from semantics.names import API_NAMES

AT_MOST = f"(at most {MAX_SEARCH_LENGTH} characters)"
NAME_CONTAINS = f"Case-insensitive substring of the name or an alternative name {AT_MOST}."
TITLE_CONTAINS = f"Case-insensitive substring of the title {AT_MOST}."
COUNTRY_CODE = "ISO 3166-1 alpha-2 code, e.g. `US`; matches places in that country too."
DIRECTION = "Sort direction; ties are broken by slug."
STATED_ONLY = (
    "With `true`, only what the documents state: items whose basis is STATED and, in a "
    "nested list, whose relation to the parent is STATED too (the link, or the item's field "
    "that names the parent). Unset or `false`: every item."
)


@strawberry.input(description="Filters for companies.")
class CompanyFilter:
    name_contains: str | None = strawberry.field(default=None, description=NAME_CONTAINS)
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for people.")
class PersonFilter:
    name_contains: str | None = strawberry.field(
        default=None,
        description=f"Case-insensitive substring of the name {AT_MOST}.",
    )
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for reports.")
class ReportFilter:
    title_contains: str | None = strawberry.field(default=None, description=TITLE_CONTAINS)
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for programs; all given filters must match.")
class ProgramFilter:
    name_contains: str | None = strawberry.field(
        default=None,
        description=f"Case-insensitive substring of the name or description {AT_MOST}.",
    )
    kind: list[ProgramKind] | None = strawberry.field(
        default=None, description="Programs of any of these kinds."
    )
    country_code: str | None = strawberry.field(
        default=None, description=f"Programs operating in this country. {COUNTRY_CODE}"
    )
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for partners; all given filters must match.")
class PartnerFilter:
    name_contains: str | None = strawberry.field(
        default=None,
        description="Case-insensitive substring of the name, short name or an alternative name "
        f"{AT_MOST}.",
    )
    program_kind: list[ProgramKind] | None = strawberry.field(
        default=None, description="Partners of at least one program of any of these kinds."
    )
    country_code: str | None = strawberry.field(
        default=None, description=f"Partners located in this country. {COUNTRY_CODE}"
    )
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for locations; all given filters must match.")
class LocationFilter:
    name_contains: str | None = strawberry.field(default=None, description=NAME_CONTAINS)
    kind: list[LocationKind] | None = strawberry.field(
        default=None, description="Locations of any of these kinds."
    )
    country_code: str | None = strawberry.field(
        default=None,
        description=f"Locations in this country (the country itself included). {COUNTRY_CODE}",
    )
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for documents.")
class DocumentFilter:
    title_contains: str | None = strawberry.field(default=None, description=TITLE_CONTAINS)


@strawberry.input(description="Filters for figures.")
class FigureFilter:
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for organisations; all given filters must match.")
class OrganizationFilter:
    name_contains: str | None = strawberry.field(default=None, description=NAME_CONTAINS)
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for statements.")
class StatementFilter:
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for figure groups.")
class FigureGroupFilter:
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Filters for figure pairs.")
class FigurePairFilter:
    stated_only: bool | None = strawberry.field(default=None, description=STATED_ONLY)


@strawberry.input(description="Order of companies.")
class CompanyOrder:
    field: CompanyOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of people.")
class PersonOrder:
    field: PersonOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of reports.")
class ReportOrder:
    field: ReportOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of programs.")
class ProgramOrder:
    field: ProgramOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of partners.")
class PartnerOrder:
    field: PartnerOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of locations.")
class LocationOrder:
    field: LocationOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of figures.")
class FigureOrder:
    field: FigureOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of documents.")
class DocumentOrder:
    field: DocumentOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of organisations.")
class OrganizationOrder:
    field: OrganizationOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of statements.")
class StatementOrder:
    field: StatementOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of figure groups.")
class FigureGroupOrder:
    field: FigureGroupOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


@strawberry.input(description="Order of figure pairs.")
class FigurePairOrder:
    field: FigurePairOrderField = strawberry.field(description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=DIRECTION)


# The filter and order arguments of a list, by the type of its items.
FILTERS: dict[str, type] = {
    "Company": CompanyFilter,
    "Person": PersonFilter,
    "Report": ReportFilter,
    "Program": ProgramFilter,
    "Partner": PartnerFilter,
    "Location": LocationFilter,
    "Figure": FigureFilter,
    "Document": DocumentFilter,
    "Organization": OrganizationFilter,
    "Statement": StatementFilter,
    "FigureGroup": FigureGroupFilter,
    "FigurePair": FigurePairFilter,
}
ORDERS: dict[str, type] = {
    "Company": CompanyOrder,
    "Person": PersonOrder,
    "Report": ReportOrder,
    "Program": ProgramOrder,
    "Partner": PartnerOrder,
    "Location": LocationOrder,
    "Figure": FigureOrder,
    "Document": DocumentOrder,
    "Organization": OrganizationOrder,
    "Statement": StatementOrder,
    "FigureGroup": FigureGroupOrder,
    "FigurePair": FigurePairOrder,
}


@cache
def _api_names(input_type: Any) -> tuple[tuple[str, str], ...]:
    return tuple(
        (API_NAMES.apply_naming_config(f.name), f.name) for f in dataclasses.fields(input_type)
    )


def given_fields(input_value: Any) -> dict[str, Any]:
    """An input's fields by the API's names, as the type map and the compiled path read a
    filter (`nameContains`, not `name_contains`)."""
    return {api: getattr(input_value, name) for api, name in _api_names(input_value.__class__)}
