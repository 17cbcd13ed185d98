"""Real clients against the real server: Apollo Client and urql with graphcache, run in Node
from tests/clients/ (with graphql-http's audits of GraphQL over HTTP), and Python's gql,
all running the same operations (tests/clients/operations/*.graphql); and the TypeScript
types GraphQL Code Generator makes of those operations and the committed SDL, checked by tsc.

Each Node client gets a server of its own (`impact-graph serve` over a new SQLite store), so
every persisted query starts unregistered. What a client got is compared with what the server
answers to a plain POST of the same operation."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import GraphQLError

from tests.serving import served

CLIENTS = Path(__file__).resolve().parent / "clients"
OPERATIONS = CLIENTS / "operations"
NODE = shutil.which("node") or "node"  # the machines' Node 20
TRAVERSED = {"slug": "sony-music"}
TWO_PATHS = {"program": "global-social-justice-fund", "location": "south-korea"}
LOCATIONS = 'locations({"first":5})'  # the traversal's field on a partner, as caches key it


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


def post(url: str, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The data of a plain POST of operations/NAME.graphql."""
    body = httpx.post(url, json={"query": operation(name), "variables": variables}).json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def without_typename(value: Any) -> Any:
    """`value` without the `__typename` fields clients add to every selection."""
    if isinstance(value, dict):
        return {key: without_typename(item) for key, item in value.items() if key != "__typename"}
    if isinstance(value, list):
        return [without_typename(item) for item in value]
    return value


def traversed_partners(traversal: dict[str, Any]) -> list[dict[str, Any]]:
    """Every partner the traversal reaches, once per program that reaches it."""
    return [
        edge["node"]
        for program in traversal["company"]["programs"]["edges"]
        for edge in program["node"]["partners"]["edges"]
    ]


def all_partner_ids(url: str) -> list[str]:
    edges = post(url, "PartnersPage", {"first": 100})["partners"]["edges"]
    return [edge["node"]["id"] for edge in edges]


def requests_seen(report: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """Each request a client sent: operation, what it carried, the error codes it got."""
    return [
        (sent["operationName"], "query" if sent["withQuery"] else "hash only", sent["codes"])
        for sent in report["requests"]
    ]


def node(*args: str) -> subprocess.CompletedProcess[str]:
    """`node ARGS` in tests/clients/."""
    return subprocess.run(
        [NODE, *args], cwd=CLIENTS, capture_output=True, text=True, timeout=120, check=False
    )


@dataclass
class Run:
    url: str
    report: dict[str, Any]


def run_client(script: str, directory: Path) -> Iterator[Run]:
    """Serve a new store, run tests/clients/SCRIPT.mjs against it and keep the server up
    while the tests read the script's report."""
    assert (CLIENTS / "node_modules" / "@apollo" / "client").is_dir(), "run `make test`"
    with served(directory) as base:
        url = f"{base}/graphql"
        done = node(f"{script}.mjs", url)
        assert done.returncode == 0, done.stderr[-3000:]
        yield Run(url, json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def apollo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from run_client("apollo", tmp_path_factory.mktemp("apollo"))


@pytest.fixture(scope="module")
def urql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from run_client("urql", tmp_path_factory.mktemp("urql"))


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from run_client("audit", tmp_path_factory.mktemp("audit"))


# graphql-http 1.23: the audits of GraphQL over HTTP that GraphQL's own reference server runs


def test_graphql_http_audits_find_nothing_wanting(audit: Run) -> None:
    """Every audit, the spec's SHOULDs among its MUSTs, passes: a warning is a failure here."""
    audits = audit.report["audits"]
    assert len(audits) >= 60, len(audits)  # (61 in 1.23.1: none was skipped)
    wanting = [a for a in audits if a["status"] != "ok"]
    assert wanting == []


# Apollo Client 3.14: InMemoryCache, the persisted-query link, HttpLink


def test_apollo_answers_the_traversal_as_the_server_does(apollo: Run) -> None:
    traversal = apollo.report["traversal"]
    assert traversal["company"]["__typename"] == "Company"  # what the cache keys entities by
    assert without_typename(traversal) == post(apollo.url, "Traversal", TRAVERSED)
    assert apollo.report["again"] == traversal


def test_apollo_keeps_one_cache_entry_per_partner(apollo: Run) -> None:
    reached = Counter(partner["id"] for partner in traversed_partners(apollo.report["traversal"]))
    assert max(reached.values()) > 1  # the traversal reaches some partner by two programs
    assert sorted(apollo.report["partnersAfterTraversal"]) == sorted(
        f"Partner:{id_}" for id_ in reached
    )

    same = apollo.report["samePartner"]
    [partner] = same["data"]["location"]["partners"]["nodes"]
    key = f"Partner:{partner['id']}"
    assert partner["id"] in {node["id"] for node in same["data"]["program"]["partners"]["nodes"]}
    assert same["partnerKeys"].count(key) == 1
    assert {"__ref": key} in same["program"]["partners"]["nodes"]
    assert same["location"]["partners"]["nodes"] == [{"__ref": key}]
    # one entry holds what each path asked: the program's path `name`, the place's `shortName`
    assert same["entries"][key]["name"] == "ChildFund Korea"
    assert "shortName" in same["entries"][key]
    assert without_typename(same["data"]) == post(apollo.url, "SamePartner", TWO_PATHS)


def test_apollo_keeps_one_cache_entry_per_selector(apollo: Run) -> None:
    """A program's citations and their W3C selectors: each selector is an entry of its own,
    keyed by its id, that its citation's entry refers to."""
    citations = {
        citation["id"]: citation
        for program in apollo.report["traversal"]["company"]["programs"]["edges"]
        for citation in program["node"]["citations"]
    }
    assert citations
    expected = {}
    for citation_id, citation in citations.items():
        entry = apollo.report["citationEntries"][f"Citation:{citation_id}"]
        for field in ("textQuoteSelector", "textPositionSelector"):
            selector = citation[field]
            key = f"{selector['__typename']}:{selector['id']}"
            assert entry[field] == {"__ref": key}
            expected[key] = selector
    assert apollo.report["selectors"] == expected


def test_apollo_refetch_by_node_id_updates_the_same_entry(apollo: Run) -> None:
    refetch = apollo.report["refetch"]
    assert refetch["key"] == f"Partner:{refetch['id']}"
    assert refetch["node"]["id"] == refetch["id"]
    assert refetch["node"]["name"] == refetch["name"]
    answer = post(apollo.url, "PartnerById", {"id": refetch["id"]})
    assert without_typename(refetch["node"]) == without_typename(answer["node"])
    assert refetch["rootField"] == {"__ref": refetch["key"]}
    assert "description" not in refetch["entryBefore"]
    assert refetch["entryAfter"]["description"] == refetch["node"]["description"]
    assert refetch["entryAfter"][LOCATIONS] == refetch["entryBefore"][LOCATIONS]
    assert sorted(refetch["partnerKeys"]) == sorted(apollo.report["partnersAfterTraversal"])


def test_apollo_merges_two_pages_relay_style(apollo: Run) -> None:
    pages = apollo.report["pages"]
    first, second, merged = pages["first"], pages["second"], pages["merged"]
    assert (len(first["edges"]), first["pageInfo"]["hasNextPage"]) == (3, True)
    assert (len(second["edges"]), second["pageInfo"]["hasNextPage"]) == (2, False)
    ids = [edge["node"]["id"] for edge in merged["edges"]]
    assert ids == [edge["node"]["id"] for edge in first["edges"] + second["edges"]]
    assert len(set(ids)) == len(ids) == merged["totalCount"] == 5
    assert ids == all_partner_ids(apollo.url)
    assert merged["pageInfo"]["hasNextPage"] is False


def test_apollo_sends_a_persisted_query_hash_first(apollo: Run) -> None:
    not_found = ["PERSISTED_QUERY_NOT_FOUND"]
    assert requests_seen(apollo.report) == [
        ("Traversal", "hash only", not_found),
        ("Traversal", "query", []),
        ("Traversal", "hash only", []),  # the same query again: the hash alone is enough
        ("PartnerById", "hash only", not_found),
        ("PartnerById", "query", []),
        ("PartnersPage", "hash only", not_found),
        ("PartnersPage", "query", []),
        ("PartnersPage", "hash only", []),  # fetchMore: the second page
        ("SamePartner", "hash only", not_found),
        ("SamePartner", "query", []),
        ("ProgramBasis", "hash only", not_found),
        ("ProgramBasis", "query", []),
        ("ProgramNotes", "hash only", not_found),
        ("ProgramNotes", "query", []),
        ("CitedNode", "hash only", not_found),
        ("CitedNode", "query", []),
    ]
    by_operation: dict[str, set[str]] = {}
    for sent in apollo.report["requests"]:
        by_operation.setdefault(sent["operationName"], set()).add(sent["hash"])
    assert all(len(hashes) == 1 for hashes in by_operation.values())
    # useGETForHashedQueries: a hash-only query goes as a GET (cacheable), the document by POST
    assert all(
        sent["method"] == ("POST" if sent["withQuery"] else "GET")
        for sent in apollo.report["requests"]
    )


def test_apollo_prints_no_warnings(apollo: Run) -> None:
    assert apollo.report["warnings"] == []


@pytest.mark.parametrize("client", ["apollo", "urql"])
def test_a_fragment_on_an_interface_is_kept_and_read_back(
    client: str, request: pytest.FixtureRequest
) -> None:
    """`... on Cited` beside `... on Program` (CitedNode): told the types implementing each
    interface (Apollo's `possibleTypes`, graphcache's `schema`, both from the SDL, as the
    README sets them up), each client keeps the answer and reads it back whole from its cache,
    warning of nothing (graphcache matched the fragment by guess, and warned, without it)."""
    run: Run = request.getfixturevalue(client)
    cited = run.report["cited"]
    program = run.report["traversal"]["company"]["programs"]["edges"][0]["node"]
    answered = post(run.url, "CitedNode", {"id": program["id"]})
    assert without_typename(cited["network"]) == without_typename(answered)
    assert cited["network"]["node"]["citations"]  # the interface's fragment matched
    assert cited["cache"] == cited["network"]
    assert run.report["warnings"] == []


def test_apollo_keeps_both_queries_fields_of_objects_without_an_id(apollo: Run) -> None:
    """A card (a program's basis, its partners' count) then a page (the notes, the first
    partners) of the same program: without the README's `merge: true` for objects without an
    id, Apollo replaced the card's provenance and connection with the page's ("Cache data may
    be lost"), and the card read back without `basis` or `totalCount`."""
    program = {"slug": "global-social-justice-fund"}
    card = apollo.report["cardAfterPage"]
    assert without_typename(card) == post(apollo.url, "ProgramBasis", program)
    assert card["program"]["partners"]["totalCount"] > 0
    assert without_typename(apollo.report["notes"]) == post(apollo.url, "ProgramNotes", program)


# urql 6: graphcache keyed by id (`keys` only for the types without one), relayPagination,
# persistedExchange


def test_urql_answers_the_traversal_as_the_server_does(urql: Run) -> None:
    traversal = urql.report["traversal"]
    assert without_typename(traversal) == post(urql.url, "Traversal", TRAVERSED)
    assert urql.report["again"] == traversal


def test_urql_graphcache_keys_entities_by_id_and_embeds_the_rest(urql: Run) -> None:
    """With `keys` naming the types without an id (the README's set-up) graphcache warned of
    none: search hits, highlights and provenance were "Invalid key" without it."""
    hits = urql.report["hits"]
    assert without_typename(hits) == post(urql.url, "SearchHits", {"text": "refugees"})
    assert hits["search"]["edges"][0]["highlights"]
    invalid_keys = Counter(
        warning.split("custom `keys` config for `")[1].split("`")[0]
        for warning in urql.report["warnings"]
        if "Invalid key" in warning
    )
    assert urql.report["warnings"] == [], f"graphcache warned; missing keys: {invalid_keys}"


def test_urql_graphcache_links_one_partner_from_two_paths(urql: Run) -> None:
    same = urql.report["samePartner"]
    [partner] = same["data"]["location"]["partners"]["nodes"]
    assert same["key"] == f"Partner:{partner['id']}"
    assert same["key"] in same["programPartners"]
    assert same["locationPartners"] == [same["key"]]
    assert {"name", "shortName"} <= set(same["fields"])
    assert without_typename(same["data"]) == post(urql.url, "SamePartner", TWO_PATHS)


def test_urql_refetch_by_node_id_updates_the_same_entity(urql: Run) -> None:
    refetch = urql.report["refetch"]
    assert refetch["node"]["id"] == refetch["id"]
    assert refetch["node"]["name"] == refetch["name"]
    answer = post(urql.url, "PartnerById", {"id": refetch["id"]})
    assert without_typename(refetch["node"]) == without_typename(answer["node"])
    assert refetch["key"] == refetch["rootField"] == f"Partner:{refetch['id']}"
    # the traversal's fields and the refetch's, on the one entity
    assert {LOCATIONS, "name", "description"} <= set(refetch["fields"])


def test_urql_merges_two_pages_with_relay_pagination(urql: Run) -> None:
    first, merged = urql.report["pages"]["first"], urql.report["pages"]["merged"]
    assert (len(first["edges"]), first["pageInfo"]["hasNextPage"]) == (3, True)
    ids = [edge["node"]["id"] for edge in merged["edges"]]
    assert len(set(ids)) == len(ids) == merged["totalCount"] == 5
    assert ids == all_partner_ids(urql.url)
    assert merged["pageInfo"]["hasNextPage"] is False


def test_urql_sends_a_persisted_query_hash_first(urql: Run) -> None:
    not_found = ["PERSISTED_QUERY_NOT_FOUND"]
    assert requests_seen(urql.report) == [
        ("Traversal", "hash only", not_found),
        ("Traversal", "query", []),
        ("Traversal", "hash only", []),
        ("PartnerById", "hash only", not_found),
        ("PartnerById", "query", []),
        ("PartnersPage", "hash only", not_found),
        ("PartnersPage", "query", []),
        ("PartnersPage", "hash only", []),
        ("SamePartner", "hash only", not_found),
        ("SamePartner", "query", []),
        ("SearchHits", "hash only", not_found),
        ("SearchHits", "query", []),
        ("CitedNode", "hash only", not_found),
        ("CitedNode", "query", []),
    ]
    # urql's default: a hash-only query goes as a GET
    assert all(sent["method"] == "GET" for sent in urql.report["requests"] if not sent["withQuery"])


# Python's gql 4 over httpx, validating against the schema it introspects


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("gql")) as base:
        yield f"{base}/graphql"


async def test_gql_runs_the_operations_validated_against_the_introspected_schema(
    server: str,
) -> None:
    transport = HTTPXAsyncTransport(url=server)
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:

        async def execute(name: str, variables: dict[str, Any]) -> dict[str, Any]:
            request = GraphQLRequest(operation(name), variable_values=variables)
            data: dict[str, Any] = await session.execute(request)
            return data

        traversal = await execute("Traversal", TRAVERSED)
        assert traversal == post(server, "Traversal", TRAVERSED)
        partner = traversed_partners(traversal)[0]
        refetched = await execute("PartnerById", {"id": partner["id"]})
        assert refetched["node"]["name"] == partner["name"]
        assert refetched == post(server, "PartnerById", {"id": partner["id"]})
        assert await execute("SamePartner", TWO_PATHS) == post(server, "SamePartner", TWO_PATHS)
        program = {"id": traversal["company"]["programs"]["edges"][0]["node"]["id"]}
        assert await execute("CitedNode", program) == post(server, "CitedNode", program)

        first = (await execute("PartnersPage", {"first": 3}))["partners"]
        after = first["pageInfo"]["endCursor"]
        second = (await execute("PartnersPage", {"first": 3, "after": after}))["partners"]
        assert second["pageInfo"]["hasNextPage"] is False
        ids = [edge["node"]["id"] for edge in first["edges"] + second["edges"]]
        assert ids == all_partner_ids(server)

        # gql refuses a document the introspected schema does not allow, before sending it (the
        # server's refusal would be a TransportQueryError)
        with pytest.raises(GraphQLError, match="Cannot query field 'nmae' on type 'Partner'"):
            await session.execute(GraphQLRequest("{ partners { nodes { nmae } } }"))


# GraphQL Code Generator: types from the committed SDL and the operations, checked by tsc


def test_generated_types_type_check_with_tsc() -> None:
    assert (CLIENTS / "node_modules" / "typescript").is_dir(), "run `make test`"
    generated = CLIENTS / "generated"
    shutil.rmtree(generated, ignore_errors=True)
    codegen = node("node_modules/.bin/graphql-codegen", "--config", "codegen.ts")
    assert codegen.returncode == 0, codegen.stdout[-3000:] + codegen.stderr[-3000:]
    types = (generated / "graphql.ts").read_text()
    for name in ("Traversal", "PartnerById", "SamePartner", "PartnersPage", "CitedNode"):
        assert f"export type {name}Query = " in types
        assert f"export const {name}Document = " in types
    tsc = node("node_modules/typescript/bin/tsc", "--noEmit", "-p", ".")
    assert tsc.returncode == 0, tsc.stdout[-3000:] + tsc.stderr[-3000:]
