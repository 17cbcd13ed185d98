"""The contract: committed SDL, descriptions everywhere, and enums that match the store."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from db import mapping
from seeds import spec
from server.app import CONTRACT
from server.cli import SCHEMA_FILE, export_schema


def test_committed_sdl_matches_the_running_schema():
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == export_schema(), "run `impact-graph export-schema` and commit the result"


def _undocumented() -> list[str]:
    missing: list[str] = []
    for name, graphql_type in CONTRACT.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, (GraphQLObjectType, GraphQLInterfaceType)):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg})"
                    for arg, a in field.args.items()
                    if not a.description
                ]
        elif isinstance(graphql_type, GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, v in graphql_type.fields.items() if not v.description]
        elif isinstance(graphql_type, GraphQLEnumType):
            missing += [
                f"{name}.{v}" for v, value in graphql_type.values.items() if not value.description
            ]
    return missing


def test_every_type_field_argument_and_value_is_described():
    assert _undocumented() == []


def test_stored_enums_are_the_seed_vocabulary():
    """The API's enums, the seed files' and the store's are the type map's sets: names,
    values and descriptions."""
    for name in ("ProgramKind", "LocationKind", "FigureKind", "FigureQualifier", "Basis"):
        vocabulary = getattr(mapping, name)
        assert getattr(spec, name) is vocabulary, name
        published = CONTRACT.type_map[name]
        assert isinstance(published, GraphQLEnumType), name
        assert published.description == vocabulary.__doc__
        assert [(key, value.description) for key, value in published.values.items()] == [
            (member.value, member.description) for member in vocabulary
        ], name
