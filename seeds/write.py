"""Write a checked seed plan into the store: one transaction, idempotent, and it can dry-run.

Rows are matched on their natural keys (slugs; link pairs; citation spans) and only what
differs is written, so seeding twice leaves the store exactly as seeding once, ids included.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel, col

from core.logs import one_line
from db import lease, provenance, state
from db.engine import WRITE_FIRST, session_factory
from db.keys import citation_slug, derived_columns
from db.mapping import SEARCHABLE, TYPES, Link, ListEdge, NodeType
from db.models import (
    Citation,
    Document,
    Location,
    Organization,
    Passage,
    Program,
    SearchEntry,
)
from db.search import sync_trigrams
from seeds.basis import provenance_of
from seeds.items import LINKS, LinkItem, entity_sections, link_items
from seeds.read import SeedPlan
from seeds.search_rows import passage_rows, search_entry_rows
from seeds.spec import Cited

logger = logging.getLogger("impact_graph.seeds")
Key = tuple[Any, ...]
SELF_REFERENCES = ("parent_id", "owner_id")  # set in a second pass, cleared before deletes
# ANALYZE waits for any session holding a table in SHARE UPDATE EXCLUSIVE mode (a VACUUM, a
# CREATE INDEX CONCURRENTLY, a long ANALYZE): after the commit it is not worth waiting long
# for. Reading the seed data's tables takes milliseconds, a sample of a large store seconds.
ANALYZE_LOCK_WAIT = "5s"
ANALYZE_LIMIT = "60s"


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

    async def entities(
        self, entity: NodeType, items: Sequence[Any], rows: list[dict[str, Any]]
    ) -> dict[Key, int]:
        """An entity table keyed by slug, with its derived sort and search columns, and (for
        a cited type) the provenance of each of `items`, the seed items of `rows`."""
        if entity.name_field is not None:
            name_field, search_fields = entity.name_field, entity.search_fields
            rows = [
                {**row, **derived_columns(row, name_field=name_field, search_fields=search_fields)}
                for row in rows
            ]
        if entity.has_provenance:
            rows = [
                {**row, **provenance.columns(provenance_of(entity.name, item.provenance))}
                for row, item in zip(rows, items, strict=True)
            ]
        names = [spec.name for _, spec in entity.names()]
        rows = [{**row, **{n: orjson.dumps(row[n]).decode() for n in names}} for row in rows]
        return await self.table(entity.model, ["slug"], rows)

    async def set_parents(
        self,
        model: type[SQLModel],
        ids: dict[Key, int],
        parents: dict[str, str | None],
        column: str = "parent_id",
    ) -> None:
        """Second pass for self-references, once every row of the table has an id."""
        name = str(model.__tablename__)
        items: list[Any] = list((await self.session.execute(select(model))).scalars().all())
        for item in items:
            if (item.slug,) not in ids:
                continue
            parent_slug = parents[item.slug]
            parent_id = None if parent_slug is None else ids[(parent_slug,)]
            if getattr(item, column) != parent_id:
                setattr(item, column, parent_id)
                if (name, item.id) not in self.inserted:
                    self.report.updated[name] += 1
        await self.session.flush()

    async def delete_stale(self) -> None:
        for name, items in reversed(self.stale):
            for item in items:
                for column in SELF_REFERENCES:
                    if hasattr(item, column):
                        setattr(item, column, None)
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

    def ref(ids: dict[Key, int], slug: str | None) -> int | None:
        return None if slug is None else ids[(slug,)]

    locations = await sync.entities(
        TYPES["Location"],
        graph.locations,
        [
            _entity_fields(loc, "slug", "name", "alternative_names", "kind", "country_code")
            for loc in graph.locations
        ],
    )
    await sync.set_parents(Location, locations, {loc.slug: loc.parent for loc in graph.locations})
    organizations = await sync.entities(
        TYPES["Organization"],
        graph.organizations,
        [
            {
                **_entity_fields(o, "slug", "name", "alternative_names", "description", "address"),
                "location_id": ref(locations, o.location),
            }
            for o in graph.organizations
        ],
    )
    await sync.set_parents(
        Organization, organizations, {o.slug: o.owner for o in graph.organizations}, "owner_id"
    )
    publishers = {slug: o.slug for o in graph.organizations for slug in o.documents}
    documents = await sync.entities(
        TYPES["Document"],
        [d.meta for d in plan.documents.values()],
        [
            {
                "slug": d.meta.slug,
                "title": d.meta.title,
                "publisher": d.meta.publisher,
                "published_on": d.meta.published_on,
                "source_file": d.meta.source_file,
                "text": d.text,
                "publisher_id": ref(organizations, publishers.get(d.meta.slug)),
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
    companies = await sync.entities(
        TYPES["Company"],
        graph.companies,
        [
            {
                **_entity_fields(
                    c, "slug", "name", "alternative_names", "description", "founded_year"
                ),
                "founded_in_id": ref(locations, c.founded_in),
            }
            for c in graph.companies
        ],
    )
    people = await sync.entities(
        TYPES["Person"],
        graph.people,
        [
            {**_entity_fields(p, "slug", "name", "title"), "company_id": ref(companies, p.company)}
            for p in graph.people
        ],
    )
    reports = await sync.entities(
        TYPES["Report"],
        graph.reports,
        [
            {
                **_entity_fields(r, "slug", "title", "year", "topics"),
                "company_id": ref(companies, r.company),
            }
            for r in graph.reports
        ],
    )
    programs = await sync.entities(
        TYPES["Program"],
        graph.programs,
        [
            {
                **_entity_fields(
                    p, "slug", "name", "kind", "description", "launched_year", "month"
                ),
                "company_id": ref(companies, p.company),
            }
            for p in graph.programs
        ],
    )
    await sync.set_parents(Program, programs, {p.slug: p.parent for p in graph.programs})
    partners = await sync.entities(
        TYPES["Partner"],
        graph.partners,
        [
            _entity_fields(p, "slug", "name", "short_name", "alternative_names", "description")
            for p in graph.partners
        ],
    )
    statements = await sync.entities(
        TYPES["Statement"],
        graph.statements,
        [
            {
                **_entity_fields(st, "slug", "text", "medium"),
                "person_id": ref(people, st.person),
                "report_id": ref(reports, st.report),
            }
            for st in graph.statements
        ],
    )
    groups = await sync.entities(
        TYPES["FigureGroup"],
        graph.figure_groups,
        [
            {
                **_entity_fields(g, "slug", "title", "caption"),
                "company_id": ref(companies, g.company),
                "report_id": ref(reports, g.report),
            }
            for g in graph.figure_groups
        ],
    )
    pair_items = [(g, pair) for g in graph.figure_groups for pair in g.pairs]
    pairs = await sync.entities(
        TYPES["FigurePair"],
        [pair for _, pair in pair_items],
        [
            {
                "slug": pair.slug,
                "position": g.pairs.index(pair) + 1,
                "group_id": ref(groups, g.slug),
            }
            for g, pair in pair_items
        ],
    )
    pair_of = {figure: pair.slug for _, pair in pair_items for figure in pair.figures}
    figures = await sync.entities(
        TYPES["Figure"],
        graph.figures,
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
                "pair_id": ref(pairs, pair_of.get(f.slug)),
            }
            for f in graph.figures
        ],
    )

    # Each link row remembers the seed item whose citations it carries.
    cited: list[tuple[str, int, Cited]] = []

    async def links(link: Link, found: list[LinkItem]) -> None:
        left, right = link.parent_key.key, link.target_key.key
        pairs = [
            (ids_by_kind[f.owner_kind][(f.owner_slug,)], ids_by_kind[f.target_kind][(f.target,)], f)
            for f in found
        ]
        ids = await sync.table(
            link.model,
            [left, right],
            [
                {left: a, right: b, **provenance.columns(provenance_of(None, f.item.provenance))}
                for a, b, f in pairs
            ],
        )
        cited.extend((link.subject, ids[(a, b)], f.item) for a, b, f in pairs)

    ids_by_kind = {
        "person": people,
        "program": programs,
        "partner": partners,
        "location": locations,
        "report": reports,
    }
    type_of = {kind: type_name for kind, type_name, _ in entity_sections(graph)}
    found = list(link_items(graph))
    for _, kind, attribute, _ in LINKS:  # each list the extraction writes is a link table
        edge = TYPES[type_of[kind]].fields[attribute]
        assert isinstance(edge, ListEdge), f"{kind}.{attribute}"
        assert edge.link is not None, f"{kind}.{attribute} is no link table"
        await links(
            edge.link, [f for f in found if (f.owner_kind, f.attribute) == (kind, attribute)]
        )
    ids_of = {
        "Company": companies,
        "Person": people,
        "Report": reports,
        "Program": programs,
        "Partner": partners,
        "Location": locations,
        "Figure": figures,
        "FigureGroup": groups,
        "FigurePair": pairs,
        "Organization": organizations,
        "Statement": statements,
    }
    for _, type_name, items in entity_sections(graph):
        subject = TYPES[type_name].subject
        cited.extend((subject, ids_of[type_name][(i.slug,)], i) for i in items)

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
        "Organization": organizations,
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
        # every row, told apart here: an `IN` of the ids took one parameter each, past
        # PostgreSQL's 32,767 for a document of as many passages (its lines)
        wanted = set(ids.values())
        model = SEARCHABLE[type_name].model
        items: Sequence[Any] = (await sync.session.execute(select(model))).scalars().all()
        rows += [
            row for item in items if item.id in wanted for row in search_entry_rows(type_name, item)
        ]
    await sync.table(SearchEntry, ["target_type", "target_id", "field_name", "position"], rows)


async def write_seeds(engine: AsyncEngine, plan: SeedPlan, *, dry_run: bool = False) -> SeedReport:
    """Bring the store in line with `plan` in one transaction (rolled back when `dry_run`).
    On PostgreSQL one seed of a store runs at a time; a real one is announced to the servers'
    version leases, and if it changes rows it commits only once every lease granted before
    the announcement has lapsed (db/lease.py)."""
    report = SeedReport()
    postgres = engine.dialect.name == "postgresql"
    token = None if dry_run or not postgres else lease.new_token()
    async with session_factory(engine)() as session:
        try:
            if postgres:
                await lease.take_seed_lock(await session.connection(), token)
            else:  # the write lock first: another seed running, this one waits for it
                await session.connection(execution_options={WRITE_FIRST: True})
            if token is not None:
                await lease.announce(engine, token)
            announced = time.monotonic()  # its commit visible by now: the wait counts from here
            await _write(session, plan, report)
            if dry_run:
                await session.rollback()
                return report
            if token is not None and report.changed:
                await asyncio.sleep(lease.seed_wait_seconds() - (time.monotonic() - announced))
            await session.commit()
        except BaseException:
            try:
                await session.rollback()
            finally:
                # (after a commit that failed but went through, there is nothing left to take)
                if token is not None:
                    await lease.withdraw(engine, token)
            raise
    try:
        await _refresh_statistics(engine)
    except (Exception, asyncio.CancelledError) as error:  # committed: that is what it reports
        if isinstance(error, asyncio.CancelledError):  # stopped (SIGTERM): no more to stop
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        logger.warning(
            "the seed committed, but the store's statistics were not refreshed (%s); "
            "PostgreSQL plans by the older ones until autovacuum or the next seed's ANALYZE",
            one_line(error),
        )
    return report


async def _refresh_statistics(engine: AsyncEngine) -> None:
    """PostgreSQL plans from table statistics, which autovacuum refreshes only after many
    changed rows (a seed changes a few dozen): without them it guesses, and its plans for
    joins through link tables cost several times the work. A seed rewrites the store, so it
    refreshes them itself, within bounds. (SQLite keeps no statistics unless asked, and
    plans by index.)"""
    if engine.dialect.name != "postgresql":
        return
    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    async with engine.connect() as connection:
        await connection.execute(text(f"SET LOCAL lock_timeout = '{ANALYZE_LOCK_WAIT}'"))
        await connection.execute(text(f"SET LOCAL statement_timeout = '{ANALYZE_LIMIT}'"))
        await connection.execute(text(f"ANALYZE {tables}"))  # the store's tables only
        await connection.commit()


async def store_is_empty(engine: AsyncEngine) -> bool:
    async with session_factory(engine)() as session:
        return (await session.execute(select(col(Document.id)).limit(1))).first() is None
