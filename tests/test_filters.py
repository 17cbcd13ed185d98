"""Filters and orderBy on root and nested lists, checked against what seeds/graph.yaml states."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from db.queries import ListFilter, filter_parameters
from tests.assertions import assert_bad_input

GRAPH = yaml.safe_load((Path(__file__).resolve().parents[1] / "seeds" / "graph.yaml").read_text())
PROGRAMS = GRAPH["programs"]
PARTNERS = GRAPH["partners"]
LOCATIONS = GRAPH["locations"]
LOCATION = {location["slug"]: location for location in LOCATIONS}

Item = dict[str, Any]
Predicate = Callable[[Item], bool]


# --- What the seeds say --------------------------------------------------------------------


def codes_of(item: Item) -> set[str | None]:
    """Country codes of the places a program or partner is linked to."""
    return {LOCATION[link["location"]].get("country_code") for link in item.get("locations", [])}


def program_kinds_of(partner: Item) -> set[str]:
    return {
        program["kind"]
        for program in PROGRAMS
        if any(link["partner"] == partner["slug"] for link in program.get("partners", []))
    }


def contains(needle: str, *fields: str) -> Predicate:
    """The literal, case-insensitive substring test `nameContains` promises."""
    return lambda item: any(needle.lower() in (item.get(f) or "").lower() for f in fields)


def expected(
    items: list[Item], where: Predicate = lambda _: True, field: str = "name", desc: bool = False
) -> list[str]:
    """Slugs of the matching items in the documented order: by `field` (strings
    case-insensitively), empty values last in both directions, ties by slug."""
    chosen = sorted((i for i in items if where(i)), key=lambda i: i["slug"])
    present = [i for i in chosen if i.get(field) is not None]
    empty = [i for i in chosen if i.get(field) is None]

    def value(item: Item) -> Any:
        found = item[field]
        return found.lower() if isinstance(found, str) else found

    present.sort(key=value, reverse=desc)  # stable, so ties keep their slug order
    return [item["slug"] for item in present + empty]


# --- Asking the API ------------------------------------------------------------------------

LIST = """
query List($filter: {type}Filter, $orderBy: {type}Order) {{
  {field}(filter: $filter, orderBy: $orderBy, first: 100) {{ totalCount nodes {{ slug }} }}
}}
"""
LIST_TYPES = {"programs": "Program", "partners": "Partner", "locations": "Location"}


async def listed(graphql, field: str, filter: Item | None = None, order: Item | None = None):
    query = LIST.format(field=field, type=LIST_TYPES[field])
    body = await graphql(query, {"filter": filter, "orderBy": order})
    assert "errors" not in body, body
    connection = body["data"][field]
    found = [node["slug"] for node in connection["nodes"]]
    assert connection["totalCount"] == len(found)
    return found


async def nested(graphql, query: str, *path: str) -> list[str]:
    body = await graphql(query)
    assert "errors" not in body, body
    value = body["data"]
    for step in path:
        value = value[step]
    return [node["slug"] for node in value["nodes"]]


# --- Programs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kinds", [["FUND"], ["BENEFIT"], ["FUND", "BENEFIT"], ["CAMPAIGN", "PHILANTHROPY"]]
)
async def test_programs_by_kind(graphql, kinds):
    want = expected(PROGRAMS, lambda p: p["kind"] in kinds)
    assert want
    assert await listed(graphql, "programs", {"kind": kinds}) == want


@pytest.mark.parametrize("code", ["US", "us", "KH", "UA", "KR", "ES"])
async def test_programs_by_country(graphql, code):
    want = expected(PROGRAMS, lambda p: code.upper() in codes_of(p))
    assert await listed(graphql, "programs", {"countryCode": code}) == want


async def test_program_country_filter_reaches_programs_linked_only_to_cities(graphql):
    def only_via_cities(program: Item) -> bool:
        places = [LOCATION[link["location"]] for link in program.get("locations", [])]
        return bool(places) and all(place["kind"] == "CITY" for place in places)

    city_only = [p for p in PROGRAMS if only_via_cities(p)]
    assert city_only, "the seeds no longer have a program placed only in a city"
    for program in city_only:
        for code in codes_of(program):
            assert program["slug"] in await listed(graphql, "programs", {"countryCode": code})


@pytest.mark.parametrize("needle", ["fund", "FUND", "relief", "apida", "Sony Music facilities"])
async def test_programs_by_name_or_description(graphql, needle):
    want = expected(PROGRAMS, contains(needle, "name", "description"))
    assert want
    assert await listed(graphql, "programs", {"nameContains": needle}) == want


async def test_program_search_matches_descriptions_of_nameless_programs(graphql):
    needle = "facilities"
    nameless = [
        p["slug"] for p in PROGRAMS if p.get("name") is None and contains(needle, "description")(p)
    ]
    assert nameless
    found = await listed(graphql, "programs", {"nameContains": needle})
    assert set(nameless) <= set(found)


# --- Partners ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["US", "KR", "KH", "ES", "es", "PL"])
async def test_partners_by_country(graphql, code):
    want = expected(PARTNERS, lambda p: code.upper() in codes_of(p))
    assert await listed(graphql, "partners", {"countryCode": code}) == want


@pytest.mark.parametrize(
    "kinds",
    [["FUND"], ["PARTNER_PROJECT"], ["PHILANTHROPY"], ["BENEFIT"], ["FUND", "PHILANTHROPY"]],
)
async def test_partners_by_program_kind(graphql, kinds):
    want = expected(PARTNERS, lambda p: bool(program_kinds_of(p) & set(kinds)))
    assert await listed(graphql, "partners", {"programKind": kinds}) == want


@pytest.mark.parametrize("needle", ["APIA", "apia vote", "korea", "inc"])
async def test_partners_by_name_or_short_name(graphql, needle):
    want = expected(PARTNERS, contains(needle, "name", "short_name"))
    assert want
    assert await listed(graphql, "partners", {"nameContains": needle}) == want


async def test_partner_search_matches_the_short_name_alone(graphql):
    by_short_name_only = [
        p["slug"]
        for p in PARTNERS
        if contains("APIA", "short_name")(p) and not contains("APIA", "name")(p)
    ]
    assert by_short_name_only
    assert await listed(graphql, "partners", {"nameContains": "APIA"}) == by_short_name_only


# --- Locations -----------------------------------------------------------------------------


@pytest.mark.parametrize("kinds", [["CITY"], ["REGION"], ["COUNTRY", "REGION"]])
async def test_locations_by_kind(graphql, kinds):
    want = expected(LOCATIONS, lambda loc: loc["kind"] in kinds)
    assert want
    assert await listed(graphql, "locations", {"kind": kinds}) == want


@pytest.mark.parametrize("code", ["US", "us", "KH", "ES"])
async def test_locations_by_country_include_its_cities(graphql, code):
    want = expected(LOCATIONS, lambda loc: loc.get("country_code") == code.upper())
    assert any(LOCATION[slug]["kind"] == "CITY" for slug in want)
    assert await listed(graphql, "locations", {"countryCode": code}) == want


@pytest.mark.parametrize(
    ("field", "argument"),
    [("partners", "programKind"), ("programs", "kind"), ("locations", "kind")],
)
async def test_empty_kind_list_matches_nothing(graphql, field, argument):
    # "of any of these kinds" with no kinds given: no item qualifies, on every list alike
    assert await listed(graphql, field, {argument: []}) == []


# --- Filters together ----------------------------------------------------------------------

COMBINED = [
    ("programs", {"kind": ["FUND"]}, {"countryCode": "US"}),
    ("programs", {"kind": ["PHILANTHROPY"]}, {"nameContains": "support"}),
    ("programs", {"countryCode": "US"}, {"nameContains": "time"}),
    ("partners", {"programKind": ["FUND"]}, {"nameContains": "o"}),
    ("locations", {"kind": ["CITY"]}, {"countryCode": "US"}),
    ("locations", {"kind": ["COUNTRY"]}, {"nameContains": "new"}),
]


@pytest.mark.parametrize(("field", "one", "other"), COMBINED)
async def test_filters_combine_with_and(graphql, field, one, other):
    first = await listed(graphql, field, one)
    second = await listed(graphql, field, other)
    both = await listed(graphql, field, {**one, **other})
    assert both != first, "pick filters each of which narrows the other"
    assert both != second, "pick filters each of which narrows the other"
    assert both == [slug for slug in first if slug in second]


async def test_combined_program_filter_matches_the_seeds(graphql):
    def where(p: Item) -> bool:
        in_us = "US" in codes_of(p)
        return p["kind"] == "BENEFIT" and in_us and contains("time", "name", "description")(p)

    want = expected(PROGRAMS, where)
    assert want
    found = await listed(
        graphql, "programs", {"kind": ["BENEFIT"], "countryCode": "us", "nameContains": "time"}
    )
    assert found == want


# --- Searching for wildcard characters -----------------------------------------------------


def like_pattern(needle: str) -> re.Pattern[str]:
    """What the needle would match if `%` and `_` were taken as SQL LIKE wildcards."""
    parts = {"%": ".*", "_": "."}
    return re.compile("".join(parts.get(c, re.escape(c)) for c in needle), re.IGNORECASE)


@pytest.mark.parametrize("needle", ["%", "_", "S_ny", "Global%Fund", "%%"])
async def test_wildcard_characters_match_literally(graphql, needle):
    as_wildcard = [
        p for p in PROGRAMS if like_pattern(needle).search(f"{p.get('name')}\n{p['description']}")
    ]
    assert as_wildcard, "the needle would not catch a wildcard bug"
    want = expected(PROGRAMS, contains(needle, "name", "description"))
    assert want == []
    assert await listed(graphql, "programs", {"nameContains": needle}) == want
    assert await listed(graphql, "partners", {"nameContains": needle}) == []
    assert await listed(graphql, "locations", {"nameContains": needle}) == []


@pytest.mark.parametrize(
    ("needle", "pattern"),
    [("50%", "%50/%%"), ("a/b", "%a//b%"), ("%/_", "%/%///_%")],
)
def test_a_needle_is_escaped_escape_character_first(needle, pattern):
    """The escape character is escaped before the wildcards are (else `%` became `//%`: the
    escape escaped, and the wildcard free again); no seed name holds a `/` to show it."""
    assert filter_parameters(ListFilter(name_contains=needle))["search"] == pattern


# --- Order ---------------------------------------------------------------------------------

ORDERS = [
    ("programs", PROGRAMS, "NAME", "name"),
    ("programs", PROGRAMS, "SLUG", "slug"),
    ("programs", PROGRAMS, "LAUNCHED_YEAR", "launched_year"),
    ("partners", PARTNERS, "NAME", "name"),
    ("partners", PARTNERS, "SLUG", "slug"),
    ("locations", LOCATIONS, "NAME", "name"),
    ("locations", LOCATIONS, "COUNTRY_CODE", "country_code"),
]


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize(("field", "items", "order_field", "seed_field"), ORDERS)
async def test_order_by(graphql, field, items, order_field, seed_field, direction):
    want = expected(items, field=seed_field, desc=direction == "DESC")
    order = {"field": order_field, "direction": direction}
    assert await listed(graphql, field, order=order) == want


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_nameless_programs_come_last_both_ways(graphql, direction):
    found = await listed(graphql, "programs", order={"field": "NAME", "direction": direction})
    nameless = sorted(p["slug"] for p in PROGRAMS if p.get("name") is None)
    assert nameless
    assert found[-len(nameless) :] == nameless


async def test_name_is_the_default_order(graphql):
    assert await listed(graphql, "programs") == expected(PROGRAMS, field="name")
    assert await listed(graphql, "locations") == expected(LOCATIONS, field="name")


# --- Nested lists --------------------------------------------------------------------------


def program(slug: str) -> Item:
    return next(p for p in PROGRAMS if p["slug"] == slug)


def partner(slug: str) -> Item:
    return next(p for p in PARTNERS if p["slug"] == slug)


async def test_nested_location_filter_and_order(graphql):
    slug = "life-insurance-policies"
    places = [LOCATION[link["location"]] for link in program(slug)["locations"]]
    want = expected(places, contains("ia", "name"), desc=True)
    assert 1 < len(want) < len(places)
    query = f"""
    {{ program(slug: "{slug}") {{
        locations(filter: {{nameContains: "ia"}}, orderBy: {{field: NAME, direction: DESC}}) {{
          nodes {{ slug }}
        }} }} }}
    """
    assert await nested(graphql, query, "program", "locations") == want


async def test_nested_program_filter_on_a_location(graphql):
    here = [
        p for p in PROGRAMS if "united-states" in {x["location"] for x in p.get("locations", [])}
    ]

    def where(p: Item) -> bool:
        return p["kind"] == "BENEFIT" and contains("time", "name", "description")(p)

    want = expected(here, where, field="slug", desc=True)
    assert want
    query = """
    { location(slug: "united-states") {
        programs(
          filter: {kind: [BENEFIT], nameContains: "time"}
          orderBy: {field: SLUG, direction: DESC}
        ) {
          nodes { slug }
        } } }
    """
    assert await nested(graphql, query, "location", "programs") == want


@pytest.mark.parametrize("kind", ["FUND", "PARTNER_PROJECT"])
async def test_nested_program_kind_filter_on_a_partner(graphql, kind):
    slug = "childfund-korea"
    linked = [p for p in PROGRAMS if slug in {x["partner"] for x in p.get("partners", [])}]
    want = expected(linked, lambda p: p["kind"] == kind)
    assert len(want) == 1 < len(linked)
    query = f"""
    {{ partner(slug: "{slug}") {{ programs(filter: {{kind: [{kind}]}}) {{ nodes {{ slug }} }} }} }}
    """
    assert await nested(graphql, query, "partner", "programs") == want


async def test_nested_partner_country_filter_on_a_program(graphql):
    fund = program("global-social-justice-fund")
    linked = [partner(link["partner"]) for link in fund["partners"]]
    want = expected(linked, lambda p: "KH" in codes_of(p))
    assert len(want) == 1 < len(linked)
    query = """
    { program(slug: "global-social-justice-fund") {
        partners(filter: {countryCode: "kh"}) { nodes { slug } } } }
    """
    assert await nested(graphql, query, "program", "partners") == want


# --- Errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["programs", "partners", "locations"])
@pytest.mark.parametrize("code", ["USA", "1", "U1", "us\n"])  # (a `$` let the last one by)
async def test_country_code_must_be_two_letters(graphql, field, code):
    query = LIST.format(field=field, type=LIST_TYPES[field])
    body = await graphql(query, {"filter": {"countryCode": code}})
    assert body["data"] is None  # the connection is non-null, so the error nulls `data`
    assert_bad_input(body, [field], "`countryCode`", "ISO 3166-1 alpha-2", repr(code))


@pytest.mark.parametrize("field", ["programs", "partners", "locations"])
async def test_search_text_is_at_most_200_characters(graphql, field):
    query = LIST.format(field=field, type=LIST_TYPES[field])
    assert await listed(graphql, field, {"nameContains": "x" * 200}) == []
    body = await graphql(query, {"filter": {"nameContains": "x" * 201}})
    assert body["data"] is None
    assert_bad_input(body, [field], "200 characters")


@pytest.mark.parametrize("character", ["\x00", "\x1f", "\n"])
@pytest.mark.parametrize("field", ["programs", "partners", "locations"])
async def test_search_text_must_not_contain_control_characters(graphql, field, character):
    query = LIST.format(field=field, type=LIST_TYPES[field])
    body = await graphql(query, {"filter": {"nameContains": f"Fund{character}"}})
    assert body["data"] is None
    assert_bad_input(body, [field], "control characters")


async def test_document_title_search_looks_at_titles_only(graphql):
    query = "query($t: String) { documents(filter: {titleContains: $t}) { nodes { slug } } }"
    publisher_only = await graphql(query, {"t": "Hispanic"})
    assert publisher_only == {"data": {"documents": {"nodes": []}}}
    by_title = await graphql(query, {"t": "staying CONNECTED"})
    assert by_title["data"]["documents"]["nodes"] == [{"slug": "staying-connected-at-sony-music"}]


async def test_nested_filter_error_nulls_only_that_list(graphql):
    query = """
    { program(slug: "life-insurance-policies") {
        slug locations(filter: {countryCode: "USA"}) { totalCount } } }
    """
    body = await graphql(query)
    assert body["data"] == {"program": {"slug": "life-insurance-policies", "locations": None}}
    assert_bad_input(body, ["program", "locations"], "`countryCode`")


@pytest.mark.parametrize(
    "query",
    [
        "{ programs(filter: {kind: [NOPE]}) { totalCount } }",
        "{ partners(filter: {programKind: [FUNDS]}) { totalCount } }",
        "{ locations(filter: {kind: [CONTINENT]}) { totalCount } }",
        "{ programs(orderBy: {field: POPULARITY}) { totalCount } }",
        "{ programs(orderBy: {field: NAME, direction: UP}) { totalCount } }",
    ],
)
async def test_unknown_enum_value_fails_validation(graphql, query):
    body = await graphql(query)
    assert "data" not in body  # a request error: nothing executed
    [error] = body["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "does not exist" in error["message"]
