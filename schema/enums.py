"""The contract's enums: the closed sets the store keeps, as db/mapping.py states them, and
the sort fields and directions of the lists."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

import strawberry
from strawberry.types.enum import has_enum_definition

from db.mapping import Basis as Basis
from db.mapping import FigureKind as FigureKind
from db.mapping import FigureQualifier as FigureQualifier
from db.mapping import LocationKind as LocationKind
from db.mapping import ProgramKind as ProgramKind
from db.mapping import Vocabulary


def _graphql_enum(vocabulary: type[Vocabulary]) -> None:
    """Make the type map's closed set a GraphQL enum of its name (in place, so the store's
    values, the seed files' and the API's are one class), described as the map describes
    it and each of its members."""
    wrapped = strawberry.enum(vocabulary, description=vocabulary.__doc__)
    assert has_enum_definition(wrapped)
    definition = wrapped.__strawberry_definition__
    definition.values = [
        dataclasses.replace(value, description=vocabulary[value.name].description)
        for value in definition.values
    ]


for _vocabulary in (ProgramKind, LocationKind, FigureKind, FigureQualifier, Basis):
    _graphql_enum(_vocabulary)


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Ascending; empty values last.")
    DESC = strawberry.enum_value("DESC", description="Descending; empty values last.")


def _by_name() -> Any:
    return strawberry.enum_value("NAME", description="By name, case-insensitively.")


def _by_slug() -> Any:
    return strawberry.enum_value("SLUG", description="By slug.")


def _by_title() -> Any:
    return strawberry.enum_value("TITLE", description="By title, case-insensitively.")


@strawberry.enum(description="Fields companies can be ordered by.")
class CompanyOrderField(Enum):
    NAME = _by_name()
    SLUG = _by_slug()
    FOUNDED_YEAR = strawberry.enum_value("FOUNDED_YEAR", description="By founding year.")


@strawberry.enum(description="Fields people can be ordered by.")
class PersonOrderField(Enum):
    NAME = _by_name()
    SLUG = _by_slug()


@strawberry.enum(description="Fields reports can be ordered by.")
class ReportOrderField(Enum):
    TITLE = _by_title()
    SLUG = _by_slug()
    YEAR = strawberry.enum_value("YEAR", description="By the year the report covers.")


@strawberry.enum(description="Fields programs can be ordered by.")
class ProgramOrderField(Enum):
    NAME = _by_name()
    SLUG = _by_slug()
    LAUNCHED_YEAR = strawberry.enum_value("LAUNCHED_YEAR", description="By launch year.")


@strawberry.enum(description="Fields partners can be ordered by.")
class PartnerOrderField(Enum):
    NAME = _by_name()
    SLUG = _by_slug()


@strawberry.enum(description="Fields locations can be ordered by.")
class LocationOrderField(Enum):
    NAME = _by_name()
    SLUG = _by_slug()
    COUNTRY_CODE = strawberry.enum_value("COUNTRY_CODE", description="By country code.")


@strawberry.enum(description="Fields figures can be ordered by.")
class FigureOrderField(Enum):
    SLUG = _by_slug()
    VALUE = strawberry.enum_value("VALUE", description="By numeric value.")
    PERIOD_START_YEAR = strawberry.enum_value(
        "PERIOD_START_YEAR", description="By the first year covered."
    )


@strawberry.enum(description="Fields documents can be ordered by.")
class DocumentOrderField(Enum):
    TITLE = _by_title()
    SLUG = _by_slug()
    PUBLISHED_ON = strawberry.enum_value("PUBLISHED_ON", description="By publication date.")


@strawberry.enum(description="Fields organisations can be ordered by.")
class OrganizationOrderField(Enum):
    NAME = _by_name()
    SLUG = _by_slug()


@strawberry.enum(description="Fields statements can be ordered by.")
class StatementOrderField(Enum):
    SLUG = _by_slug()


@strawberry.enum(description="Fields figure groups can be ordered by.")
class FigureGroupOrderField(Enum):
    SLUG = _by_slug()


@strawberry.enum(description="Fields figure pairs can be ordered by.")
class FigurePairOrderField(Enum):
    POSITION = strawberry.enum_value(
        "POSITION", description="By place in the group, as the text sets them out."
    )
    SLUG = _by_slug()
