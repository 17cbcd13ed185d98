"""Citations as W3C Web Annotation selectors, over HTTP: each citation's selectors are the W3C
definition, computed here from its document's text (a TextQuoteSelector: the quote and up to
32 characters on each side; a TextPositionSelector: its offsets; characters and offsets are
Unicode code points, as Python's `str` indexes them).

The real server (`impact-graph serve`) answers for the seed data on SQLite and PostgreSQL.
Both executors answer for a copy of the seeds whose document opens on an emoji and is cited
at its very start and end, where prefix and suffix are short and JavaScript's UTF-16 offsets
differ from code points; the README's conversion runs there in Node.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.mapping import LISTS, TYPES
from seeds.read import SeedPlan, read_seeds
from seeds.write import write_seeds
from tests.conftest import Store, make_client, throwaway_database
from tests.factories import graph_data, write_seed_tree
from tests.serving import NODE, served
from tests.test_nodes import global_id

README = Path(__file__).resolve().parent.parent / "README.md"
AROUND = 32  # the characters a TextQuoteSelector keeps on each side, as Hypothesis keeps them
_ROOTS = {spec.target: key.split(".")[1] for key, spec in LISTS.items() if spec.is_root}
CITED_LISTS = tuple(_ROOTS[name] for name, node in TYPES.items() if node.cited)
RELATIONS = {  # every list through a link table, from each root list of its owner
    _ROOTS[name]: tuple(field for field, spec in node.edges() if spec.link is not None)
    for name, node in TYPES.items()
    if any(spec.link is not None for _, spec in node.edges())
}
QUERY = (
    "{ documents { nodes { slug text } } "
    + " ".join(f"{name}(first: 100) {{ nodes {{ citations {{ ...Q }} }} }}" for name in CITED_LISTS)
    + " ".join(
        f"{name}Links: {name}(first: 100) {{ nodes {{ "
        + " ".join(f"{edge} {{ edges {{ citations {{ ...Q }} }} }}" for edge in edges)
        + " } }"
        for name, edges in RELATIONS.items()
    )
    + """ }
    fragment Q on Citation { id quote document { slug }
      textQuoteSelector { __typename id type exact prefix suffix }
      textPositionSelector { __typename id type start end } }"""
)
"""Every citation of the seed data, of entities and of relations."""


def _citations(value: Any) -> list[dict[str, Any]]:
    """Every citation in an answer, wherever it sits."""
    if isinstance(value, list):
        return [c for item in value for c in _citations(item)]
    if not isinstance(value, dict):
        return []
    if "textQuoteSelector" in value:
        return [value]
    return [c for item in value.values() for c in _citations(item)]


def w3c_selectors(text: str, start: int, end: int) -> dict[str, Any]:
    """The W3C selectors of `text[start:end]`: the quote with the text just around it (up to
    AROUND characters a side, fewer at the text's ends), and the offsets."""
    before, after = text[:start], text[end:]
    return {
        "textQuoteSelector": {
            "type": "TextQuoteSelector",
            "exact": text[start:end],
            "prefix": before[-AROUND:],  # all of it where it is shorter
            "suffix": after[:AROUND],
        },
        "textPositionSelector": {"type": "TextPositionSelector", "start": start, "end": end},
    }


def check_selectors(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every citation of `data` (a QUERY answer) against the W3C definition; the citations."""
    texts = {d["slug"]: d["text"] for d in data["documents"]["nodes"]}
    citations = _citations(data)
    for citation in citations:
        text, quote = texts[citation["document"]["slug"]], citation["quote"]
        quoted, position = citation["textQuoteSelector"], citation["textPositionSelector"]
        start, end = position["start"], position["end"]
        # the offsets are where the quote stands in the text (one of its occurrences)
        assert start in [m.start() for m in re.finditer(re.escape(quote), text)], quote
        assert end - start == len(quote)
        shown = {"textQuoteSelector": _w3c(quoted), "textPositionSelector": _w3c(position)}
        assert shown == w3c_selectors(text, start, end)
        assert (quoted["__typename"], position["__typename"]) == (quoted["type"], position["type"])
        span = base64.b64decode(citation["id"]).decode().removeprefix("Citation:")
        assert quoted["id"] == global_id("TextQuoteSelector", f"{span}-{AROUND}")
        assert position["id"] == global_id("TextPositionSelector", span)
    return citations


def _w3c(selector: dict[str, Any]) -> dict[str, Any]:
    """A selector as a Web Annotation holds it: without its cache key and GraphQL type."""
    return {key: value for key, value in selector.items() if key not in ("id", "__typename")}


def _span(citation: dict[str, Any]) -> tuple[str, int, int]:
    position = citation["textPositionSelector"]
    return citation["document"]["slug"], position["start"], position["end"]


def _before(texts: dict[str, str], citation: dict[str, Any]) -> str:
    return texts[citation["document"]["slug"]][: citation["textPositionSelector"]["start"]]


# --- the seed data, from the real server on each store -----------------------------------------


@pytest.fixture(scope="module")
async def real_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """`impact-graph serve` over a store of its own, seeded as it starts."""
    directory = tmp_path_factory.mktemp(f"selectors-{backend}")
    if backend == "sqlite":
        with served(directory) as base:
            yield base
    else:
        async with throwaway_database() as url:
            with served(directory, {"DATABASE_URL": url}) as base:
                yield base


async def test_the_real_servers_selectors_are_the_w3c_definition(
    real_server: str, seed_plan: SeedPlan
) -> None:
    async with httpx.AsyncClient(base_url=real_server) as http:
        answered = await http.post("/graphql", json={"query": QUERY})
    assert answered.status_code == 200
    assert answered.headers["x-executor"] == "compiled"
    body = answered.json()
    assert "errors" not in body
    citations = check_selectors(body["data"])
    seeded = {(c.document, c.start, c.end) for cs in seed_plan.citations.values() for c in cs}
    assert {_span(c) for c in citations} == seeded  # every quote of the seed data
    texts = {d["slug"]: d["text"] for d in body["data"]["documents"]["nodes"]}
    # quotes with a non-ASCII character (U+2019), and offsets past some: code points, not bytes
    assert any(not c["quote"].isascii() for c in citations)
    past = [c for c in citations if not _before(texts, c).isascii()]
    assert past
    assert all(len(_before(texts, c).encode()) > len(_before(texts, c)) for c in past)


# --- a document cited at its very start and end, opening on an emoji ---------------------------

STAYING = "staying-connected-at-sony-music"
EMOJI = "🎵 "  # U+1F3B5, beyond U+FFFF: one code point, two UTF-16 code units
# Quotes at the document's ends, with the selectors the W3C model gives them, by hand.
EDGES = {
    "🎵 Now Reading": ("", "\nStaying Connected at Sony Music", 0),
    "Now Reading": ("🎵 ", "\nStaying Connected at Sony Music", 2),
    "1500 W Carroll Suite 200": ("red trademark of Guerrero LLC.\n\n", "\nChicago, IL 60607", None),
    "Chicago, IL 60607": (" LLC.\n\n1500 W Carroll Suite 200\n", "", None),
}


@pytest.fixture(scope="module")
def edged_plan(tmp_path_factory: pytest.TempPathFactory) -> SeedPlan:
    """The seeds, one document opening on an emoji and cited at its very start and end."""
    data = graph_data()
    company = data["companies"][0]
    company["citations"] += [{"document": STAYING, "quote": quote} for quote in EDGES]
    root = write_seed_tree(tmp_path_factory.mktemp("edged-seeds"), data)
    document = root / "documents" / f"{STAYING}.txt"
    document.write_bytes(EMOJI.encode() + document.read_bytes())
    return read_seeds(root)


@pytest.fixture
async def edged_store(empty_store: Store, edged_plan: SeedPlan) -> Store:
    await write_seeds(empty_store.engine, edged_plan)
    return empty_store


@pytest.mark.parametrize("executor", ["compiled", "reference"])
async def test_selectors_at_a_documents_ends_and_past_an_emoji(
    edged_store: Store, executor: str
) -> None:
    async with make_client(edged_store.engine, executor=executor) as http:
        answered = await http.post("/graphql", json={"query": QUERY})
    assert answered.headers["x-executor"] == executor
    data = answered.json()["data"]
    citations = check_selectors(data)
    by_quote = {c["quote"]: c for c in citations if c["document"]["slug"] == STAYING}
    text = next(d["text"] for d in data["documents"]["nodes"] if d["slug"] == STAYING)
    for quote, (prefix, suffix, start) in EDGES.items():
        quoted = by_quote[quote]["textQuoteSelector"]
        assert (quoted["exact"], quoted["prefix"], quoted["suffix"]) == (quote, prefix, suffix)
        position = by_quote[quote]["textPositionSelector"]
        if start is not None:
            assert position["start"] == start
        assert position["end"] == position["start"] + len(quote)  # code points
    assert by_quote["Chicago, IL 60607"]["textPositionSelector"]["end"] == len(text)
    # JavaScript indexes UTF-16 code units: past the emoji, one more than code points
    converted = _in_javascript(text, list(by_quote.values()))
    for citation, (start, end, found) in zip(by_quote.values(), converted, strict=True):
        position = citation["textPositionSelector"]
        shift = 0 if position["start"] == 0 else 1
        assert (start, end, found) == (position["start"] + shift, position["end"] + 1, True)


def _readme_conversion() -> list[str]:
    """The README's lines that convert offsets for JavaScript, the last an expression."""
    readme = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- code-units -->\s*```js\n(.*?)```", readme, re.DOTALL)
    assert found is not None
    return textwrap.dedent(found.group(1)).strip().splitlines()


def _in_javascript(text: str, citations: list[dict[str, Any]]) -> list[list[Any]]:
    """Each citation's start and end converted by the README's lines, run in Node, and whether
    slicing the text at them gives the quote."""
    *definitions, check = _readme_conversion()
    script = "\n".join(
        [
            'import { readFileSync } from "node:fs";',
            'const { text, spans } = JSON.parse(readFileSync(0, "utf8"));',
            *definitions,
            "const found = spans.map(({ start, end, exact }) =>",
            f"  [codeUnits(text, start), codeUnits(text, end), {check.split(';')[0]}]);",
            "process.stdout.write(JSON.stringify(found));",
        ]
    )
    spans = [
        {**c["textPositionSelector"], "exact": c["textQuoteSelector"]["exact"]} for c in citations
    ]
    ran = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        input=json.dumps({"text": text, "spans": spans}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    found: list[list[Any]] = json.loads(ran.stdout)
    return found
