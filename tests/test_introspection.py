"""Introspection over HTTP yields a client schema that tools can build and validate against."""

from __future__ import annotations

from typing import Any

import graphql
import pytest
from graphql.utilities import lexicographic_sort_schema

from schema import schema as served_schema
from tests.conftest import make_client
from tests.test_http import GRAPHQL_RESPONSE, JSON, send

TRAVERSAL = """
query Traversal($slug: String!) {
  company(slug: $slug) {
    name
    citations { quote document { title publishedOn } }
    programs(first: 10, filter: {kind: [FUND]}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        cursor
        node {
          id
          name
          kind
          partners {
            edges {
              node {
                name
                locations {
                  edges {
                    node { name kind countryCode }
                    citations { quote start end document { slug title } }
                  }
                }
              }
              citations { quote context(characters: 40) { before quote after } }
            }
          }
        }
      }
    }
  }
}
"""

EXPECTED_TYPES = {
    "Node",
    "Company",
    "Program",
    "Partner",
    "Location",
    "Citation",
    "Document",
    "PageInfo",
    "ProgramConnection",
}


async def introspect(client, method: str = "POST", accept: str = JSON) -> dict[str, Any]:
    """The `data` of the standard introspection query, asserting it came back clean."""
    query = graphql.get_introspection_query(descriptions=True, specified_by_url=True)
    if method == "GET":
        response = await send(client, "GET", params={"query": query}, accept=accept)
    else:
        response = await send(client, payload={"query": query}, accept=accept)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


@pytest.mark.parametrize(
    ("method", "accept"),
    [
        pytest.param("POST", JSON, id="post-json"),
        pytest.param("POST", GRAPHQL_RESPONSE, id="post-graphql-response"),
        pytest.param("GET", JSON, id="get-json"),
    ],
)
async def test_introspection_builds_a_client_schema(client, method, accept):
    client_schema = graphql.build_client_schema(await introspect(client, method, accept))
    assert set(client_schema.type_map) >= EXPECTED_TYPES
    query_type = client_schema.query_type
    assert query_type is not None
    assert {"node", "nodes", "company", "programs"} <= set(query_type.fields)


async def test_client_schema_validates_the_traversal(client):
    client_schema = graphql.build_client_schema(await introspect(client))
    assert graphql.validate(client_schema, graphql.parse(TRAVERSAL)) == []


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        pytest.param('{ company(slug: "x") { noSuchField } }', "noSuchField", id="unknown-field"),
        pytest.param("{ company { name } }", "slug", id="missing-argument"),
        pytest.param(
            '{ company(slug: "x") { programs { nodes { partners } } } }',
            "partners",
            id="missing-selection",
        ),
    ],
)
async def test_client_schema_rejects_invalid_queries(client, query, complaint):
    client_schema = graphql.build_client_schema(await introspect(client))
    errors = graphql.validate(client_schema, graphql.parse(query))
    assert errors
    assert any(complaint in error.message for error in errors)


async def test_introspection_describes_the_served_schema(client):
    client_schema = graphql.build_client_schema(await introspect(client))
    served = graphql.build_schema(served_schema.as_str())
    assert graphql.print_schema(lexicographic_sort_schema(client_schema)) == graphql.print_schema(
        lexicographic_sort_schema(served)
    )


async def test_node_interface_is_implemented_by_the_traversal_types(client):
    client_schema = graphql.build_client_schema(await introspect(client))
    node = client_schema.get_type("Node")
    assert isinstance(node, graphql.GraphQLInterfaceType)
    implementations = {t.name for t in client_schema.get_implementations(node).objects}
    assert {"Company", "Program", "Partner", "Location", "Document"} <= implementations


async def test_schema_only_answers_are_kept_and_data_is_never(client, store, monkeypatch):
    """Introspection depends on the schema and the variables alone: its answer is kept per
    query, variables and media type. An operation that also reads data is run every time
    (the response cache off: that one keeps it by data version)."""
    from schema.execute import ReferenceExecutor

    runs: list[str] = []
    real = ReferenceExecutor.run

    async def counted(executor: ReferenceExecutor, operation: Any, *args: Any) -> Any:
        runs.append(operation.query)
        return await real(executor, operation, *args)

    monkeypatch.setattr(ReferenceExecutor, "run", counted)
    full = graphql.get_introspection_query()
    one_type = "query($name: String!) { __type(name: $name) { name kind } __typename }"
    answers = {}
    for _ in range(3):
        for name in ("Program", "Company"):
            payload = {"query": one_type, "variables": {"name": name}}
            response = await client.post("/graphql", json=payload)
            assert response.headers["x-executor"] == "reference"
            answers.setdefault(name, response.content)
            assert response.content == answers[name]
        response = await client.post("/graphql", json={"query": full})
        answers.setdefault("full", response.content)
        assert response.content == answers["full"]
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    assert b'"name":"Program"' in answers["Program"]
    assert b'"name":"Company"' in answers["Company"]
    assert runs.count(one_type) <= 2  # at most once per name
    assert runs.count(full) <= 1
    mixed = '{ __type(name: "Program") { name } companies { totalCount } }'
    async with make_client(store.engine, cache=False) as uncached:
        for _ in range(2):
            response = await uncached.post("/graphql", json={"query": mixed})
            assert response.json()["data"]["companies"]["totalCount"] == 1
    assert runs.count(mixed) == 2


async def test_a_schema_only_operation_does_not_make_its_documents_others_kept(client):
    """Whether an operation reads only the schema is the operation's, not its document's."""
    document = "query A { __typename } query B { companies { totalCount } }"
    for name in ("A", "B", "B"):
        response = await client.post("/graphql", json={"query": document, "operationName": name})
        body = response.json()
        if name == "A":
            assert body["data"] == {"__typename": "Query"}
        else:
            assert body["data"] == {"companies": {"totalCount": 1}}
            assert response.headers["x-executor"] == "compiled"


async def test_the_date_scalar_says_which_format_it_is(client):
    body = (
        await client.post(
            "/graphql", json={"query": '{ __type(name: "Date") { kind specifiedByURL } }'}
        )
    ).json()
    assert body["data"]["__type"] == {
        "kind": "SCALAR",
        "specifiedByURL": "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6",
    }
