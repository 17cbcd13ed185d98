"""`search(query:)` over HTTP on both stores: word forms, phrases, misspellings, types, paging,
highlights, refusals, and the same hits with the same scores on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from db.mapping import NAME_WEIGHT, SEARCHABLE
from db.words import STOP_WORDS, fuzzy_text, terms, trigrams, words
from seeds.read import read_seeds
from seeds.search_rows import passage_spans
from seeds.write import write_seeds
from semantics.opaque import decode_token, encode_token
from semantics.search_query import parse_search
from tests.conftest import Store, make_client
from tests.factories import graph_data, write_seed_tree

HIT = """
  cursor score
  highlights { field index text start end }
  node {
    __typename id
    ... on Company { name alternativeNames description }
    ... on Person { name jobTitle: title }
    ... on Report { title }
    ... on Program { programName: name description }
    ... on Partner { name shortName alternativeNames description }
    ... on Location { name alternativeNames }
    ... on Organization { name alternativeNames description }
    ... on Document { title }
    ... on Passage { text start end document { slug text } }
  }
"""
SEARCH = f"""
query Search($query: String!, $first: Int, $after: String, $types: [SearchableType!]) {{
  search(query: $query, first: $first, after: $after, types: $types) {{
    totalCount
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ {HIT} }}
  }}
}}
"""
PARITY_QUERIES = [
    "refugees",
    "refugee agency",
    "benefit",
    "benefits",
    "Enabeling Leadership",
    "Sony Musc",
    '"social justice fund"',
    '"Global Social Justice Fund"',
    "music -sony",
    "fund or foundation",
    "APIA",
    "mental health",
    "New York",
    "Patricia Sedano",
    "asian pacific islander",
    '"asian and pacific"',
    "leaders",
    "2023",
    "employees",
    # words the stores' own stemmers reduced differently (FTS5's Porter made `us` of `used`,
    # `commun` of `community` and `communication`, `on` of `one`)
    "US",
    "used",
    "uses",
    "general",
    "generous",
    "leadership",
    "organizations",
    "organisation",
    "community",
    "communication",
    "one",
    "additionally",
    '"a fund for"',  # common words inside a phrase
    "fund ors music",  # `ors` is reduced to `or`, a word, not the operator
]


async def _search(graphql: Any, query: str, **variables: Any) -> dict[str, Any]:
    body = await graphql(SEARCH, {"query": query, **variables})
    assert "errors" not in body, body
    return body["data"]["search"]


# Fields of the same name and another nullability are selected under another name.
ALIASES = {("Program", "name"): "programName", ("Person", "title"): "jobTitle"}


def _value(node: dict[str, Any], field: str) -> Any:
    return node.get(ALIASES.get((node["__typename"], field), field))


def _names(found: dict[str, Any]) -> list[str]:
    return [
        _value(edge["node"], "name") or _value(edge["node"], "title") or edge["node"]["__typename"]
        for edge in found["edges"]
    ]


def _field_value(node: dict[str, Any], highlight: dict[str, Any]) -> str:
    value = _value(node, highlight["field"])
    return value if highlight["index"] is None else value[highlight["index"]]


def _check_highlights(found: dict[str, Any]) -> None:
    for edge in found["edges"]:
        assert edge["highlights"], edge
        for mark in edge["highlights"]:
            value = _field_value(edge["node"], mark)
            assert value[mark["start"] : mark["end"]] == mark["text"], mark
            assert 0 <= mark["start"] < mark["end"] <= len(value)


async def test_word_forms_find_each_other(graphql):
    found = await _search(graphql, "refugees")
    assert "United Nations\u2019 refugee agency" in _names(found)
    _check_highlights(found)
    marks = [m["text"].casefold() for e in found["edges"] for m in e["highlights"]]
    assert set(marks) == {"refugee"}
    singular = await _search(graphql, "benefit")
    plural = await _search(graphql, "benefits")
    assert [e["node"]["id"] for e in singular["edges"]] == [
        e["node"]["id"] for e in plural["edges"]
    ]
    assert singular["totalCount"] > 0
    assert any("benefits" in m["text"] for e in singular["edges"] for m in e["highlights"])


async def test_us_finds_the_united_states_not_used_or_miles(graphql):
    """`US` is a word of its own: an alternative name of the United States, not a form of
    `used` (Porter's stem of both) nor in `MILES`; its highlight is the name, not all of it."""
    found = await _search(graphql, "US", first=100)
    _check_highlights(found)
    place = next(e for e in found["edges"] if _value(e["node"], "name") == "United States")
    assert place["node"]["__typename"] == "Location"
    assert place["highlights"] == [
        {"field": "alternativeNames", "index": 0, "text": "US", "start": 0, "end": 2}
    ]
    for edge in found["edges"]:
        own = [_value(edge["node"], f) for f in ("name", "title", "text", "description")]
        assert "miles" not in " ".join(v for v in own if isinstance(v, str)).casefold(), edge
        for mark in edge["highlights"]:
            assert mark["text"].casefold() == "us", edge
    used = await _search(graphql, "used", first=100)
    _check_highlights(used)
    for edge in used["edges"]:
        if _value(edge["node"], "name") == "United States":  # `US` is like `used`, no more
            assert edge["score"] < 4
        else:
            assert {m["text"].casefold() for m in edge["highlights"]} <= {"use", "used", "uses"}
    uses = await _search(graphql, "uses", first=100)
    assert _tiers(uses) == _tiers(used)


async def test_names_rank_above_descriptions_above_passages(graphql):
    found = await _search(graphql, "refugees")
    kinds = [(e["node"]["__typename"], e["score"]) for e in found["edges"]]
    assert kinds[0] == ("Partner", 4.0)  # its name
    assert ("Program", 2.0) in kinds  # a description
    assert kinds[-1] == ("Passage", 1.0)
    scores = [score for _, score in kinds]
    assert scores == sorted(scores, reverse=True)


async def test_a_phrase_matches_words_in_order(graphql):
    found = await _search(graphql, '"social justice fund"')
    assert "Global Social Justice Fund" in _names(found)
    program = next(
        e for e in found["edges"] if _value(e["node"], "name") == "Global Social Justice Fund"
    )
    assert [m["text"] for m in program["highlights"] if m["field"] == "name"] == [
        "Social Justice Fund"
    ]
    reversed_words = await _search(graphql, '"fund justice social"')
    assert reversed_words["totalCount"] == 0
    _check_highlights(found)


def _full_width(text: str) -> str:
    """ASCII as a Japanese or Chinese keyboard types it (U+FF01..), syntax included (review:
    a full-width minus included what it should leave out, and `or` was a word)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    "query", ["Sony Music", '"social justice fund"', "refugees -ukraine", "pakistan or ukraine"]
)
async def test_words_typed_in_full_width_letters_find_what_ascii_finds(graphql, query):
    """A query in full-width letters found only what misspelt names found (the full-text
    words were not read in their compatibility form), on both stores."""
    typed = _full_width(query)
    assert typed != query
    ascii_found = await _search(graphql, query)
    found = await _search(graphql, typed)
    assert ascii_found["totalCount"] > 0
    assert found["totalCount"] == ascii_found["totalCount"]
    assert found["edges"] == ascii_found["edges"]  # the same hits, scores and highlights


@pytest.mark.parametrize(
    "value",
    [
        "Mu\u0308nchen",  # decomposed, as macOS may write it
        "\u095b\u093f\u0902\u0926\u0917\u0940",  # Hindi, a letter NFKC always decomposes
        "\uff71\uff9e",  # half-width katakana with its voicing mark
        "\uff33\uff4f\uff4e\uff59 \ufb01nance",
    ],
)
def test_a_value_typed_as_a_query_asks_for_the_words_it_is_indexed_by(value):
    """The index and a query read words by one function: a query normalised as a whole, and
    a value only word by word, parted some words differently (review: a decomposed
    `München` no longer found itself)."""
    (alternative,) = parse_search(value).alternatives
    asked = [word for phrase in alternative.include for word in phrase.words]
    assert asked == terms(value).split()


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("refugee -or agency", "refugee agency"),  # `-or` is no `or`: a common word, left out
        ('"justice for"', '"justice"'),  # a phrase's common words at its ends are dropped
        ('"for the justice"', '"justice"'),
    ],
)
def test_what_a_query_asks_is_read_as_the_readme_says(written, meant):
    assert parse_search(written).alternatives == parse_search(meant).alternatives
    (alternative,) = parse_search(written).alternatives
    assert alternative.include


def test_a_phrase_keeps_the_common_words_inside_it():
    (alternative,) = parse_search('"justice for the fund"').alternatives
    ((_, *inside, _),) = (phrase.words for phrase in alternative.include)
    assert inside == ["for", "the"]


async def test_a_name_a_reseed_took_away_is_not_found_by_its_misspelling(
    empty_store: Store, tmp_path: Path
) -> None:
    """A misspelt word is found by the words' trigrams; a reseed that renames a place keeps
    the new name's and drops the old one's (kept, the old name still found the place)."""
    data = graph_data()
    (country,) = [place for place in data["locations"] if place["slug"] == "united-states"]
    country["provenance"]["fields"]["alternative_names"] = {
        "basis": "REFERENCE",
        "source": "a test's own",
        "note": "A name no document gives.",
    }
    found = []
    for name in ("Zyxwvutsrq", "Qponmlkjih"):
        country["alternative_names"] = ["US", name]  # (the quotes name it "US")
        seeds = write_seed_tree(tmp_path / name, data)
        await write_seeds(empty_store.engine, read_seeds(seeds))
        async with make_client(empty_store.engine) as http:
            for misspelt in ("Zyxwvutsr", "Qponmlkji"):
                variables = {"query": misspelt, "types": ["LOCATION"]}
                body = {"query": SEARCH, "variables": variables}
                answer = (await http.post("/graphql", json=body)).json()
                found.append(_names(answer["data"]["search"]))
    assert found == [["United States"], [], [], ["United States"]]


async def test_a_word_written_decomposed_is_found_composed_and_the_other_way(
    empty_store: Store, tmp_path: Path
) -> None:
    """A Latin letter's accent may be a mark of its own (`E\u0301`, as macOS may write it):
    the word is still one word, found however the query writes it, on both stores, and its
    highlight marks the value as stored (the mark parted it in two: `e` and `tats`)."""
    data = graph_data()
    (country,) = [place for place in data["locations"] if place["slug"] == "united-states"]
    # (and a mark no letter composes with, which parts its word, as before: FTS5 parts
    # words at it and PostgreSQL does not, so it would find the parts on one store only)
    country["alternative_names"] = [
        "US",
        "E\u0301tats-Unis d\u2019Ame\u0301rique",
        "Pe\u030dh-\u014de-j\u012b",
    ]
    # names no quote gives: a reference's (the seed files refuse them unquoted otherwise)
    country["provenance"]["fields"]["alternative_names"] = {
        "basis": "REFERENCE",
        "source": "Unicode CLDR",
        "note": "The country's names in French and in Taiwanese Hokkien.",
    }
    await write_seeds(empty_store.engine, read_seeds(write_seed_tree(tmp_path, data)))
    async with make_client(empty_store.engine) as http:

        async def search(query: str) -> dict[str, Any]:
            body = {"query": SEARCH, "variables": {"query": query, "types": ["LOCATION"]}}
            answer = (await http.post("/graphql", json=body)).json()
            assert "errors" not in answer, answer
            found: dict[str, Any] = answer["data"]["search"]
            return found

        for query in ("\u00c9tats-Unis", "E\u0301tats-Unis", "ame\u0301rique", "AM\u00c9RIQUE"):
            found = await search(query)
            assert _names(found) == ["United States"], query
            _check_highlights(found)
            marks = [m["text"] for m in found["edges"][0]["highlights"]]
            assert any("E\u0301tats" in m or "Ame\u0301rique" in m for m in marks), marks
        assert (await search("tats"))["totalCount"] == 0  # a part of the word is not a word
        for query in ("Pe\u030dh", "pe", "h"):
            found = await search(query)
            assert _names(found) == ["United States"], query
            _check_highlights(found)
    assert [(w.text, w.start, w.end) for w in words("Pe\u030dh")] == [("pe", 0, 2), ("h", 3, 4)]
    # letters whose casefolded form is decomposed again: still the words their composed forms
    # are (review: `I\u0307stanbul` was `i` and `stanbul`, `\u0130stanbul` one word)
    for composed, decomposed in (("\u0130stanbul", "I\u0307stanbul"), ("\u01f0x", "j\u030cx")):
        assert [w.text for w in words(decomposed)] == [w.text for w in words(composed)]


def test_a_words_compatibility_form_spans_what_the_value_writes():
    """Words are read in their compatibility form, but each spans the value as written, so a
    highlight marks the text the value holds."""
    value = "\ufb01nance \uff33ony \u00bd"  # a ligature, a full-width S, one half
    assert [(w.text, w.start, w.end) for w in words(value)] == [
        ("finance", 0, 6),
        ("sony", 7, 11),
        ("1", 12, 13),
        ("2", 12, 13),
    ]
    assert terms(value) == terms("finance Sony 1 2")
    # a mark casefolding leaves on its letter stays in its word, beside anything (review:
    # `\u01f0a` was parted into `j` and `a`, `\u0130stanbul\u00b2` into `i` and `stanbul2`)
    assert [w.text for w in words("\u01f0a \u0130stanbul \u0130stanbul\u00b2")] == [
        "\u01f0a".casefold(),
        "\u0130stanbul".casefold(),
        "\u0130stanbul2".casefold(),
    ]


async def test_a_misspelt_name_finds_its_entity(graphql):
    found = await _search(graphql, "Enabeling Leadership")
    assert _names(found)[0] == "Enabling Leadership Inc"
    first = found["edges"][0]
    assert 0 < first["score"] < 4
    assert {m["text"] for m in first["highlights"]} == {"Enabling", "Leadership"}
    _check_highlights(found)


async def test_excluded_words_and_alternatives(graphql):
    music = await _search(graphql, "music", first=100)
    without = await _search(graphql, "music -sony", first=100)
    assert 0 < without["totalCount"] < music["totalCount"]
    for edge in without["edges"]:
        assert not any(m["text"].casefold() == "sony" for m in edge["highlights"])
    fund = await _search(graphql, "fund", first=100)
    foundation = await _search(graphql, "foundation", first=100)
    either = await _search(graphql, "fund or foundation", first=100)
    ids = {e["node"]["id"] for e in fund["edges"]} | {e["node"]["id"] for e in foundation["edges"]}
    assert {e["node"]["id"] for e in either["edges"]} == ids


async def test_types_limit_what_is_found(graphql):
    everything = await _search(graphql, "refugees")
    partners = await _search(graphql, "refugees", types=["PARTNER"])
    assert [e["node"]["__typename"] for e in partners["edges"]] == ["Partner"]
    passages = await _search(graphql, "refugees", types=["PASSAGE", "PROGRAM"])
    assert {e["node"]["__typename"] for e in passages["edges"]} == {"Passage", "Program"}
    assert partners["totalCount"] + passages["totalCount"] == everything["totalCount"]


async def test_pages_follow_each_other_with_cursors(graphql):
    whole = await _search(graphql, "music", first=100)
    assert whole["totalCount"] > 5
    seen: list[str] = []
    after = None
    while True:
        page = await _search(graphql, "music", first=2, after=after)
        assert page["totalCount"] == whole["totalCount"]
        assert page["pageInfo"]["hasPreviousPage"] is False
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        # a seek that does not move on (a page again) would walk for ever
        assert len(seen) <= whole["totalCount"], "the pages go on past every hit"
        after = page["pageInfo"]["endCursor"]
    assert seen == [e["node"]["id"] for e in whole["edges"]]
    assert (await _search(graphql, "music", first=0))["edges"] == []
    exactly = await _search(graphql, "music", first=whole["totalCount"])  # all, and no more
    assert exactly["pageInfo"]["hasNextPage"] is False


async def test_a_cursor_is_bound_to_its_search(graphql):
    page = await _search(graphql, "music", first=1)
    cursor = page["pageInfo"]["endCursor"]
    for variables in ({"query": "sony"}, {"query": "music", "types": ["PASSAGE"]}):
        body = await graphql(SEARCH, {**variables, "after": cursor})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "another list" in body["errors"][0]["message"]
    body = await graphql(SEARCH, {"query": "music", "after": "bm90IGEgY3Vyc29y"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("score", ["\u00b2", "\u0661\u0662", "12\n"])  # ², ١٢ pass `isdigit`
async def test_a_cursor_whose_score_is_not_ascii_digits_is_a_bad_cursor(graphql, score):
    """A cursor's score spelled in other digits was an internal error (`int("²")`), two
    stacks in the log a request, or read as another number (`١٢` is 12)."""
    page = await _search(graphql, "refugees", first=1)
    prefix, separator, key = decode_token(
        page["pageInfo"]["endCursor"], max_length=1000, problem="ours", argument="after"
    ).rpartition("::")
    assert separator
    real_score, _, place = key.partition(":")
    assert real_score.isdigit()
    forged = f"{prefix}::{score}:{place}"
    body = await graphql(SEARCH, {"query": "refugees", "after": encode_token(forged)})
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "`after` is not a valid cursor"


async def test_a_cursor_naming_a_type_search_does_not_find_is_a_bad_cursor(graphql):
    """A cursor's place names a type search finds; one naming another (a client can spell
    one: the scope is a public hash) is no place in its order."""
    page = await _search(graphql, "refugees", first=1)
    prefix, separator, key = decode_token(
        page["pageInfo"]["endCursor"], max_length=1000, problem="ours", argument="after"
    ).rpartition("::")
    score, type_name, slug = key.split(":", 2)
    assert separator
    assert type_name != "Figure"
    forged = f"{prefix}::{score}:Figure:{slug}"  # a type with slugs, which search finds not
    body = await graphql(SEARCH, {"query": "refugees", "after": encode_token(forged)})
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "`after` is not a valid cursor"


async def test_passages_are_paragraphs_of_their_document(graphql):
    found = await _search(graphql, "leaders", types=["PASSAGE"])
    assert found["totalCount"] > 0
    for edge in found["edges"]:
        passage = edge["node"]
        document = passage["document"]["text"]
        assert document[passage["start"] : passage["end"]] == passage["text"]
        assert "\n" not in passage["text"]
        assert passage["text"] == passage["text"].strip()
        refetched = await graphql(
            "query($id: ID!) { node(id: $id) { id ... on Passage { text } } }",
            {"id": passage["id"]},
        )
        assert refetched["data"]["node"] == {"id": passage["id"], "text": passage["text"]}
    _check_highlights(found)


def test_passages_are_the_non_empty_lines():
    assert passage_spans("a\n\n  b c  \n\t\n•\nd") == [(0, 1), (5, 8), (15, 16)]


@pytest.mark.parametrize("query", ["", "a", "the of and", '"" - OR', '"', "*** ^ :", "-sony"])
async def test_a_query_with_nothing_to_search_finds_nothing(graphql, query):
    """What a search box holds while its user types: an error here nulled the whole answer
    (`search` is a root field), siblings and all."""
    body = await graphql(
        "query($query: String!) { search(query: $query) { totalCount nodes { id } "
        "pageInfo { hasNextPage } } companies { totalCount } }",
        {"query": query},
    )
    assert "errors" not in body, body
    assert body["data"]["search"] == {
        "totalCount": 0,
        "nodes": [],
        "pageInfo": {"hasNextPage": False},
    }
    assert body["data"]["companies"]["totalCount"] == 1


async def test_an_emptied_search_box_with_a_stale_cursor_finds_nothing(graphql):
    """The user paged through "music", then cleared the box: the page's `after` is of
    another search, but nothing to search finds nothing whatever the cursor says."""
    cursor = (await _search(graphql, "music", first=1))["pageInfo"]["endCursor"]
    for query, after in (("", cursor), ("the", cursor), ("", "bm90IGEgY3Vyc29y")):
        body = await graphql(SEARCH, {"query": query, "after": after})
        assert "errors" not in body, (query, after, body)
        assert body["data"]["search"]["totalCount"] == 0
        assert body["data"]["search"]["edges"] == []
    body = await graphql(SEARCH, {"query": "refugees", "after": cursor})  # a real search's
    assert body["errors"][0]["extensions"]["argument"] == "after"


async def test_an_alternative_of_only_left_out_words_finds_nothing(graphql):
    """`music or -sony` finds what `music` finds (`-sony` alone asks for no word)."""
    query = "query($query: String!) { search(query: $query) { nodes { id } } }"
    either = await graphql(query, {"query": "refugees or -sony"})
    alone = await graphql(query, {"query": '"refugees"'})  # (not plain: no misspellings)
    assert either["data"] == alone["data"]
    assert either["data"]["search"]["nodes"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [("x" * 201, "longer than 200"), ("music\x00", "control characters")],
)
async def test_a_query_too_long_or_holding_control_characters_is_refused(graphql, query, problem):
    body = await graphql(SEARCH, {"query": query})
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert problem in error["message"]


@pytest.mark.parametrize(
    "query",
    [
        "NEAR(music sony)",
        "music*",
        "^music",
        "name:music",
        'music" OR "x',
        "'; DROP TABLE search_entries; --",
        "music AND NOT sony",
        "\\ % _ ' ` ( ) { } [ ]",
        "x" * 200,
        "a" * 199 + " music",
        "\u00e9\u00e8 \u4e2d\u6587 \U0001f3b5 music",
        '"unclosed phrase music',
        "--music",
        "music or or or",
    ],
)
async def test_hostile_queries_are_only_words(graphql, query):
    body = await graphql(SEARCH, {"query": query, "first": 100})
    text_ = str(body).casefold()
    for leak in ("select", "fts5", "syntax error", "traceback", "tsquery", "sqlite", "asyncpg"):
        assert leak not in text_, body
    if "errors" in body:
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    else:
        _check_highlights(body["data"]["search"])


async def test_page_size_is_limited_and_priced(client):
    response = await client.post(
        "/graphql", json={"query": '{ search(query: "music", first: 101) { totalCount } }'}
    )
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    priced = await client.post(
        "/graphql",
        json={"query": '{ search(query: "music", first: 7) { nodes { id } } }'},
    )
    assert priced.json()["extensions"]["cost"]["estimated"] == 7
    nested = await client.post(
        "/graphql",
        json={
            "query": '{ search(query: "fund", first: 50) { nodes { ... on Program '
            "{ partners(first: 100) { nodes { id } } } } } }"
        },
    )
    cost = nested.json()["extensions"]["cost"]
    assert cost["estimated"] == 50 + 50 * 3  # no program has more than 3 partners
    assert cost["actual"] <= cost["estimated"]


@pytest.mark.postgres
async def test_python_trigrams_are_pg_trgms(store: Store):
    """SQLite's trigrams (db/words.py) are the ones pg_trgm makes, for every name search
    matches by similarity and for queries."""
    async with store.engine.connect() as connection:
        names = (
            await connection.execute(text("SELECT fuzzy FROM search_entries WHERE fuzzy <> ''"))
        ).scalars()
        values = [*names, *(fuzzy_text(q) for q in PARITY_QUERIES), fuzzy_text("Zürich 9-to-5")]
        for value in values:
            made = await connection.execute(text("SELECT show_trgm(:v)"), {"v": value})
            assert set(made.scalar_one()) == trigrams(value), value


async def test_stores_index_the_reduced_words_as_they_are(store: Store):
    """Neither store reduces or splits again the words db/words.py reduced: each indexes
    exactly the words of `terms` (Snowball's forms: `used` is `use`, `us` stays `us`)."""
    samples = ["US used uses", "Zürich 9-to-5 \u4e2d\u6587", "communities communication"]
    assert [terms(sample) for sample in samples] == [
        "us use use",
        "zürich 9 to 5 \u4e2d\u6587",
        "communiti communic",
    ]
    async with store.engine.connect() as connection:  # rolled back when it closes
        values = list(
            (await connection.execute(text("SELECT terms FROM search_entries"))).scalars()
        )
        if store.engine.dialect.name == "postgresql":
            statement = text("SELECT tsvector_to_array(to_tsvector('simple', :v))")
            for value in [*values, *map(terms, samples)]:
                made = await connection.execute(statement, {"v": value})
                assert set(made.scalar_one()) == set(value.split()), value
            return
        await connection.execute(
            text("CREATE VIRTUAL TABLE temp.indexed USING fts5vocab(main, search_fts, row)")
        )
        made = (await connection.execute(text("SELECT term FROM temp.indexed"))).scalars()
        assert set(made) == {word for value in values for word in value.split()}


@pytest.mark.postgres
async def test_stop_words_are_the_ones_postgresql_drops(store: Store):
    statement = text("SELECT to_tsvector('english', :words)")
    async with store.engine.connect() as connection:
        dropped = await connection.execute(statement, {"words": " ".join(STOP_WORDS)})
        assert dropped.scalar_one() == ""
        kept = await connection.execute(statement, {"words": "refugee fund music"})
        assert kept.scalar_one() != ""


def _tiers(found: dict[str, Any]) -> list[tuple[float, frozenset[str]]]:
    """Hits grouped by score, best first: order may differ only within a score."""
    tiers: dict[float, set[str]] = {}
    for edge in found["edges"]:
        tiers.setdefault(edge["score"], set()).add(edge["node"]["id"])
    return [(score, frozenset(ids)) for score, ids in tiers.items()]


async def test_both_stores_find_the_same_hits(both_stores):
    answers: dict[str, list[dict[str, Any]]] = {}
    for backend, store in both_stores.items():
        async with make_client(store.engine) as http:
            answers[backend] = []
            for query in PARITY_QUERIES:
                for types in (None, ["PASSAGE"], sorted(m.upper() for m in SEARCHABLE)[:3]):
                    variables = {"query": query, "first": 100, "types": types}
                    response = await http.post(
                        "/graphql", json={"query": SEARCH, "variables": variables}
                    )
                    body = response.json()
                    assert "errors" not in body, (backend, query, body)
                    answers[backend].append(body["data"]["search"])
    for query_index, (sqlite, postgresql) in enumerate(
        zip(answers["sqlite"], answers["postgresql"], strict=True)
    ):
        where = PARITY_QUERIES[query_index // 3]
        assert sqlite["totalCount"] == postgresql["totalCount"], where
        assert _tiers(sqlite) == _tiers(postgresql), where
        _check_highlights(sqlite)
    assert any(found["totalCount"] > 3 for found in answers["sqlite"])


async def test_alternative_names_and_organisations_are_found(graphql):
    found = await _search(graphql, "Sony Music Group", types=["COMPANY"])
    company = found["edges"][0]
    assert company["node"]["name"] == "Sony Music"
    assert {h["field"] for h in company["highlights"]} >= {"alternativeNames"}
    _check_highlights(found)
    found = await _search(graphql, "Guerero", types=["ORGANIZATION"])  # misspelt
    assert _names(found) == ["Guerrero LLC"]


async def test_no_types_finds_nothing(graphql):
    found = await _search(graphql, "music", types=[])
    assert found["totalCount"] == 0
    assert found["edges"] == []


async def test_a_field_matched_by_several_values_counts_once(graphql):
    """Sony Music's name matches by its words and by its trigrams, and several alternative
    names match too: each field scores its best value once (name, alternative names)."""
    found = await _search(graphql, "Sony Music", types=["COMPANY"])
    [hit] = found["edges"]
    fields = [highlight["field"] for highlight in hit["highlights"]]
    assert fields.count("name") > 1
    assert fields.count("alternativeNames") > 1
    assert hit["score"] == 2 * NAME_WEIGHT
