"""Relay node refetch, global IDs, by-slug lookups and the citations every entity carries."""

from __future__ import annotations

import base64
import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from db.models import MAX_SLUG_LENGTH
from tests.assertions import assert_bad_input, without_cost

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
GRAPH = yaml.safe_load((SEEDS / "graph.yaml").read_text())
DOCUMENTS = [yaml.safe_load(p.read_text()) for p in sorted((SEEDS / "documents").glob("*.yaml"))]

# type name -> (root list field, by-slug field, seed items)
ENTITIES: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
    "Company": ("companies", "company", GRAPH["companies"]),
    "Person": ("people", "person", GRAPH["people"]),
    "Report": ("reports", "report", GRAPH["reports"]),
    "Program": ("programs", "program", GRAPH["programs"]),
    "Partner": ("partners", "partner", GRAPH["partners"]),
    "Location": ("locations", "location", GRAPH["locations"]),
    "Figure": ("figures", "figure", GRAPH["figures"]),
    "Document": ("documents", "document", DOCUMENTS),
    "Organization": ("organizations", "organization", GRAPH["organizations"]),
    "Statement": ("statements", "statement", GRAPH["statements"]),
    "FigureGroup": ("figureGroups", "figureGroup", GRAPH["figure_groups"]),
    "FigurePair": (
        "figurePairs",
        "figurePair",
        [pair for group in GRAPH["figure_groups"] for pair in group["pairs"]],
    ),
}
CITED = [name for name in ENTITIES if name != "Document"]

FRAGMENTS = " ".join(f"... on {name} {{ slug }}" for name in ENTITIES)
NODE = f"query Node($id: ID!) {{ node(id: $id) {{ __typename id {FRAGMENTS} }} }}"
NODES = f"query Nodes($ids: [ID!]!) {{ nodes(ids: $ids) {{ __typename id {FRAGMENTS} }} }}"


def global_id(type_name: str, slug: str) -> str:
    return base64.b64encode(f"{type_name}:{slug}".encode()).decode()


def seed_slugs(type_name: str) -> list[str]:
    return [item["slug"] for item in ENTITIES[type_name][2]]


async def listed(graphql, type_name: str, fields: str = "id slug") -> list[dict[str, Any]]:
    field = ENTITIES[type_name][0]
    body = await graphql(f"{{ {field}(first: 100) {{ totalCount nodes {{ {fields} }} }} }}")
    assert "errors" not in body, body
    connection = body["data"][field]
    assert connection["totalCount"] == len(connection["nodes"])
    return list(connection["nodes"])


@pytest.mark.parametrize("type_name", ENTITIES)
async def test_every_listed_entity_refetches_by_node_id(graphql, type_name):
    items = await listed(graphql, type_name)
    assert sorted(item["slug"] for item in items) == sorted(seed_slugs(type_name))
    for item in items:
        body = await graphql(NODE, {"id": item["id"]})
        assert body == {"data": {"node": {"__typename": type_name, **item}}}


@pytest.mark.parametrize("type_name", ENTITIES)
async def test_ids_are_base64_of_type_and_slug(graphql, type_name):
    for item in await listed(graphql, type_name):
        assert item["id"] == global_id(type_name, item["slug"])


async def test_nodes_come_back_in_order_with_null_for_missing(graphql):
    asked = [
        ("Program", "global-social-justice-fund"),
        ("Location", "atlantis"),
        ("Partner", "childfund-korea"),
        ("Partner", "global-social-justice-fund"),  # a real slug, but of another type
        ("Document", "staying-connected-at-sony-music"),
        ("Program", "global-social-justice-fund"),
    ]
    known = {(name, slug) for name in ENTITIES for slug in seed_slugs(name)}
    assert [pair in known for pair in asked] == [True, False, True, False, True, True]
    body = await graphql(NODES, {"ids": [global_id(*pair) for pair in asked]})
    assert "errors" not in body, body
    assert body["data"]["nodes"] == [
        {"__typename": name, "id": global_id(name, slug), "slug": slug}
        if (name, slug) in known
        else None
        for name, slug in asked
    ]


async def test_well_formed_id_of_a_missing_slug_is_null(graphql):
    body = await graphql(NODE, {"id": global_id("Program", "no-such-program")})
    assert body == {"data": {"node": None}}


def respelled(token: str) -> str:
    """Another spelling of the same bytes: the bits the padding leaves over, set."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    stem = token.rstrip("=")
    assert stem != token, "a token with padding"
    again = stem[:-1] + alphabet[alphabet.index(stem[-1]) + 1] + token[len(stem) :]
    assert base64.b64decode(again, validate=True) == base64.b64decode(token)
    return again


BAD_IDS = {
    "empty": "",
    "not-base64": "not base64!",
    "base64-of-garbage": base64.b64encode(b"\xff\xfe\x00garbage").decode(),
    "no-separator": base64.b64encode(b"garbage").decode(),
    "unknown-type": global_id("Nope", "x"),
    "empty-slug": global_id("Program", ""),
    "not-a-slug": global_id("Program", "Not A Slug"),
    "slug-and-a-line-break": global_id("Program", "miles\n"),
    "slug-too-long": global_id("Program", "a" * (MAX_SLUG_LENGTH + 1)),  # no slug is that long
    "padding-bits-set": respelled(global_id("Program", "miles")),  # the same bytes
}


@pytest.mark.parametrize("bad_id", BAD_IDS.values(), ids=BAD_IDS.keys())
async def test_malformed_id_is_a_user_error(graphql, bad_id):
    body = await graphql(NODE, {"id": bad_id})
    assert body["data"] == {"node": None}
    assert_bad_input(body, ["node"], "is not a valid ID")


async def test_one_malformed_id_is_null_at_its_place_and_the_rest_are_answered(client):
    """One ID that is none failed the whole (non-null) list, and so `data`: a client
    refetching a page of IDs, one of them stale in form, lost them all. The error names the
    argument the ID was given in, `ids` (not `node`'s `id`). (The compiled planner hands a
    malformed ID to the reference executor: one run covers both.)"""
    ids = [global_id("Program", "miles"), global_id("Nope", "x"), global_id("Program", "gone")]
    response = await client.post("/graphql", json={"query": NODES, "variables": {"ids": ids}})
    assert response.headers["x-executor"] == "reference"
    body = without_cost(response.json())
    assert [node and node["id"] for node in body["data"]["nodes"]] == [ids[0], None, None]
    assert_bad_input(body, ["nodes", 1], "is not a valid ID")  # (`gone` is missing: none)
    assert body["errors"][0]["extensions"]["argument"] == "ids"


async def test_nodes_takes_at_most_100_ids(graphql):
    one = global_id("Company", "sony-music")
    full = await graphql(NODES, {"ids": [one] * 100})
    assert "errors" not in full, full
    assert len(full["data"]["nodes"]) == 100
    body = await graphql(NODES, {"ids": [one] * 101})
    assert body["data"] is None
    assert_bad_input(body, ["nodes"], "at most 100", "101")


@pytest.mark.parametrize("type_name", ENTITIES)
async def test_by_slug_root_field_finds_every_entity(graphql, type_name):
    field = ENTITIES[type_name][1]
    slugs = seed_slugs(type_name)
    for start in range(0, len(slugs), 20):  # 20 root fields: the default limit
        batch = list(enumerate(slugs))[start : start + 20]
        aliases = " ".join(
            f'e{i}: {field}(slug: "{slug}") {{ __typename slug }}' for i, slug in batch
        )
        body = await graphql(f"{{ {aliases} }}")
        assert body == {
            "data": {f"e{i}": {"__typename": type_name, "slug": slug} for i, slug in batch}
        }


@pytest.mark.parametrize("slug", ["no-such-slug", "", "Sony Music", "a\x00b", "x" * 5000])
@pytest.mark.parametrize("type_name", ENTITIES)
async def test_by_slug_root_field_is_null_for_an_unknown_slug(graphql, type_name, slug):
    field = ENTITIES[type_name][1]
    query = f"query($slug: String!) {{ {field}(slug: $slug) {{ slug }} }}"
    assert await graphql(query, {"slug": slug}) == {"data": {field: None}}


CITATIONS = "slug citations { quote start end document { slug text } }"


@pytest.mark.parametrize("type_name", CITED)
async def test_every_citation_quotes_its_document_verbatim(graphql, type_name):
    for item in await listed(graphql, type_name, CITATIONS):
        assert item["citations"], f"{type_name} {item['slug']} is uncited"
        for citation in item["citations"]:
            text = citation["document"]["text"]
            assert text[citation["start"] : citation["end"]] == citation["quote"]


@pytest.mark.parametrize("type_name", CITED)
async def test_citations_are_the_ones_the_seeds_give(graphql, type_name):
    seeded = {
        item["slug"]: [(c["document"], c["quote"]) for c in item["citations"]]
        for item in ENTITIES[type_name][2]
    }
    served = {
        item["slug"]: [(c["document"]["slug"], c["quote"]) for c in item["citations"]]
        for item in await listed(graphql, type_name, CITATIONS)
    }
    assert served == seeded


async def test_every_citation_refetches_by_its_id(graphql):
    """A citation's ID names its span: the same quote wherever it is cited, and `node(id:)`
    answers it with the same fields."""
    fields = "id quote start end document { slug }"
    by_id: dict[str, dict[str, Any]] = {}
    for type_name in CITED:
        for item in await listed(graphql, type_name, f"slug citations {{ {fields} }}"):
            for citation in item["citations"]:
                assert by_id.setdefault(citation["id"], citation) == citation
    assert len(by_id) >= 50
    spans = {(c["document"]["slug"], c["start"], c["end"]) for c in by_id.values()}
    assert len(spans) == len(by_id)  # one ID per span, one span per ID
    refetch = f"query($id: ID!) {{ node(id: $id) {{ __typename ... on Citation {{ {fields} }} }} }}"
    for quote_id, citation in by_id.items():
        body = await graphql(refetch, {"id": quote_id})
        assert body == {"data": {"node": {"__typename": "Citation", **citation}}}
    missing = global_id("Citation", "staying-connected-at-sony-music-0-999999")
    assert await graphql(f'{{ node(id: "{missing}") {{ id }} }}') == {"data": {"node": None}}


async def test_a_quote_context_is_keyed_by_its_quote_and_width(graphql):
    """Client caches key a context without configuration: the same quote at the same width is
    one ID, another width another."""
    query = """{ company(slug: "sony-music") { citations { id
      a: context(characters: 10) { id before }
      b: context(characters: 10) { id }
      c: context(characters: 11) { id before } } } }"""
    citations = (await graphql(query))["data"]["company"]["citations"]
    keys = set()
    for citation in citations:
        assert citation["a"]["id"] == citation["b"]["id"] != citation["c"]["id"]
        span = base64.b64decode(citation["id"]).decode().removeprefix("Citation:")
        assert citation["a"]["id"] == global_id("QuoteContext", f"{span}-10")
        assert citation["c"]["id"] == global_id("QuoteContext", f"{span}-11")
        keys |= {citation["a"]["id"], citation["c"]["id"]}
    assert len(keys) == 2 * len(citations)
    refused = await graphql(f'{{ node(id: "{citations[0]["a"]["id"]}") {{ id }} }}')
    assert_bad_input(refused, ["node"], "not a valid ID")
