"""Builders of test data: the real extraction, scaled up or broken on purpose."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel

from bench.generate import Tables, columns
from db import state
from seeds.read import SEEDS_DIR, SeedPlan, build_plan, read_documents

REFERENCE_KEYS = (
    "slug",
    "company",
    "founded_in",
    "parent",
    "partner",
    "location",
    "program",
    "report",
    "person",
    "owner",
    "figures",
)


def graph_data() -> dict[str, Any]:
    """The extraction file as YAML parses it, ready to be altered."""
    data: dict[str, Any] = yaml.safe_load((SEEDS_DIR / "graph.yaml").read_text(encoding="utf-8"))
    return data


def without_program(data: dict[str, Any], slug: str) -> dict[str, Any]:
    """`data` less one program and what links to it (a report's highlights)."""
    data["programs"] = [p for p in data["programs"] if p["slug"] != slug]
    for report in data["reports"]:
        report["highlights"] = [h for h in report.get("highlights", []) if h["program"] != slug]
    return data


def _suffixed(value: Any, suffix: str) -> Any:
    if isinstance(value, list):
        return [_suffixed(item, suffix) for item in value]
    if isinstance(value, dict):
        return {
            key: (
                item + suffix
                if key in REFERENCE_KEYS and isinstance(item, str)
                else [slug + suffix for slug in item]
                if key in REFERENCE_KEYS and isinstance(item, list)
                else _suffixed(item, suffix)
            )
            for key, item in value.items()
        }
    return value


def scaled_plan(copies: int) -> SeedPlan:
    """The real graph `copies` times over (slugs suffixed), citing the same documents, which
    the first copy's organizations publish (a document has one publisher)."""
    original = graph_data()
    data = {
        section: [item for n in range(copies) for item in _suffixed(items, f"-x{n}")]
        for section, items in original.items()
        if isinstance(items, list)  # `shared` holds anchors the items repeat, not items
    }
    for organization in data["organizations"][len(original["organizations"]) :]:
        organization.pop("documents", None)
    return build_plan(read_documents(SEEDS_DIR / "documents"), data, "scaled graph")


def write_seed_tree(root: Path, data: dict[str, Any] | None = None) -> Path:
    """A copy of seeds/ under `root` (documents and graph.yaml), with `data` as the graph."""
    documents = root / "documents"
    documents.mkdir(parents=True)
    for source in (SEEDS_DIR / "documents").iterdir():
        (documents / source.name).write_bytes(source.read_bytes())
    graph = copy.deepcopy(graph_data() if data is None else data)
    (root / "graph.yaml").write_text(yaml.safe_dump(graph, allow_unicode=True), encoding="utf-8")
    return root


async def load_generated(engine: AsyncEngine, tables: Tables) -> None:
    """bench/generate.py's rows into a migrated store, then measured as a seed measures it
    (db/state.py), as bench/stores.py loads the benchmark's large store (there by COPY)."""
    async with AsyncSession(engine) as session, session.begin():
        for name, rows in tables.rows.items():
            table = SQLModel.metadata.tables[name]
            names = columns(name, rows)  # the rest take their defaults
            await session.execute(insert(table), [{n: row.get(n) for n in names} for row in rows])
        await state.record(session, changed=True)
