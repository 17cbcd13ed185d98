"""The README's example query answers exactly what the README says it does."""

from __future__ import annotations

import json
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _block(marker: str, language: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\s*```{language}\n(.*?)```", text, re.DOTALL)
    assert found, f"README has no {language} block after <!-- {marker} -->"
    return found.group(1)


async def test_readme_example_returns_the_documented_response(client):
    """The whole body, its cost report included."""
    response = await client.post("/graphql", json={"query": _block("example-query", "graphql")})
    assert response.status_code == 200
    assert response.json() == json.loads(_block("example-response", "json"))


# What the server's code holds in string literals that are not codes: settings' names, and
# the base class of the store's two codes (never sent itself).
NOT_CODES = re.compile(r"(IMPACT_GRAPH|OTEL|PROMETHEUS)_\w+|\w+_URL|SERVICE_UNAVAILABLE")
SOURCES = (
    "server",
    "core",
    "operation",
    "resolvers",
    "semantics",
    "compiled",
    "loaders",
)  # (db: SQLSTATEs)


# A string in the shape of a code, or any a RequestError is made with (one word: UNAUTHORIZED)
CODE = re.compile(r'"([A-Z]+(?:_[A-Z]+)+)"|RequestError\(\s*\d+,\s*"([A-Z]+)"')


def test_the_readme_names_every_error_code():
    """The README's list of `extensions.code`s left out seven the server sends."""
    root = README.parent
    held = {
        code
        for folder in SOURCES
        for path in (root / folder).rglob("*.py")
        for found in CODE.findall(path.read_text(encoding="utf-8"))
        for code in found
        if code and not NOT_CODES.fullmatch(code)
    }
    text = README.read_text(encoding="utf-8")
    start = text.index("Every error carries `extensions.code`")
    listed = set(re.findall(r"`([A-Z]+(?:_[A-Z]+)*)`", text[start : text.index("An\n", start)]))
    assert len(held) > 25, held
    assert held - listed == set()


async def test_the_readme_counts_what_the_documents_seed(empty_store):
    """The opening's counts are what seeding the shipped documents inserts."""
    from seeds.read import read_seeds
    from seeds.write import write_seeds

    inserted = (await write_seeds(empty_store.engine, read_seeds())).inserted
    text = " ".join(README.read_text(encoding="utf-8").split())
    said = re.search(
        r"(?P<companies>\d+) company, (?P<people>\d+) people, (?P<reports>\d+) report, "
        r"(?P<programs>\d+) programs, (?P<partners>\d+) partners, (?P<locations>\d+) places, "
        r"(?P<figures>\d+) figures \((?P<paired>\d+) of them in (?P<figure_groups>\d+) group of "
        r"(?P<figure_pairs>\d+) pairs\), (?P<organizations>\d+) organisations, "
        r"(?P<statements>\d+) statement and (?P<citations>\d+) citations, with "
        r"(?P<passages>\d+) document paragraphs",
        text,
    )
    assert said, "the README's opening no longer counts the graph"
    counted = {table: inserted[table] for table in said.groupdict() if table != "paired"}
    counted["paired"] = 2 * inserted["figure_pairs"]  # the figures a pair holds
    assert {name: int(number) for name, number in said.groupdict().items()} == counted
