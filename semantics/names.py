"""The API's names for fields: camelCase, as Strawberry writes them (a model's
`country_code`, a seed file's key, is the API's `countryCode`). The schema is built with
this converter, and whatever else turns a Python or YAML name into the API's reads it here."""

from __future__ import annotations

from strawberry.schema.name_converter import NameConverter

API_NAMES = NameConverter(auto_camel_case=True)
