"""Every statement the API serves says what it rests on, and the facts the documents state
are all there, each with the quote that states it.

The walks go through the API over HTTP on both stores: every entity and every relation edge
has a basis; every STATED link has a quote that names what it links to; every INFERRED item
and field says why; REFERENCE names its source. The loader refuses extractions that break
those rules, naming the item.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from db.mapping import LISTS, TYPES
from db.provenance import relation
from seeds.read import SEEDS_DIR, SeedError, build_plan, read_documents, read_seeds
from seeds.write import write_seeds
from tests.conftest import Store, make_client
from tests.factories import graph_data, write_seed_tree
from tests.test_nodes import ENTITIES

PROVENANCE = "provenance { basis note source fields { field basis note source } }"
PAGE = 100
CITED_TYPES = [name for name, node in TYPES.items() if node.cited]
# Links in the direction the extraction writes them: the loader checks their targets are named.
EXTRACTED = {
    "Program.partners",
    "Program.locations",
    "Partner.locations",
    "Person.locations",
    "Report.highlights",
}


def _names_of(node: dict[str, Any]) -> set[str]:
    names = {node.get("name"), node.get("shortName"), *node.get("alternativeNames", ())}
    return {name for name in names if name}


def _mentions(quote: str, name: str) -> bool:
    """`name` as words of `quote`; an abbreviation ("US") only as written."""
    flags = 0 if name.isupper() else re.IGNORECASE
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", quote, flags) is not None


def _checked(provenance: dict[str, Any], where: str) -> None:
    assert provenance["basis"] in ("STATED", "REFERENCE", "INFERRED"), where
    if provenance["basis"] == "INFERRED":
        assert provenance["note"], f"{where}: INFERRED without a note"
    if provenance["basis"] == "REFERENCE":
        assert provenance["source"], f"{where}: REFERENCE without a source"
    for entry in provenance.get("fields", ()):
        _checked({**entry, "fields": []}, f"{where}.{entry['field']}")


@pytest.mark.parametrize("type_name", CITED_TYPES)
async def test_every_entity_says_what_it_rests_on(graphql, type_name):
    root = ENTITIES[type_name][0]
    nodes_query = f"nodes {{ slug {PROVENANCE} }}"
    body = await graphql(f"{{ {root}(first: {PAGE}) {{ totalCount {nodes_query} }} }}")
    assert "errors" not in body, body
    nodes = body["data"][root]["nodes"]
    assert len(nodes) == body["data"][root]["totalCount"] > 0
    for node in nodes:
        _checked(node["provenance"], f"{type_name} {node['slug']}")
        for entry in node["provenance"]["fields"]:
            assert entry["field"] in TYPES[type_name].fields, entry


def _nested_lists() -> list[Any]:
    """Each list of cited items below a root, named `Owner.field` (the same on every run and
    in every process: pytest-xdist's workers must collect the same ids)."""
    return [
        pytest.param(*key.split("."), spec, id=key)
        for key, spec in LISTS.items()
        if not spec.is_root and TYPES[spec.target].cited
    ]


@pytest.mark.parametrize(("owner", "field", "spec"), _nested_lists())
async def test_every_relation_edge_says_what_it_rests_on(graphql, owner, field, spec):
    root = ENTITIES[owner][0]
    names = "name" if "name" in TYPES[spec.target].fields else "slug"
    extra = " ".join(f for f in ("shortName", "alternativeNames") if f in TYPES[spec.target].fields)
    query = f"""{{ {root}(first: {PAGE}) {{ nodes {{ slug {field}(first: {PAGE}) {{
        edges {{ {PROVENANCE} citations {{ quote }}
                 node {{ slug {names} {extra} }} }} }} }} }} }}"""
    body = await graphql(query)
    assert "errors" not in body, body
    for parent in body["data"][root]["nodes"]:
        for edge in parent[field]["edges"]:
            where = f"{owner} {parent['slug']} .{field} -> {edge['node']['slug']}"
            _checked(edge["provenance"], where)
            if spec.link is None:
                assert edge["citations"] == [], where
                continue
            assert edge["citations"], where
            extracted = f"{owner}.{field}" in EXTRACTED
            if edge["provenance"]["basis"] == "STATED" and extracted:
                known = _names_of(edge["node"])
                assert any(
                    _mentions(c["quote"], name) for c in edge["citations"] for name in known
                ), f"{where}: STATED, but no quote names the {spec.target}"


async def test_who_published_each_document_says_what_it_rests_on(graphql):
    body = await graphql(
        """{ documents { nodes { slug publishedBy { name }
               provenance { fields { field basis note } } } } }"""
    )
    dated = {"apida-heritage-month-2024-partners"}  # its header's date, read as published on
    for document in body["data"]["documents"]["nodes"]:
        assert document["publishedBy"] is not None, document["slug"]
        fields = {f["field"]: f for f in document["provenance"]["fields"]}
        # the publisher's name rests on the page's header or footer, as the organisation does
        expected = {"publisher", "publishedBy"} | (
            {"publishedOn"} if document["slug"] in dated else set()
        )
        assert set(fields) == expected, document["slug"]
        assert all(f["basis"] == "INFERRED" and f["note"] for f in fields.values())


async def test_root_list_edges_have_no_relation(graphql):
    body = await graphql("{ programs(first: 3) { edges { provenance { basis } } } }")
    assert [e["provenance"] for e in body["data"]["programs"]["edges"]] == [None] * 3


# --- what the review found: the relations that rested on something unsaid -------------------


async def test_places_from_a_gazetteer_say_so(graphql):
    body = await graphql(
        """{ madrid: location(slug: "madrid") { countryCode parent { slug } provenance {
               fields { field basis source note } } }
             newYork: location(slug: "new-york") { countryCode parent { slug } provenance {
               fields { field basis source } } }
             portland: location(slug: "portland") { countryCode provenance {
               fields { field basis note } } }
             battambang: location(slug: "battambang") { parent { slug } provenance {
               fields { field basis source } } } }"""
    )
    data = body["data"]
    madrid = {f["field"]: f for f in data["madrid"]["provenance"]["fields"]}
    assert data["madrid"]["countryCode"] == "ES"
    assert data["madrid"]["parent"] is None
    assert madrid["countryCode"]["basis"] == "REFERENCE"
    assert "Spain is not named" in madrid["countryCode"]["note"]
    for city in ("newYork", "battambang"):
        fields = {f["field"]: f for f in data[city]["provenance"]["fields"]}
        assert fields["parent"]["basis"] == "REFERENCE", city
        assert fields["parent"]["source"] == "GeoNames gazetteer", city
    portland = {f["field"]: f for f in data["portland"]["provenance"]["fields"]}
    assert portland["countryCode"]["basis"] == "INFERRED"
    assert "New York and Miami" in portland["countryCode"]["note"]


# The words that call a place what its kind says (LocationKind's descriptions: "a city or
# town", "a region spanning or within countries").
KIND_WORDS = {
    "CITY": ("city", "town"),
    "COUNTRY": ("country", "countries"),
    "REGION": ("countries",),
}


def _calls(quotes: list[str], name: str, kind: str) -> bool:
    """Whether a quote calls the place what its kind says: in its name ("Ukraine and
    surrounding countries"), "the town of Battambang", "countries like Brazil, ..., and
    Poland", "Battambang town". Beside it is not enough ("Ukraine and surrounding
    countries" does not call Ukraine a country)."""
    words = "|".join(KIND_WORDS[kind])
    named = re.escape(name.lower())
    if re.search(rf"\b(?:{words})\b", name.lower()):
        return any(name.lower() in quote.lower() for quote in quotes)
    said = (
        rf"\b(?:{words}) of {named}\b",
        rf"\b(?:{words}) (?:like|such as|including) (?:[^.;:]*, )?(?:and |or )?{named}\b",
        rf"\b{named} (?:{words})\b",
    )
    return any(re.search(pattern, quote.lower()) for quote in quotes for pattern in said)


async def test_a_place_its_quotes_do_not_call_its_kind_says_what_its_kind_rests_on(graphql):
    """A quote that names a place ("Chicago, IL 60607", "teams in ... Miami") states that
    it is, not what it is: its kind rests on a gazetteer or ISO 3166-1 (REFERENCE), or on a
    reading (INFERRED: "New York" names a city and a state), and says so."""
    body = await graphql(
        f"""{{ locations(first: {PAGE}) {{ totalCount nodes {{ slug name kind
               citations {{ quote }} provenance {{ fields {{ field basis source }} }} }} }} }}"""
    )
    places = body["data"]["locations"]
    assert places["totalCount"] == len(places["nodes"]) > 0
    unsaid = []
    for place in places["nodes"]:
        quotes = [c["quote"] for c in place["citations"]]
        if _calls(quotes, place["name"], place["kind"]):
            continue
        unsaid.append(place["slug"])
        fields = {f["field"]: f for f in place["provenance"]["fields"]}
        assert "kind" in fields, place["slug"]
        assert fields["kind"]["basis"] in ("REFERENCE", "INFERRED"), place["slug"]
    assert {"chicago", "miami", "new-york", "india", "ukraine"} <= set(unsaid)
    assert {"battambang", "brazil", "poland", "ukraine-and-surrounding-countries"}.isdisjoint(
        unsaid
    )


async def test_the_funds_unnamed_partners_are_marked_inferred(graphql):
    body = await graphql(
        """{ program(slug: "global-social-justice-fund") {
               partners { edges { node { slug } provenance { basis note } } }
               stated: partners(filter: {statedOnly: true}) { nodes { slug } } } }"""
    )
    program = body["data"]["program"]
    bases = {e["node"]["slug"]: e["provenance"]["basis"] for e in program["partners"]["edges"]}
    assert bases == {
        "apia-vote": "STATED",
        "childfund-korea": "INFERRED",
        "enabling-leadership-inc": "INFERRED",
    }
    assert [n["slug"] for n in program["stated"]["nodes"]] == ["apia-vote"]


async def test_the_project_placed_where_its_partner_is_is_inferred(graphql):
    body = await graphql(
        """{ program(slug: "childfund-korea-education-support-project") {
               locations { edges { node { slug } provenance { basis note }
                                   citations { quote } } } } }"""
    )
    (edge,) = body["data"]["program"]["locations"]["edges"]
    assert edge["node"]["slug"] == "south-korea"
    assert edge["provenance"]["basis"] == "INFERRED"
    assert edge["citations"] == [{"quote": "Location: South Korea"}]


async def test_inferences_about_the_company_are_marked(graphql):
    body = await graphql(
        """{ company(slug: "sony-music") { alternativeNames provenance { fields { field basis } }
               people { edges { node { slug } provenance { basis note } } }
               stated: people(filter: {statedOnly: true}) { nodes { slug } } }
             figure(slug: "committed-6-5-million-since-2020") { unit provenance {
               fields { field basis note } } } }"""
    )
    company = body["data"]["company"]
    assert company["alternativeNames"] == ["Sony Music Group", "Sony"]
    assert {"field": "alternativeNames", "basis": "INFERRED"} in company["provenance"]["fields"]
    people = {e["node"]["slug"]: e["provenance"] for e in company["people"]["edges"]}
    assert people["rob-stringer"]["basis"] == "INFERRED"
    # the text calls her one of the "company leaders" and never names the company there (it
    # was STATED: no check asked that a quote name a person's company)
    assert people["patricia-sedano"]["basis"] == "INFERRED"
    assert "company leaders" in people["patricia-sedano"]["note"]
    assert company["stated"]["nodes"] == []
    (unit,) = body["data"]["figure"]["provenance"]["fields"]
    assert (unit["field"], unit["basis"]) == ("unit", "INFERRED")
    assert "$" in unit["note"]


async def test_stated_only_keeps_what_the_documents_say(graphql):
    body = await graphql(
        """{ all: programs(first: 100) { totalCount }
             stated: programs(first: 100, filter: {statedOnly: true}) { totalCount }
             every: programs(first: 100) { nodes { slug provenance { basis } } }
             company(slug: "sony-music") {
               programs(first: 100, filter: {statedOnly: true}) { nodes { slug } }
               every: programs(first: 100) { edges { node { slug } provenance { basis } } } }
             report(slug: "global-impact-report-2023") {
               highlights(filter: {statedOnly: true}) { totalCount } } }"""
    )
    data = body["data"]
    # "Other programs have aimed to" do three things: one program an aim is a reading
    inferred = {p["slug"] for p in data["every"]["nodes"] if p["provenance"]["basis"] != "STATED"}
    assert inferred == {
        "miles-marketing-leadership-program",
        "miles-equitable-pay-program",
        "miles-facilities-program",
    }
    assert data["stated"]["totalCount"] == data["all"]["totalCount"] - len(inferred)
    # No program's quotes name Sony Music as whose program it is: they say "the company",
    # "it" or "Sony", or name Sony Music for another thing ("enhancing Sony Music
    # facilities"). MILES and most others were STATED: no check asked a quote to name it.
    every = data["company"]["every"]["edges"]
    assert len(every) == data["all"]["totalCount"]  # (every program is Sony Music's)
    stated = [{"slug": e["node"]["slug"]} for e in every if e["provenance"]["basis"] == "STATED"]
    assert data["company"]["programs"]["nodes"] == stated == []
    assert data["report"]["highlights"]["totalCount"] == 0  # the highlights rest on layout


# --- the facts that were missing, each with its quote ------------------------------------


async def test_the_publisher_is_an_organisation(graphql):
    body = await graphql(
        """{ document(slug: "staying-connected-at-sony-music") { publishedBy {
               name address location { name countryCode }
               owner { name citations { quote } owns { nodes { slug } } }
               citations { quote } provenance { fields { field basis } } } } }"""
    )
    publisher = body["data"]["document"]["publishedBy"]
    assert publisher["name"] == "Hispanic Executive"
    assert publisher["address"] == "1500 W Carroll Suite 200\nChicago, IL 60607"
    assert publisher["location"] == {"name": "Chicago", "countryCode": "US"}
    assert any(publisher["address"] in c["quote"] for c in publisher["citations"])
    assert publisher["owner"]["name"] == "Guerrero LLC"
    assert publisher["owner"]["owns"]["nodes"] == [{"slug": "hispanic-executive"}]
    quotes = [c["quote"] for c in publisher["citations"]]
    assert "Hispanic Executive is a registered trademark of Guerrero LLC." in quotes
    assert {"field": "address", "basis": "INFERRED"} in publisher["provenance"]["fields"]


async def test_rob_stringers_words_and_letter(graphql):
    body = await graphql(
        """{ person(slug: "rob-stringer") { statements { nodes {
               text medium report { slug } citations { quote } } } } }"""
    )
    (statement,) = body["data"]["person"]["statements"]["nodes"]
    assert statement["medium"] == "a letter introducing the report"
    assert statement["report"] == {"slug": "global-impact-report-2023"}
    assert statement["text"].startswith("ongoing commitment to equity, transparency")
    assert statement["text"] in statement["citations"][0]["quote"]


async def test_the_reports_topics_and_highlights(graphql):
    body = await graphql(
        """{ report(slug: "global-impact-report-2023") { topics citations { quote }
               highlights(first: 100) { totalCount nodes { slug } } } }"""
    )
    report = body["data"]["report"]
    assert report["topics"] == [
        "the employee experience",
        "diversity, equity, and inclusion (DEI)",
        "artists",
        "songwriter\u2019s health",
    ]
    quotes = " ".join(c["quote"] for c in report["citations"])
    assert all(topic in quotes for topic in report["topics"])
    slugs = {n["slug"] for n in report["highlights"]["nodes"]}
    assert {"miles", "real-time-artist-tools", "un-refugee-agency-commitment"} <= slugs
    assert "global-social-justice-fund" not in slugs  # the other document's
    assert report["highlights"]["totalCount"] == 18


async def test_the_heritage_month_is_in_may(graphql):
    body = await graphql(
        """{ program(slug: "apida-heritage-month-2024") { month citations { quote }
               provenance { fields { field basis note } } } }"""
    )
    program = body["data"]["program"]
    assert program["month"] == 5
    assert any("beyond the month of May" in c["quote"] for c in program["citations"])
    fields = {f["field"]: f for f in program["provenance"]["fields"]}
    assert fields["month"]["basis"] == "INFERRED"
    assert "May" in fields["month"]["note"]


async def test_alternative_names_are_quoted_and_filterable(graphql):
    body = await graphql(
        """{ company(slug: "sony-music") { alternativeNames citations { quote } }
             companies(filter: {nameContains: "sony music group"}) { nodes { slug } }
             locations(filter: {nameContains: "us", kind: [COUNTRY]}) { nodes { slug } } }"""
    )
    company = body["data"]["company"]
    for name in company["alternativeNames"]:
        assert any(_mentions(c["quote"], name) for c in company["citations"]), name
    assert body["data"]["companies"]["nodes"] == [{"slug": "sony-music"}]
    assert {"slug": "united-states"} in body["data"]["locations"]["nodes"]


async def test_by_the_numbers_is_a_group_of_unlabeled_pairs(graphql):
    body = await graphql(
        """{ figureGroup(slug: "by-the-numbers-since-2020") { title caption report { slug }
               pairs { nodes { position citations { quote }
                 figures { nodes { label kind value unit qualifier } } } } } }"""
    )
    group = body["data"]["figureGroup"]
    assert group["title"] == "By the Numbers"
    assert group["caption"] == "Sony Music\u2019s group spending and support since 2020"
    assert group["report"] == {"slug": "global-impact-report-2023"}
    pairs = group["pairs"]["nodes"]
    assert [p["position"] for p in pairs] == [1, 2, 3]
    expected = [(30000000, 450), (6500000, 500), (4500000, 230)]
    for pair, (amount, count) in zip(pairs, expected, strict=True):
        figures = pair["figures"]["nodes"]
        assert [(f["kind"], f["value"]) for f in figures] == [("MONEY", amount), ("COUNT", count)]
        assert all(f["label"] is None for f in figures)  # the text labels none of them
        (quote,) = [c["quote"] for c in pair["citations"]]
        assert "committed\n\n" in quote
        assert quote.endswith("organizations supported")


# --- the loader refuses what breaks the rules, naming the item ---------------------------


def _refused(tmp_path: Path, data: dict[str, Any]) -> str:
    with pytest.raises(SeedError) as raised:
        read_seeds(write_seed_tree(tmp_path / "seeds", data))
    return str(raised.value)


def _item(data: dict[str, Any], section: str, slug: str) -> dict[str, Any]:
    """The extraction's item of that slug in that section (`programs`, `locations`, ...)."""
    found: dict[str, Any] = next(item for item in data[section] if item["slug"] == slug)
    return found


def _fund_partner(data: dict[str, Any], slug: str) -> dict[str, Any]:
    fund = _item(data, "programs", "global-social-justice-fund")
    return next(link for link in fund["partners"] if link["partner"] == slug)


def test_an_inference_without_a_note_is_refused(tmp_path):
    data = graph_data()
    _fund_partner(data, "childfund-korea")["provenance"] = {"basis": "INFERRED"}
    message = _refused(tmp_path, data)
    assert "program 'global-social-justice-fund' -> partner 'childfund-korea'" in message
    assert "INFERRED without a note" in message


def test_a_stated_link_whose_quotes_never_name_its_target_is_refused(tmp_path):
    data = graph_data()
    del _fund_partner(data, "enabling-leadership-inc")["provenance"]
    message = _refused(tmp_path, data)
    assert "program 'global-social-justice-fund' -> partner 'enabling-leadership-inc'" in message
    assert "none of its quotes names the partner" in message


def test_a_reference_without_a_source_and_an_unknown_field_are_refused(tmp_path):
    data = graph_data()
    spain = _item(data, "locations", "madrid")
    spain["provenance"]["fields"]["country_code"] = {"basis": "REFERENCE"}
    assert "location 'madrid' field 'country_code' is REFERENCE without naming its source" in (
        _refused(tmp_path, data)
    )
    data = graph_data()
    spain = _item(data, "locations", "madrid")
    spain["provenance"]["fields"]["budget"] = {"basis": "STATED"}
    assert "location 'madrid' gives a basis for field 'budget': no such field" in (
        _refused(tmp_path / "2", data)
    )


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda text: "words he never said", id="none-of-it"),
        pytest.param(lambda text: text + " And we promise to double it.", id="its-end"),
    ],
)
def test_a_statement_not_within_its_quote_is_refused(tmp_path, edit):
    data = graph_data()
    data["statements"][0]["text"] = edit(data["statements"][0]["text"])
    message = _refused(tmp_path, data)
    assert "statement 'rob-stringer-global-impact-report-2023-letter'" in message


def test_an_abbreviation_matches_only_as_written(tmp_path):
    data = graph_data()
    rob = _item(data, "people", "rob-stringer")
    # it names the person, and "us", not "US"
    quote = (
        "carrying us closer to a more fulfilling workplace experience and community-focused "
        "industry with an active role played by our company,\u201d said Chairman Rob Stringer"
    )
    rob["locations"] = [
        {
            "location": "united-states",
            "citations": [{"document": "staying-connected-at-sony-music", "quote": quote}],
        }
    ]
    message = _refused(tmp_path, data)
    assert "person 'rob-stringer' -> location 'united-states' is STATED" in message
    assert "none of its quotes names the location (as 'US' or 'United States')" in message


def test_names_and_captions_must_be_quoted(tmp_path):
    data = graph_data()
    _item(data, "partners", "enabling-leadership-inc")["alternative_names"] = ["ELI"]
    assert "partner 'enabling-leadership-inc' field 'alternative_names': 'ELI'" in (
        _refused(tmp_path, data)
    )
    data = graph_data()
    data["reports"][0]["topics"].append("climate")
    assert "report 'global-impact-report-2023' field 'topics': 'climate'" in (
        _refused(tmp_path / "2", data)
    )
    data = graph_data()
    data["figure_groups"][0]["caption"] = "Totals by fund"
    assert "field 'caption': 'Totals by fund' is in none of its quotes" in (
        _refused(tmp_path / "3", data)
    )


def test_a_statement_given_to_someone_its_quote_does_not_name_is_refused(tmp_path):
    data = graph_data()
    data["statements"][0]["person"] = "patricia-sedano"
    message = _refused(tmp_path, data)
    assert "statement 'rob-stringer-global-impact-report-2023-letter' field 'person'" in message
    assert "none of its quotes names the person" in message


async def test_stated_only_leaves_out_an_item_that_is_inferred_itself(empty_store: Store):
    """No seed item is inferred as a whole; one made so here is left out of every list that
    keeps stated facts, root and nested, on both executors. (Its link to its place is
    inferred too: a stated link must name the item, and an inferred item's names are
    inferred.)"""
    data = graph_data()
    partner = _item(data, "partners", "childfund-korea")
    partner["provenance"] = {"basis": "INFERRED", "note": "A test."}
    partner["locations"][0]["provenance"] = {"basis": "INFERRED", "note": "A test."}
    plan = build_plan(read_documents(SEEDS_DIR / "documents"), data, "altered")
    await write_seeds(empty_store.engine, plan)
    query = """{ partners(filter: {statedOnly: true}) { nodes { slug } }
        location(slug: "south-korea") { partners(filter: {statedOnly: true}) { totalCount } }
        partner(slug: "childfund-korea") { provenance { basis note } } }"""
    for executor in ("auto", "reference"):
        async with make_client(empty_store.engine, executor=executor) as http:
            body = (await http.post("/graphql", json={"query": query})).json()
        assert "errors" not in body, body
        slugs = [n["slug"] for n in body["data"]["partners"]["nodes"]]
        assert "childfund-korea" not in slugs
        assert "apia-vote" in slugs
        assert body["data"]["location"]["partners"]["totalCount"] == 0
        assert body["data"]["partner"]["provenance"] == {"basis": "INFERRED", "note": "A test."}


def test_places_codes_years_and_months_must_be_quoted_or_say_why(tmp_path):
    """A STATED place link, country code, year or month that no quote gives is refused."""
    cases = []
    data = graph_data()
    del _item(data, "locations", "battambang")[
        "provenance"
    ]  # parent and code would rest on the quote
    cases.append((data, "location 'battambang' field 'country_code': 'KH'"))
    data = graph_data()
    _item(data, "locations", "battambang")["provenance"]["fields"].pop("parent")
    cases.append((data, "location 'battambang' field 'parent' is STATED"))
    data = graph_data()
    data["companies"][0]["founded_in"] = "miami"
    cases.append((data, "company 'sony-music' field 'founded_in' is STATED"))
    data = graph_data()
    _item(data, "locations", "madrid").pop("provenance")
    cases.append((data, "location 'madrid' field 'country_code': 'ES'"))
    data = graph_data()
    _item(data, "programs", "miles")["launched_year"] = 1999
    cases.append((data, "program 'miles' field 'launched_year': '1999'"))
    data = graph_data()
    month = _item(data, "programs", "apida-heritage-month-2024")
    month["month"] = 7
    del month["provenance"]["fields"]["month"]
    cases.append((data, "field 'month': 'July' is in none of its quotes"))
    for number, (altered, expected) in enumerate(cases):
        assert expected in _refused(tmp_path / str(number), altered)


def test_a_relation_its_fields_do_not_list_shares_the_items_basis_not_its_note():
    """The item's note and source say why the item is inferred (its words, its figures); an
    edge through a field its `fields` do not list rests on that basis, without words that
    were written about something else."""
    item = {
        "basis": "INFERRED",
        "note": "The text says other programs aimed to.",
        "source": "https://example.org",
        "fields": [{"field": "parent", "basis": "STATED", "note": None, "source": None}],
    }
    assert relation(item, "company") == {
        "basis": "INFERRED",
        "note": None,
        "source": None,
        "fields": [],
    }
    assert relation(item, "parent")["basis"] == "STATED"
