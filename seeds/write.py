"""Write a checked seed plan into the store: one transaction, idempotent, and it can dry-run.

Rows are matched on their natural keys (slugs; link pairs; citation spans) and only what
differs is written, so seeding twice leaves the store exactly as seeding once, ids included.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel, col

from db import state
from db.engine import session_factory
from db.keys import citation_slug, derived_columns
from db.mapping import SEARCHABLE, TYPES, NodeType
from db.models import (
    Citation,
    Company,
    Document,
    Figure,
    Location,
    Partner,
    PartnerLocation,
    Passage,
    Person,
    PersonLocation,
    Program,
    ProgramLocation,
    ProgramPartner,
    Report,
    SearchEntry,
)
from db.search import sync_trigrams
from seeds.read import SeedPlan
from seeds.search_rows import passage_rows, search_entry_rows
from seeds.spec import Cited

Key = tuple[Any, ...]


@dataclass
class SeedReport:
    """What seeding changed (or, in a dry run, would change), per table."""

    inserted: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)

    def summary(self) -> str:
        if not self.changed:
            return "store matches the seeds; nothing to change"
        parts = [
            f"{verb} {sum(counter.values())} ({_per_table(counter)})"
            for verb, counter in (
                ("inserted", self.inserted),
                ("updated", self.updated),
                ("deleted", self.deleted),
            )
            if counter
        ]
        return "; ".join(parts)


def _per_table(counter: Counter[str]) -> str:
    return ", ".join(f"{table}: {n}" for table, n in sorted(counter.items()))


class _Sync:
    """Upserts table by table; stale rows are deleted last, children before parents."""

    def __init__(self, session: AsyncSession, report: SeedReport) -> None:
        self.session = session
        self.report = report
        self.stale: list[tuple[str, list[Any]]] = []
        self.inserted: set[tuple[str, int]] = set()

    async def table(
        self, model: type[SQLModel], key: Sequence[str], rows: list[dict[str, Any]]
    ) -> dict[Key, int]:
        name = str(model.__tablename__)
        existing = {
            tuple(getattr(item, k) for k in key): item
            for item in (await self.session.execute(select(model))).scalars().all()
        }
        current: dict[Key, Any] = {}
        added: list[Any] = []
        for values in rows:
            row_key = tuple(values[k] for k in key)
            item = existing.pop(row_key, None)
            if item is None:
                item = model(**values)
                self.session.add(item)
                added.append(item)
                self.report.inserted[name] += 1
            elif any(getattr(item, f) != v for f, v in values.items()):
                for f, v in values.items():
                    setattr(item, f, v)
                self.report.updated[name] += 1
            current[row_key] = item
        await self.session.flush()
        self.inserted.update((name, item.id) for item in added)
        self.stale.append((name, list(existing.values())))
        return {k: item.id for k, item in current.items()}

    async def entities(self, entity: NodeType, rows: list[dict[str, Any]]) -> dict[Key, int]:
        """An entity table keyed by slug, with its derived sort and search columns."""
        if entity.name_field is not None:
            name_field, search_fields = entity.name_field, entity.search_fields
            rows = [
                {**row, **derived_columns(row, name_field=name_field, search_fields=search_fields)}
                for row in rows
            ]
        return await self.table(entity.model, ["slug"], rows)

    async def set_parents(
        self, model: type[SQLModel], ids: dict[Key, int], parents: dict[str, str | None]
    ) -> None:
        """Second pass for self-references, once every row of the table has an id."""
        name = str(model.__tablename__)
        items: list[Any] = list((await self.session.execute(select(model))).scalars().all())
        for item in items:
            if (item.slug,) not in ids:
                continue
            parent_slug = parents[item.slug]
            parent_id = None if parent_slug is None else ids[(parent_slug,)]
            if item.parent_id != parent_id:
                item.parent_id = parent_id
                if (name, item.id) not in self.inserted:
                    self.report.updated[name] += 1
        await self.session.flush()

    async def delete_stale(self) -> None:
        for name, items in reversed(self.stale):
            for item in items:
                if hasattr(item, "parent_id"):
                    item.parent_id = None
            await self.session.flush()
            for item in items:
                await self.session.delete(item)
                self.report.deleted[name] += 1
            await self.session.flush()


def _entity_fields(item: Any, *names: str) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in names}
    for name, value in values.items():
        if isinstance(value, enum.Enum):  # enums are stored as their names
            values[name] = value.value
    return values


async def _write(session: AsyncSession, plan: SeedPlan, report: SeedReport) -> None:
    sync = _Sync(session, report)
    graph = plan.graph
    documents = await sync.entities(
        TYPES["Document"],
        [
            {
                "slug": d.meta.slug,
                "title": d.meta.title,
                "publisher": d.meta.publisher,
                "published_on": d.meta.published_on,
                "source_file": d.meta.source_file,
                "text": d.text,
            }
            for d in plan.documents.values()
        ],
    )
    passages = await sync.table(
        Passage,
        ["slug"],
        [
            row
            for d in plan.documents.values()
            for row in passage_rows(documents[(d.meta.slug,)], d.meta.slug, d.text)
        ],
    )
    locations = await sync.entities(
        TYPES["Location"],
        [_entity_fields(loc, "slug", "name", "kind", "country_code") for loc in graph.locations],
    )
    await sync.set_parents(Location, locations, {loc.slug: loc.parent for loc in graph.locations})

    def ref(ids: dict[Key, int], slug: str | None) -> int | None:
        return None if slug is None else ids[(slug,)]

    companies = await sync.entities(
        TYPES["Company"],
        [
            {
                **_entity_fields(c, "slug", "name", "description", "founded_year"),
                "founded_in_id": ref(locations, c.founded_in),
            }
            for c in graph.companies
        ],
    )
    people = await sync.entities(
        TYPES["Person"],
        [
            {**_entity_fields(p, "slug", "name", "title"), "company_id": ref(companies, p.company)}
            for p in graph.people
        ],
    )
    reports = await sync.entities(
        TYPES["Report"],
        [
            {**_entity_fields(r, "slug", "title", "year"), "company_id": ref(companies, r.company)}
            for r in graph.reports
        ],
    )
    programs = await sync.entities(
        TYPES["Program"],
        [
            {
                **_entity_fields(p, "slug", "name", "kind", "description", "launched_year"),
                "company_id": ref(companies, p.company),
            }
            for p in graph.programs
        ],
    )
    await sync.set_parents(Program, programs, {p.slug: p.parent for p in graph.programs})
    partners = await sync.entities(
        TYPES["Partner"],
        [_entity_fields(p, "slug", "name", "short_name", "description") for p in graph.partners],
    )
    figures = await sync.entities(
        TYPES["Figure"],
        [
            {
                **_entity_fields(
                    f,
                    "slug",
                    "label",
                    "kind",
                    "value",
                    "unit",
                    "qualifier",
                    "period_start_year",
                    "period_end_year",
                ),
                "company_id": ref(companies, f.company),
                "program_id": ref(programs, f.program),
                "report_id": ref(reports, f.report),
            }
            for f in graph.figures
        ],
    )

    # Each link row remembers the seed item whose citations it carries.
    cited: list[tuple[str, int, Cited]] = []

    async def links(
        model: type[SQLModel], left: str, right: str, pairs: list[tuple[int, int, Cited]]
    ) -> None:
        ids = await sync.table(model, [left, right], [{left: a, right: b} for a, b, _ in pairs])
        cited.extend((str(model.__tablename__), ids[(a, b)], item) for a, b, item in pairs)

    await links(
        ProgramPartner,
        "program_id",
        "partner_id",
        [
            (programs[(p.slug,)], partners[(link.partner,)], link)
            for p in graph.programs
            for link in p.partners
        ],
    )
    await links(
        ProgramLocation,
        "program_id",
        "location_id",
        [
            (programs[(p.slug,)], locations[(link.location,)], link)
            for p in graph.programs
            for link in p.locations
        ],
    )
    await links(
        PartnerLocation,
        "partner_id",
        "location_id",
        [
            (partners[(p.slug,)], locations[(link.location,)], link)
            for p in graph.partners
            for link in p.locations
        ],
    )
    await links(
        PersonLocation,
        "person_id",
        "location_id",
        [
            (people[(p.slug,)], locations[(link.location,)], link)
            for p in graph.people
            for link in p.locations
        ],
    )
    for model, ids, items in (
        (Company, companies, graph.companies),
        (Person, people, graph.people),
        (Report, reports, graph.reports),
        (Program, programs, graph.programs),
        (Partner, partners, graph.partners),
        (Location, locations, graph.locations),
        (Figure, figures, graph.figures),
    ):
        cited.extend((str(model.__tablename__), ids[(i.slug,)], i) for i in items)

    await sync.table(
        Citation,
        ["subject_type", "subject_id", "document_id", "start", "end"],
        [
            {
                "subject_type": subject_type,
                "subject_id": subject_id,
                "slug": citation_slug(c.document, c.start, c.end),
                "document_id": documents[(c.document,)],
                "start": c.start,
                "end": c.end,
                "quote": c.quote,
                "position": position,
            }
            for subject_type, subject_id, item in cited
            for position, c in enumerate(plan.citations_of(item))
        ],
    )
    written = {
        "Company": companies,
        "Person": people,
        "Report": reports,
        "Program": programs,
        "Partner": partners,
        "Location": locations,
        "Document": documents,
        "Passage": passages,
    }
    await _search_entries(sync, written)
    await sync.delete_stale()
    await sync_trigrams(session)
    # the data version and list sizes, committed with the rows
    await state.record(session, changed=report.changed)


async def _search_entries(sync: _Sync, written: dict[str, dict[Key, int]]) -> None:
    """Every searchable value of the rows just written (not of stale rows, about to go)."""
    assert set(written) == set(SEARCHABLE), "every searchable type's rows, and no others"
    rows: list[dict[str, Any]] = []
    for type_name, ids in written.items():
        model = SEARCHABLE[type_name].model
        query = select(model).where(col(model.id).in_(list(ids.values())))  # type: ignore[attr-defined]
        items = (await sync.session.execute(query)).scalars().all()
        rows += [row for item in items for row in search_entry_rows(type_name, item)]
    await sync.table(SearchEntry, ["node_type", "node_id", "field_name", "position"], rows)


async def write_seeds(engine: AsyncEngine, plan: SeedPlan, *, dry_run: bool = False) -> SeedReport:
    """Bring the store in line with `plan` in one transaction (rolled back when `dry_run`)."""
    report = SeedReport()
    async with session_factory(engine)() as session:
        try:
            await _write(session, plan, report)
        except BaseException:
            await session.rollback()
            raise
        if dry_run:
            await session.rollback()
            return report
        await session.commit()
    await _refresh_statistics(engine)
    return report


async def _refresh_statistics(engine: AsyncEngine) -> None:
    """PostgreSQL plans from table statistics, which autovacuum refreshes only after many
    changed rows (a seed changes a few dozen): without them it guesses, and its plans for
    joins through link tables cost several times the work. A seed rewrites the store, so it
    refreshes them itself. (SQLite keeps no statistics unless asked, and plans by index.)"""
    if engine.dialect.name != "postgresql":
        return
    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    async with engine.connect() as connection:
        await connection.execute(text(f"ANALYZE {tables}"))  # the store's tables only
        await connection.commit()


async def store_is_empty(engine: AsyncEngine) -> bool:
    async with session_factory(engine)() as session:
        return (await session.execute(select(col(Document.id)).limit(1))).first() is None
