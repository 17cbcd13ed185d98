"""The walk the API exists for: company -> programs -> partners -> locations, with citations."""

from __future__ import annotations

import json

from server.graphiql import WELCOME_QUERY

TRAVERSAL = """
query Traversal($slug: String!) {
  company(slug: $slug) {
    name
    foundedYear
    foundedIn { name countryCode }
    programs(filter: {kind: [FUND]}) {
      totalCount
      nodes {
        name
        kind
        partners {
          totalCount
          edges {
            node {
              name
              shortName
              locations { nodes { name kind countryCode } }
            }
            citations { quote document { title } }
          }
        }
      }
    }
  }
}
"""


async def test_company_programs_partners_locations(graphql):
    body = await graphql(TRAVERSAL, {"slug": "sony-music"})
    assert "errors" not in body
    company = body["data"]["company"]
    assert company["name"] == "Sony Music"
    assert company["foundedYear"] == 1929
    assert company["foundedIn"] == {"name": "New York", "countryCode": "US"}
    funds = company["programs"]
    assert funds["totalCount"] == 1
    fund = funds["nodes"][0]
    assert (fund["name"], fund["kind"]) == ("Global Social Justice Fund", "FUND")
    partners = {
        edge["node"]["name"]: [
            (loc["name"], loc["kind"], loc["countryCode"])
            for loc in edge["node"]["locations"]["nodes"]
        ]
        for edge in fund["partners"]["edges"]
    }
    assert partners == {
        "Asian and Pacific Islander American Vote": [("United States", "COUNTRY", "US")],
        "ChildFund Korea": [("South Korea", "COUNTRY", "KR")],
        "Enabling Leadership Inc": [("Cambodia", "COUNTRY", "KH")],
    }
    assert fund["partners"]["totalCount"] == 3
    for edge in fund["partners"]["edges"]:
        assert edge["citations"], f"relation to {edge['node']['name']} is uncited"
        for citation in edge["citations"]:
            assert citation["document"]["title"].startswith("APIDA Heritage Month 2024")


async def test_unknown_company_is_null(graphql):
    body = await graphql(TRAVERSAL, {"slug": "no-such-company"})
    assert body == {"data": {"company": None}}


async def test_graphiql_opens_on_a_working_traversal_query(client, graphql):
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert "<title>GraphiQL · Impact Graph</title>" in page.text
    assert '<main id="graphiql">' in page.text
    assert "<noscript>" in page.text
    assert json.dumps(WELCOME_QUERY) in page.text  # the page's script holds it as JSON
    answers = {}
    for operation in ("Traversal", "Search"):
        payload = {"query": WELCOME_QUERY, "operationName": operation}
        body = (await client.post("/graphql", json=payload)).json()
        assert "errors" not in body, body
        answers[operation] = body["data"]
    assert answers["Traversal"]["company"]["programs"]["totalCount"] == 3
    assert answers["Search"]["search"]["edges"][0]["node"]["name"] == (
        "United Nations\u2019 refugee agency"
    )
