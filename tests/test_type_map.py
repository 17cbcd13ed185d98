"""The type map and the schema agree field by field, and a wrong name fails before serving."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    get_named_type,
)
from sqlalchemy import String
from sqlmodel.sql.sqltypes import AutoString

from db.mapping import (
    CITATION,
    EDGE_FIELDS,
    PASSAGE,
    QUERY,
    REFETCHABLE,
    SEARCHABLE,
    TYPES,
    BySlug,
    Citations,
    GlobalId,
    ListEdge,
    Names,
    NodeById,
    NodesByIds,
    NodeType,
    ProvenanceOf,
    QuoteContext,
    Reference,
    RootType,
    Scalar,
    Search,
    Searched,
    TextPositionSelector,
    TextQuoteSelector,
    check,
    reference,
)
from resolvers.lists import list_info
from schema import enums
from schema.connection import connection_field
from schema.objects import link_field
from schema.search import SearchableType
from schema.types import NODE_TYPES
from server.app import CONTRACT

GRAPHQL_TYPES = CONTRACT.type_map
SCALARS = {int: "Int", float: "Float", dt.date: "Date"}


def _object(name: str) -> GraphQLObjectType:
    found = GRAPHQL_TYPES[name]
    assert isinstance(found, GraphQLObjectType), name
    return found


def _expected_type(owner: NodeType | RootType, spec: object) -> str:
    """The GraphQL type (as SDL spells it) a field of this kind must have."""
    if isinstance(spec, GlobalId):
        return "ID!"
    if isinstance(spec, Scalar):
        column = spec.column.property.columns[0]
        kind = column.type
        named = (spec.enum and spec.enum.__name__) or (
            "String" if isinstance(kind, AutoString | String) else SCALARS[kind.python_type]
        )
        return named if column.nullable else f"{named}!"
    if isinstance(spec, Reference):
        return spec.target if spec.nullable else f"{spec.target}!"
    if isinstance(spec, ListEdge):
        return f"{spec.target}Connection" if spec.nullable else f"{spec.target}Connection!"
    if isinstance(spec, Citations):
        return "[Citation!]!"
    if isinstance(spec, QuoteContext):
        return "QuoteContext!"
    if isinstance(spec, Names):
        return "[String!]!"
    if isinstance(spec, ProvenanceOf):
        return "Provenance!"
    if isinstance(spec, TextQuoteSelector | TextPositionSelector):
        return f"{spec.w3c_type}!"
    if isinstance(spec, BySlug):
        return spec.target
    if isinstance(spec, NodeById):
        return "Node"
    if isinstance(spec, NodesByIds):
        return "[Node]!"
    if isinstance(spec, Search):
        return "SearchConnection!"
    raise AssertionError(f"{owner.name}: unknown kind {spec!r}")


@pytest.mark.parametrize("owner", [*TYPES.values(), CITATION, PASSAGE, QUERY], ids=lambda o: o.name)
def test_every_field_of_the_schema_is_in_the_map_with_its_type(owner):
    graphql_type = _object(owner.name)
    assert set(graphql_type.fields) == set(owner.fields), owner.name
    for name, spec in owner.fields.items():
        actual: GraphQLOutputType = graphql_type.fields[name].type
        assert str(actual) == _expected_type(owner, spec), f"{owner.name}.{name}"


def test_enum_fields_store_the_members_of_their_enum():
    for owner in TYPES.values():
        for name, spec in owner.scalars():
            if spec.enum is not None:
                enum_type = GRAPHQL_TYPES[spec.enum.__name__]
                assert isinstance(enum_type, GraphQLEnumType), f"{owner.name}.{name}"
                assert {m.name for m in spec.enum} == set(enum_type.values)


def test_order_fields_are_exactly_the_sortable_columns():
    for type_name, node in TYPES.items():
        order_enum = getattr(enums, f"{type_name}OrderField")
        assert {m.name for m in order_enum} == set(node.order), type_name


def test_filter_inputs_offer_exactly_the_filters_the_map_states():
    """Both executors read a filter by the map's names: a field the schema offered and the
    map did not name would be accepted and ignored."""
    for type_name, node in TYPES.items():
        filter_input = GRAPHQL_TYPES[f"{type_name}Filter"]
        assert isinstance(filter_input, GraphQLInputObjectType), type_name
        assert set(filter_input.fields) == set(node.filter_arguments.names()), type_name


def test_every_node_type_is_a_type_of_the_map():
    assert set(NODE_TYPES) == set(REFETCHABLE)


def test_searchable_types_are_the_types_the_map_searches():
    assert {m.value for m in SearchableType} == set(SEARCHABLE)
    for member in SearchableType:  # COMPANY names Company
        assert member.name == member.value.upper()


def test_the_map_refuses_to_search_a_field_with_no_stored_value():
    program = TYPES["Program"]
    stray = dataclasses.replace(program, searched=(Searched("partners", 1),))
    with pytest.raises(LookupError, match="searches 'partners', no stored value"):
        check({**TYPES, "Program": stray}, ())


def test_edges_of_a_link_table_key_both_ends_on_the_link():
    for owner in TYPES.values():
        for name, spec in owner.edges():
            if spec.link is not None:
                where = f"{owner.name}.{name}"
                assert spec.link.parent_key.class_ is spec.link.model, where
                assert spec.link.target_key.class_ is spec.link.model, where
                assert spec.link.parent_key is not spec.link.target_key, where


def test_scalar_types_are_plain_values():
    for owner in (*TYPES.values(), CITATION, PASSAGE):
        for name, _ in owner.scalars():
            named = get_named_type(_object(owner.name).fields[name].type)
            assert isinstance(named, GraphQLScalarType | GraphQLEnumType), f"{owner.name}.{name}"


def test_an_unknown_list_or_link_fails_when_declared():
    with pytest.raises(LookupError, match=r"Program\.partnerz"):
        connection_field("Program", "partnerz", description="typo")
    with pytest.raises(KeyError):
        link_field("Program", "compnay", description="typo")
    with pytest.raises(LookupError, match=r"no list Query\.company"):
        list_info("Query", "company")
    with pytest.raises(TypeError, match="not a single link"):
        reference("Program", "partners")


def test_the_map_refuses_a_list_of_an_unknown_type_or_order():
    program = TYPES["Program"]
    typo = dataclasses.replace(
        program, fields={**program.fields, "partners": ListEdge("Partnr", "NAME")}
    )
    with pytest.raises(LookupError, match=r"Program\.partners names an unknown type 'Partnr'"):
        check(TYPES, (typo,))
    bad_order = dataclasses.replace(
        program, fields={**program.fields, "partners": ListEdge("Partner", "TITLE")}
    )
    with pytest.raises(LookupError, match="orders by unknown 'TITLE'"):
        check(TYPES, (bad_order,))


def test_selectors_are_their_w3c_classes_with_the_fields_the_map_pairs():
    """A selector's type is named after its W3C class and has its cache key, its `type` and
    the W3C fields the map pairs with what they show, typed alike: the quote selector a
    QuoteContext's text, the position selector the citation's own columns."""
    context = _object("QuoteContext").fields
    citation = _object(CITATION.name).fields
    field_of = {spec.name: name for name, spec in CITATION.scalars()}  # by column
    found = []
    for spec in CITATION.fields.values():
        if isinstance(spec, TextQuoteSelector):
            shown = {name: context[part].type for name, part in spec.parts}
        elif isinstance(spec, TextPositionSelector):
            shown = {name: citation[field_of[c.key]].type for name, c in spec.columns}
        else:
            continue
        found.append(spec.w3c_type)
        expected = {"id": "ID!", "type": "String!", **{n: str(t) for n, t in shown.items()}}
        fields = _object(spec.w3c_type).fields
        assert {name: str(f.type) for name, f in fields.items()} == expected, spec.w3c_type
    assert sorted(found) == ["TextPositionSelector", "TextQuoteSelector"]


def test_the_map_refuses_a_column_of_another_table():
    program = TYPES["Program"]
    stray = dataclasses.replace(
        program,
        fields={**program.fields, "name": Scalar(TYPES["Partner"].model.name)},  # type: ignore[attr-defined]
    )
    with pytest.raises(LookupError, match="maps a column of another table"):
        check({**TYPES, "Program": stray}, ())
    shown = TextPositionSelector((("start", TYPES["Figure"].model.value),))  # type: ignore[attr-defined]
    astray = dataclasses.replace(
        CITATION, fields={**CITATION.fields, "textPositionSelector": shown}
    )
    with pytest.raises(LookupError, match="maps a column of another table"):
        check(TYPES, (astray,))


def test_list_wrappers_match_every_connection():
    for owner in (*TYPES.values(), QUERY):
        for name, spec in owner.fields.items():
            if isinstance(spec, ListEdge):
                connection = get_named_type(_object(owner.name).fields[name].type)
                assert isinstance(connection, GraphQLObjectType)
                assert set(connection.fields) == {"edges", "nodes", "pageInfo", "totalCount"}
                edge = get_named_type(connection.fields["edges"].type)
                assert isinstance(edge, GraphQLObjectType)
                assert set(edge.fields) == EDGE_FIELDS
                node_field = edge.fields["node"].type
                assert isinstance(node_field, GraphQLNonNull)
                assert str(node_field.of_type) == spec.target
                nodes = connection.fields["nodes"].type
                assert isinstance(nodes, GraphQLNonNull)
                assert isinstance(nodes.of_type, GraphQLList)
