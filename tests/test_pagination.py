"""Cursor connections: page sizes, walking both ways, graphql-relay-js slicing, cursor errors."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.assertions import assert_bad_input

GRAPH = yaml.safe_load((Path(__file__).resolve().parents[1] / "seeds" / "graph.yaml").read_text())
LOCATIONS_BY_SLUG = {location["slug"]: location for location in GRAPH["locations"]}


def by_name(items: list[dict[str, Any]]) -> list[str]:
    """Slugs in the default order: name case-insensitively, nameless last, ties by slug."""
    ordered = sorted(
        items, key=lambda i: (i.get("name") is None, (i.get("name") or "").lower(), i["slug"])
    )
    return [item["slug"] for item in ordered]


LOCATION_ORDER = by_name(GRAPH["locations"])
PROGRAM_ORDER = by_name(GRAPH["programs"])

PAGE = """
query Page($first: Int, $after: String, $last: Int, $before: String) {{
  {field}(first: $first, after: $after, last: $last, before: $before) {{
    totalCount
    edges {{ cursor node {{ slug }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}
"""


async def fetch_page(graphql, field: str = "locations", **arguments: Any) -> dict[str, Any]:
    body = await graphql(PAGE.format(field=field), arguments)
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"][field]
    assert_cursors_match_edges(page)
    return page


def slugs(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["slug"] for edge in page["edges"]]


def assert_cursors_match_edges(page: dict[str, Any]) -> None:
    edges, info = page["edges"], page["pageInfo"]
    assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)


async def cursors(graphql, field: str = "locations") -> list[str]:
    """Every cursor of an unfiltered list, in order; position n (1-based) is index n - 1."""
    page = await fetch_page(graphql, field, first=100)
    assert page["pageInfo"]["hasNextPage"] is False
    return [edge["cursor"] for edge in page["edges"]]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_total_count_is_the_whole_list_not_the_page(graphql):
    page = await fetch_page(graphql, first=5)
    assert len(page["edges"]) == 5
    assert page["totalCount"] == len(GRAPH["locations"])
    assert slugs(page) == LOCATION_ORDER[:5]


@pytest.mark.parametrize(
    ("field", "order"), [("locations", LOCATION_ORDER), ("programs", PROGRAM_ORDER)]
)
async def test_default_page_is_the_first_twenty(graphql, field, order):
    assert len(order) > 20
    default = await fetch_page(graphql, field)
    assert slugs(default) == order[:20]
    assert default["totalCount"] == len(order)
    assert default["pageInfo"]["hasNextPage"] is True
    assert default == await fetch_page(graphql, field, first=20)


@pytest.mark.parametrize("size", [1, 7, 8, 24, 100])
async def test_walking_forward_visits_every_item_once_in_order(graphql, size):
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await fetch_page(graphql, first=size, after=after)
        pages += 1
        assert page["totalCount"] == len(LOCATION_ORDER)
        assert page["pageInfo"]["hasPreviousPage"] is False  # only `last` looks backwards
        seen += slugs(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["edges"]) == size
        after = page["pageInfo"]["endCursor"]
    assert seen == LOCATION_ORDER
    assert pages == math.ceil(len(LOCATION_ORDER) / size)


@pytest.mark.parametrize("size", [1, 7, 8, 24, 100])
async def test_walking_backward_gives_the_same_items_reversed(graphql, size):
    visited: list[str] = []
    before = None
    while True:
        page = await fetch_page(graphql, last=size, before=before)
        assert page["pageInfo"]["hasNextPage"] is False  # only `first` looks forwards
        visited += reversed(slugs(page))
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        assert len(page["edges"]) == size
        before = page["pageInfo"]["startCursor"]
    assert visited == LOCATION_ORDER[::-1]


async def test_last_reports_earlier_items_with_has_previous_page(graphql):
    tail = await fetch_page(graphql, last=5)
    assert slugs(tail) == LOCATION_ORDER[-5:]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    whole = await fetch_page(graphql, last=len(LOCATION_ORDER))
    assert slugs(whole) == LOCATION_ORDER
    assert whole["pageInfo"]["hasPreviousPage"] is False


async def test_first_zero_counts_without_returning_edges(graphql):
    page = await fetch_page(graphql, first=0)
    assert page["edges"] == []
    assert page["totalCount"] == len(LOCATION_ORDER)
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


async def test_paging_past_either_end_gives_an_empty_page(graphql):
    every = await cursors(graphql)
    beyond = await fetch_page(graphql, first=10, after=every[-1])
    assert beyond["edges"] == []
    assert beyond["totalCount"] == len(LOCATION_ORDER)
    assert beyond["pageInfo"]["hasNextPage"] is False
    before_start = await fetch_page(graphql, last=10, before=every[0])
    assert before_start["edges"] == []
    assert before_start["pageInfo"]["hasPreviousPage"] is False


# (arguments with 1-based positions for cursors, expected 1-based positions, next, previous),
# worked out by hand from graphql-relay-js's connectionFromArraySlice.
RELAY_CASES = [
    ({"first": 3, "before": 10}, range(1, 4), True, False),
    ({"first": 20, "before": 5}, range(1, 5), False, False),
    ({"first": 3, "after": 2, "before": 10}, range(3, 6), True, False),
    ({"first": 10, "after": 2, "before": 10}, range(3, 10), False, False),
    ({"first": 5, "after": 5}, range(6, 11), True, False),
    ({"last": 2, "after": 20}, range(24, 26), False, True),
    ({"last": 10, "after": 20}, range(21, 26), False, False),
    ({"last": 3, "after": 2, "before": 10}, range(7, 10), False, True),
    ({"last": 10, "after": 2, "before": 10}, range(3, 10), False, False),
    ({"last": 5, "before": 20}, range(15, 20), False, True),
    ({"first": 5, "after": 10, "before": 5}, range(0), False, False),
    ({"last": 5, "after": 10, "before": 5}, range(0), False, False),
]


@pytest.mark.parametrize(("arguments", "positions", "has_next", "has_previous"), RELAY_CASES)
async def test_slicing_matches_graphql_relay_js(
    graphql, arguments, positions, has_next, has_previous
):
    every = await cursors(graphql)
    resolved = {
        name: every[value - 1] if name in ("after", "before") else value
        for name, value in arguments.items()
    }
    page = await fetch_page(graphql, **resolved)
    assert slugs(page) == [LOCATION_ORDER[p - 1] for p in positions]
    assert [edge["cursor"] for edge in page["edges"]] == [every[p - 1] for p in positions]
    assert page["pageInfo"]["hasNextPage"] is has_next
    assert page["pageInfo"]["hasPreviousPage"] is has_previous
    assert page["totalCount"] == len(LOCATION_ORDER)


async def test_between_two_cursors_without_a_size_is_the_default_page_after_after(graphql):
    """`after` and `before` with neither `first` nor `last` page forward from `after` (the
    default page of 20); `before` alone pages backwards, to just before it."""
    every = await cursors(graphql)
    assert len(every) > 22  # more items between the two than a default page
    between = await fetch_page(graphql, after=every[0], before=every[-1])
    assert slugs(between) == LOCATION_ORDER[1:21]
    assert between["pageInfo"]["hasNextPage"] is True
    before_only = await fetch_page(graphql, before=every[-1])
    assert slugs(before_only) == LOCATION_ORDER[-21:-1]
    assert before_only["pageInfo"]["hasPreviousPage"] is True


NESTED = """
query Nested($first: Int, $last: Int) {
  programs(first: 100, orderBy: {field: SLUG}) {
    nodes {
      slug
      locations(first: $first, last: $last) {
        totalCount
        edges { cursor node { slug } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
}
"""


def program_locations(slug: str) -> list[str]:
    program = next(p for p in GRAPH["programs"] if p["slug"] == slug)
    return by_name([LOCATIONS_BY_SLUG[link["location"]] for link in program.get("locations", [])])


@pytest.mark.parametrize(("first", "last"), [(2, None), (None, 1)])
async def test_nested_connections_page_each_parent_separately(graphql, first, last):
    body = await graphql(NESTED, {"first": first, "last": last})
    assert "errors" not in body, body
    programs = body["data"]["programs"]["nodes"]
    assert len(programs) == len(GRAPH["programs"])
    assert any(len(program_locations(p["slug"])) > 2 for p in programs)
    for program in programs:
        expected = program_locations(program["slug"])
        page = program["locations"]
        assert_cursors_match_edges(page)
        assert page["totalCount"] == len(expected), program["slug"]
        if first is not None:
            assert slugs(page) == expected[:first], program["slug"]
            assert page["pageInfo"]["hasNextPage"] is (len(expected) > first)
        else:
            assert slugs(page) == expected[len(expected) - last :], program["slug"]
            assert page["pageInfo"]["hasPreviousPage"] is (len(expected) > last)


PROGRAM_LOCATIONS = """
query Locations($slug: String!, $after: String) {
  program(slug: $slug) {
    locations(first: 3, after: $after) {
      edges { node { slug } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def test_nested_connection_pages_on_with_its_own_cursor(graphql):
    slug = "life-insurance-policies"
    expected = program_locations(slug)
    assert len(expected) > 6
    seen: list[str] = []
    after = None
    while True:
        body = await graphql(PROGRAM_LOCATIONS, {"slug": slug, "after": after})
        assert "errors" not in body, body
        page = body["data"]["program"]["locations"]
        seen += slugs(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected


FILTERED = """
query Filtered($kinds: [ProgramKind!], $field: ProgramOrderField!, $after: String) {
  programs(filter: {kind: $kinds}, orderBy: {field: $field}, first: 2, after: $after) {
    edges { cursor node { slug } }
  }
}
"""


async def test_cursor_survives_the_same_filter_spelt_differently(graphql):
    variables = {"kinds": ["FUND", "BENEFIT"], "field": "SLUG"}
    first_page = await graphql(FILTERED, variables)
    cursor = first_page["data"]["programs"]["edges"][-1]["cursor"]
    body = await graphql(FILTERED, {**variables, "kinds": ["BENEFIT", "FUND"], "after": cursor})
    assert "errors" not in body, body
    expected = sorted(p["slug"] for p in GRAPH["programs"] if p["kind"] in ("FUND", "BENEFIT"))
    assert slugs(body["data"]["programs"]) == expected[2:4]


async def bad_page(graphql, field: str = "locations", **arguments: Any) -> dict[str, Any]:
    body = await graphql(PAGE.format(field=field), arguments)
    # The connection is non-null, so its error nulls the whole of `data` (GraphQL spec 6.4.4).
    assert body["data"] is None, body
    return body


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        ({"first": 101}, ("`first`", "between 0 and 100", "101")),
        ({"first": -1}, ("`first`", "between 0 and 100", "-1")),
        ({"last": 101}, ("`last`", "between 0 and 100", "101")),
        ({"last": -1}, ("`last`", "between 0 and 100", "-1")),
        ({"first": 1, "last": 1}, ("`first` or `last`, not both",)),
        ({"after": "not a cursor!"}, ("`after`", "not a valid cursor")),
        ({"before": b64("hello:world:3")}, ("`before`", "not a valid cursor")),
        ({"after": b64("cursor:v1:0123456789ab:0")}, ("`after`", "not a valid cursor")),
    ],
)
async def test_bad_paging_arguments_are_user_errors(graphql, arguments, fragments):
    assert_bad_input(await bad_page(graphql, **arguments), ["locations"], *fragments)


async def test_page_size_error_through_variables(graphql):
    query = "query($first: Int) { programs(first: $first) { totalCount } }"
    body = await graphql(query, {"first": 101})
    assert body["data"] is None
    assert_bad_input(body, ["programs"], "`first`", "101")


async def test_cursor_from_another_list_is_refused(graphql):
    location_cursor = (await cursors(graphql, "locations"))[0]
    body = await bad_page(graphql, "programs", after=location_cursor)
    assert_bad_input(body, ["programs"], "`after`", "another list")


async def test_root_cursor_is_refused_by_the_nested_list_with_the_same_items(graphql):
    root_cursor = (await cursors(graphql, "programs"))[0]
    query = """
    query($after: String) {
      company(slug: "sony-music") { name programs(after: $after) { totalCount } }
    }
    """
    body = await graphql(query, {"after": root_cursor})
    assert body["data"] == {"company": {"name": "Sony Music", "programs": None}}  # the rest kept
    assert_bad_input(body, ["company", "programs"], "another list")


@pytest.mark.parametrize(
    "changed",
    [
        {"kinds": ["FUND"]},
        {"field": "NAME"},
    ],
    ids=["other-filter", "other-order"],
)
async def test_cursor_from_another_filter_or_order_is_refused(graphql, changed):
    variables = {"kinds": None, "field": "SLUG"}
    first_page = await graphql(FILTERED, variables)
    cursor = first_page["data"]["programs"]["edges"][0]["cursor"]
    body = await graphql(FILTERED, {**variables, **changed, "after": cursor})
    assert body["data"] is None
    assert_bad_input(body, ["programs"], "`after`", "another list, filter or order")


async def test_nested_page_size_error_nulls_only_that_list(graphql):
    query = """
    { program(slug: "life-insurance-policies") { locations(first: 101) { totalCount } }
      company(slug: "sony-music") { slug } }
    """
    body = await graphql(query)
    assert body["data"] == {"program": {"locations": None}, "company": {"slug": "sony-music"}}
    assert_bad_input(body, ["program", "locations"], "`first`", "101")


FIGURES_BY_VALUE = """
query($after: String, $before: String) {
  figures(first: 3, after: $after, before: $before, orderBy: {field: VALUE}) {
    edges { cursor node { slug value } }
  }
}
"""


def _forged(genuine: str, key: str) -> str:
    """A cursor with the genuine one's list and parent but another row key."""
    prefix = ":".join(base64.b64decode(genuine).decode().split(":", 4)[:4])
    return b64(f"{prefix}:{key}")


@pytest.mark.parametrize(
    "key",
    [
        "",  # no place
        "UPPER-case:n",  # not a slug
        "a-slug:x12",  # neither empty (n) nor a value (v)
        "a-slug",  # no sort value at all
        "a-slug:vnan",
        "a-slug:vinf",
        "a-slug:v1e999",
        "a-slug:vtwelve",
        # other spellings Python's `float` reads as 12: another cursor for one place
        "a-slug:v12\n",
        "a-slug:v1_2",
        "a-slug:v\u0661\u0662",
        "a-slug:v 12",
    ],
)
async def test_forged_places_are_refused(graphql, key):
    """(Figures by VALUE: a float order.)"""
    genuine = (await graphql(FIGURES_BY_VALUE))["data"]["figures"]["edges"][0]["cursor"]
    for argument in ("after", "before"):
        body = await graphql(FIGURES_BY_VALUE, {argument: _forged(genuine, key)})
        assert_bad_input(body, ["figures"], f"`{argument}`", "not a valid cursor")


PROGRAMS_BY_YEAR = """
query($after: String) {
  programs(first: 3, after: $after, orderBy: {field: LAUNCHED_YEAR}) { edges { cursor } }
}
"""


@pytest.mark.parametrize(
    "key",
    [
        "a-slug:v99999999999",
        "a-slug:v2147483648",
        "a-slug:v1e3",
        "a-slug:v2022\n",  # (a `$` let it by, and `int` read it as 2022)
    ],
)
async def test_forged_integer_places_past_the_column_are_refused(graphql, key):
    genuine = (await graphql(PROGRAMS_BY_YEAR))["data"]["programs"]["edges"][0]["cursor"]
    body = await graphql(PROGRAMS_BY_YEAR, {"after": _forged(genuine, key)})
    assert_bad_input(body, ["programs"], "`after`", "not a valid cursor")


@pytest.mark.parametrize("year", [2**31 - 1, -(2**31) + 1])
async def test_integer_places_at_the_columns_bounds_are_places(graphql, year):
    """A place as far as the column goes is one (a cursor seeks to its place even without its
    row): past the largest year, only the programs without one; before the least, all."""
    genuine = (await graphql(PROGRAMS_BY_YEAR))["data"]["programs"]["edges"][0]["cursor"]
    query = PROGRAMS_BY_YEAR.replace("first: 3", "first: 100")
    body = await graphql(query, {"after": _forged(genuine, f"a-slug:v{year}")})
    assert "errors" not in body, body
    found = len(body["data"]["programs"]["edges"])
    empty = sum(program.get("launched_year") is None for program in GRAPH["programs"])
    assert found == (empty if year > 0 else len(GRAPH["programs"]))


async def test_forged_text_places_with_control_characters_are_refused(graphql):
    genuine = (await graphql(PROGRAMS_BY_YEAR.replace("LAUNCHED_YEAR", "NAME")))["data"]
    cursor = genuine["programs"]["edges"][0]["cursor"]
    query = PROGRAMS_BY_YEAR.replace("LAUNCHED_YEAR", "NAME")
    body = await graphql(query, {"after": _forged(cursor, "a-slug:vab\x00c")})
    assert_bad_input(body, ["programs"], "`after`", "not a valid cursor")


async def test_a_cursor_seeks_to_its_place_even_without_its_row(graphql):
    """A keyset cursor is a place in the order, so it outlives the row it was made from."""
    every = (await graphql(FIGURES_BY_VALUE.replace("first: 3", "first: 100")))["data"]
    values = [edge["node"] for edge in every["figures"]["edges"]]
    genuine = every["figures"]["edges"][0]["cursor"]
    between = (values[1]["value"] + values[2]["value"]) / 2
    assert values[1]["value"] < between < values[2]["value"]
    page = await graphql(FIGURES_BY_VALUE, {"after": _forged(genuine, f"zz-gone:v{between!r}")})
    assert [e["node"] for e in page["data"]["figures"]["edges"]] == values[2:5]


async def test_cursor_of_one_parent_is_refused_by_another(graphql):
    query = """
    query($slug: String!, $after: String) {
      program(slug: $slug) { locations(first: 1, after: $after) { edges { cursor } } }
    }
    """
    source = await graphql(query, {"slug": "life-insurance-policies"})
    cursor = source["data"]["program"]["locations"]["edges"][0]["cursor"]
    body = await graphql(query, {"slug": "enhanced-medical-coverage", "after": cursor})
    assert body["data"] == {"program": {"locations": None}}
    assert_bad_input(body, ["program", "locations"], "`after`", "another list")


async def test_before_alone_pages_back_from_the_cursor(graphql):
    every = await cursors(graphql)
    page = await fetch_page(graphql, before=every[-1])
    assert slugs(page) == LOCATION_ORDER[-21:-1]
    assert page["pageInfo"]["hasPreviousPage"] is True


DOCUMENTS_BY_DATE = """
query($after: String) {
  documents(first: 1, after: $after, orderBy: {field: PUBLISHED_ON}) { edges { cursor } }
}
"""


@pytest.mark.parametrize("value", ["20240101", "2024-W01-1", "2024-01-01\n", "2024-13-01"])
async def test_forged_date_places_are_refused(graphql, value):
    """`fromisoformat` reads 20240101 and 2024-W01-1 as the place 2024-01-01 is: another
    cursor for one place."""
    genuine = (await graphql(DOCUMENTS_BY_DATE))["data"]["documents"]["edges"][0]["cursor"]
    body = await graphql(DOCUMENTS_BY_DATE, {"after": _forged(genuine, f"a-slug:v{value}")})
    assert_bad_input(body, ["documents"], "`after`", "not a valid cursor")


PROGRAMS_BY_YEAR_BOTH_WAYS = """
query($first: Int, $after: String, $last: Int, $before: String, $direction: OrderDirection) {
  programs(first: $first, after: $after, last: $last, before: $before,
           orderBy: {field: LAUNCHED_YEAR, direction: $direction}) {
    edges { cursor node { slug } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_walking_one_by_one_among_empty_values_both_ways(graphql, direction):
    """Programs by launch year, which most have none (empty values last either way, ties by
    slug): one at a time, so most cursors name a place among empty values; forwards each
    program comes once, in order, and backwards the same in reverse."""
    programs = GRAPH["programs"]
    dated = sorted(
        (p for p in programs if p.get("launched_year") is not None),
        key=lambda p: (p["launched_year"] * (-1 if direction == "DESC" else 1), p["slug"]),
    )
    empty = sorted(p["slug"] for p in programs if p.get("launched_year") is None)
    order = [p["slug"] for p in dated] + empty
    assert len(empty) > 2  # places among empty values, both ways
    walked: dict[str, list[str]] = {"forwards": [], "backwards": []}
    for way, size, place, more in (
        ("forwards", "first", "after", "hasNextPage"),
        ("backwards", "last", "before", "hasPreviousPage"),
    ):
        cursor = None
        for _ in range(len(order) + 1):  # bounded: a page may repeat its cursor's program
            variables = {size: 1, place: cursor, "direction": direction}
            body = await graphql(PROGRAMS_BY_YEAR_BOTH_WAYS, variables)
            assert "errors" not in body, body
            page = body["data"]["programs"]
            assert_cursors_match_edges(page)
            walked[way] += slugs(page)
            if not page["pageInfo"][more]:
                break
            cursor = page["pageInfo"]["endCursor" if way == "forwards" else "startCursor"]
    assert walked["forwards"] == order
    assert walked["backwards"] == order[::-1]
