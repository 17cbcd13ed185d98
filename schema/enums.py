"""The contract's enums: the closed sets the store keeps, as db/mapping.py states them, and
the sort fields and directions of the lists."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, cast

import strawberry

from db import mapping


def _graphql_enum(vocabulary: type[mapping.Vocabulary]) -> Any:
    """The type map's closed set as a GraphQL enum of its name, described as the map
    describes it and each of its members (Strawberry's own enum values: the map's class
    stays the plain set the store and the seed files read)."""
    values = {
        member.name: strawberry.enum_value(member.value, description=member.description)
        for member in vocabulary
    }
    made = cast(type[Enum], Enum(vocabulary.__name__, values))  # (the functional API)
    return strawberry.enum(made, description=vocabulary.__doc__)


if TYPE_CHECKING:  # what a field of one holds, to the type checker: a member of the map's set
    from db.mapping import Basis as Basis
    from db.mapping import FigureKind as FigureKind
    from db.mapping import FigureQualifier as FigureQualifier
    from db.mapping import LocationKind as LocationKind
    from db.mapping import ProgramKind as ProgramKind
else:
    ProgramKind = _graphql_enum(mapping.ProgramKind)
    LocationKind = _graphql_enum(mapping.LocationKind)
    FigureKind = _graphql_enum(mapping.FigureKind)
    FigureQualifier = _graphql_enum(mapping.FigureQualifier)
    Basis = _graphql_enum(mapping.Basis)


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
