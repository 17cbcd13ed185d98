"""Closed sets of the contract. Member names are what the store keeps, so they must not drift."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry


@strawberry.enum(description="What sort of undertaking a program is.")
class ProgramKind(Enum):
    FRAMEWORK = strawberry.enum_value("FRAMEWORK", description="A strategic framework.")
    FUND = strawberry.enum_value("FUND", description="A fund that supports partner organisations.")
    PROGRAM = strawberry.enum_value("PROGRAM", description="An internal program.")
    BENEFIT = strawberry.enum_value("BENEFIT", description="A benefit offered to employees.")
    ARTIST_SUPPORT = strawberry.enum_value(
        "ARTIST_SUPPORT", description="Support offered to artists and songwriters."
    )
    PHILANTHROPY = strawberry.enum_value(
        "PHILANTHROPY", description="A philanthropic initiative or commitment."
    )
    PARTNER_PROJECT = strawberry.enum_value(
        "PARTNER_PROJECT", description="A partner organisation's own project the company funds."
    )
    CAMPAIGN = strawberry.enum_value(
        "CAMPAIGN", description="A theme, observance or campaign the company runs."
    )


@strawberry.enum(description="What sort of place a location is.")
class LocationKind(Enum):
    COUNTRY = strawberry.enum_value("COUNTRY", description="A country.")
    REGION = strawberry.enum_value("REGION", description="A region spanning or within countries.")
    CITY = strawberry.enum_value("CITY", description="A city or town.")


@strawberry.enum(description="Whether a figure is an amount of money or a count of things.")
class FigureKind(Enum):
    MONEY = strawberry.enum_value("MONEY", description="An amount in the currency `unit` names.")
    COUNT = strawberry.enum_value("COUNT", description="A number of the things `unit` names.")


@strawberry.enum(description="How the source qualifies a figure; absent when stated exactly.")
class FigureQualifier(Enum):
    MORE_THAN = strawberry.enum_value("MORE_THAN", description='"more than" the value.')
    NEARLY = strawberry.enum_value("NEARLY", description='"nearly" the value.')


@strawberry.enum(description="What a statement of the graph rests on.")
class Basis(Enum):
    STATED = strawberry.enum_value(
        "STATED", description="A quote from the documents states it (see `citations`)."
    )
    REFERENCE = strawberry.enum_value(
        "REFERENCE",
        description="A named reference source (`source`): ISO 3166-1 for a country code, a "
        "gazetteer for a city's country.",
    )
    INFERRED = strawberry.enum_value(
        "INFERRED",
        description="An editorial inference from the quotes (`citations`); `note` gives the "
        "reasoning.",
    )


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
