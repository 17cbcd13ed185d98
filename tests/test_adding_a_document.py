"""Adding a third document, as README's "Adding a document" walks a maintainer through it:
its copy and metadata beside the others, its extraction in graph.yaml, `impact-graph seed
--check`, then the seed; the real server then serves it cited and searchable. A quote the
document does not hold is refused, naming the file, the item and the quote."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.factories import graph_data, write_seed_tree
from tests.serving import served
from tests.test_cli import run

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "third-document"
SLUG = "harmony-notes-2025"


def _with_third_document(root: Path, extraction: dict[str, Any], line_end: str = "\n") -> Path:
    """seeds/ under `root` with the fixture's text (its lines ending in `line_end`),
    metadata and extraction added."""
    data = graph_data()
    for section, items in extraction.items():
        data[section] = [*data.get(section, []), *items]
    seeds = write_seed_tree(root, data)
    shutil.copy(FIXTURE / f"{SLUG}.yaml", seeds / "documents" / f"{SLUG}.yaml")
    text = (FIXTURE / f"{SLUG}.txt").read_bytes().replace(b"\n", line_end.encode())
    (seeds / "documents" / f"{SLUG}.txt").write_bytes(text)
    return seeds


def _extraction() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((FIXTURE / "extraction.yaml").read_text("utf-8"))
    return loaded


QUERY = """{
  document(slug: "harmony-notes-2025") { title text }
  program(slug: "community-chorus-program") {
    name provenance { fields { field basis } }
    citations { quote start end document { slug } }
    partners { edges { provenance { basis } citations { quote } node { name } } }
    locations { nodes { name countryCode provenance { fields { field basis source } } } }
  }
  search(query: "riverside instruments") {
    edges { node { __typename ... on Partner { name } ... on Passage { text document { slug } } } }
  }
}"""


def _settings(tmp_path: Path, seeds: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "IMPACT_GRAPH_SEEDS_DIR": str(seeds),
    }


def test_a_third_document_is_seeded_cited_and_searchable(tmp_path):
    seeds = _with_third_document(tmp_path / "seeds", _extraction())
    settings = _settings(tmp_path, seeds)
    environment = {**os.environ, **settings}
    assert run("migrate", env=environment).returncode == 0
    pending = run("seed", "--check", env=environment)
    assert pending.returncode == 1, pending.stderr  # what seeding would change, not done
    assert "documents: 3" in pending.stdout
    assert run("seed", env=environment).returncode == 0
    assert "nothing to change" in run("seed", "--check", env=environment).stdout
    _served_cited_and_searchable(tmp_path, settings, seeds)


def test_a_copy_saved_with_crlf_is_served_as_it_is(tmp_path):
    """A copy saved on Windows keeps its CRLFs: served as they are, offsets still count into
    it (seeded by `serve` itself, as it seeds an empty store)."""
    seeds = _with_third_document(tmp_path / "seeds", _extraction(), "\r\n")
    assert b"\r\n" in (seeds / "documents" / f"{SLUG}.txt").read_bytes()
    _served_cited_and_searchable(tmp_path, _settings(tmp_path, seeds), seeds)


def _served_cited_and_searchable(tmp_path: Path, settings: dict[str, str], seeds: Path) -> None:
    with served(tmp_path, settings) as base:
        body = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=30).json()
    assert "errors" not in body, body
    data = body["data"]
    text = data["document"]["text"]
    assert text == (seeds / "documents" / f"{SLUG}.txt").read_bytes().decode("utf-8")
    assert data["document"]["title"] == "Harmony Notes"
    program = data["program"]
    assert program["name"] == "Community Chorus Program"
    (citation,) = program["citations"]
    assert citation["document"] == {"slug": SLUG}
    assert text[citation["start"] : citation["end"]] == citation["quote"]
    (partner,) = program["partners"]["edges"]
    assert partner["node"] == {"name": "Riverside Music Trust"}
    assert partner["provenance"] == {"basis": "STATED"}
    assert {"field": "company", "basis": "INFERRED"} in program["provenance"]["fields"]
    (place,) = program["locations"]["nodes"]
    assert place["countryCode"] == "PT"
    assert place["provenance"]["fields"][0]["basis"] == "REFERENCE"
    found = [edge["node"] for edge in data["search"]["edges"]]
    assert {"__typename": "Partner", "name": "Riverside Music Trust"} in found
    assert any(
        n["__typename"] == "Passage"
        and n["document"]["slug"] == SLUG
        and "instruments" in n["text"]
        for n in found
    )


def test_a_quote_the_document_does_not_hold_is_refused_by_name(tmp_path):
    extraction = _extraction()
    extraction["partners"][0]["citations"][0]["quote"] = "a charity that tunes pianos"
    seeds = _with_third_document(tmp_path / "seeds", extraction)
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "IMPACT_GRAPH_SEEDS_DIR": str(seeds),
    }
    result = run("seed", "--check", env=environment)
    assert result.returncode == 2
    assert result.stderr.startswith("seed error: graph.yaml:")
    assert "partner 'riverside-music-trust'" in result.stderr
    assert f"{SLUG}.txt" in result.stderr
    assert "'a charity that tunes pianos'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "store.db").exists()  # nothing was touched
