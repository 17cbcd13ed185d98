"""What the seed records about the store: its data version, and the longest list of each kind.

The store changes only by seeding. Each seed that changes rows, in the transaction that
writes them, bumps the data version (so an HTTP validator built on it changes exactly when an
answer may). Every seed measures, for every list the type map states, the most items any one
parent has: a root list's whole length, a program's partners at most, a row's citations at
most, the objects `search` can find; and the widest value of every text (db/widths.py). The
cost estimate prices a list at no more than that (operation/cost.py), and weighs a text by
its widest value (operation/size.py).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db import widths
from db.mapping import (
    CITATION,
    LISTS,
    QUERY,
    TYPES,
    ListEdge,
    Search,
    citation_subject,
    list_key,
    table_of,
)
from db.models import SearchEntry, StoreState

DATA_VERSION = "data_version"
SEED_FORMAT = "seed_format"
SEEDING = "seeding"  # a seed announced, not yet committed (db/lease.py); its commit deletes it
# Measures read together, one statement each batch: a round trip and a statement to compile
# per ~20, not per measure (a process that seeds once compiles each), and each statement's
# parameters well within SQLite's oldest limit (999; a text's width takes ~13)
MEASURES_PER_STATEMENT = 20
CURRENT_SEED_FORMAT = 3
"""What the seed writes, by version: 2 added provenance, the new facts' tables and search's
passages and entries; 3 the widths of text (db/widths.py). A store seeded by an older version
lacks them (migrations add the columns with defaults, not the data), so `serve` seeds it
again (`is_stale`)."""


def citations_key(type_name: str) -> str:
    """The citations of a `type_name` row: `Program.citations`."""
    return f"{type_name}.citations"


def relation_citations_key(target: str) -> str:
    """The citations on the edges of any list of `target` items (the relation's quotes): one
    bound for every list of that type, as an edge type is shared by all of them."""
    return f"{target}.edges.citations"


@dataclass(frozen=True)
class StoreSnapshot:
    """The data version and list sizes as the last seed recorded them (version 0 and no
    sizes in a store not seeded since they were recorded)."""

    version: int = 0
    sizes: Mapping[str, int] = field(default_factory=dict)

    def size(self, key: str) -> int | None:
        """The most items one parent has in that list, or None where it is not known."""
        return self.sizes.get(key)


def _largest_group(table: Any, keys: list[ColumnElement[Any]], *where: Any) -> Select[Any]:
    """The most rows of `table` (that match `where`) sharing one value of `keys`."""
    counted = select(func.count().label("n")).select_from(table).where(*where).group_by(*keys)
    inner = counted.subquery()
    return select(func.coalesce(func.max(inner.c.n), 0))


def _measures() -> Iterator[tuple[str, Select[Any]]]:
    """Each recorded size with the statement that measures it, derived from the type map."""
    for key, spec in LISTS.items():
        yield key, _list_size(spec)
    entries = table_of(SearchEntry)
    found = select(entries.c.target_type, entries.c.target_id).distinct().subquery()
    for name, field_spec in QUERY.fields.items():
        if isinstance(field_spec, Search):  # as many hits as objects search can find
            yield list_key(QUERY.name, name), select(func.count()).select_from(found)
    # The most citations one row has: counted per subject, not read for given rows (so not
    # db/mapping.py:citing), over the same columns
    citations = table_of(CITATION.model)
    subject_type, subject_id = citation_subject(citations)
    subjects = {citations_key(t.name): t.subject for t in TYPES.values() if t.cited}
    for key, subject in subjects.items():
        yield key, _largest_group(citations, [subject_id], subject_type == subject)
    relations: dict[str, set[str]] = {}
    for spec in LISTS.values():
        if spec.link is not None:
            relations.setdefault(relation_citations_key(spec.target), set()).add(spec.link.subject)
    for key, links in sorted(relations.items()):
        yield (
            key,
            _largest_group(citations, [subject_type, subject_id], subject_type.in_(sorted(links))),
        )
    yield from widths.measures()


def _list_size(spec: ListEdge) -> Select[Any]:
    if spec.link is not None:
        link = table_of(spec.link.model)
        return _largest_group(link, [link.c[spec.link.parent_key.key]])
    target = TYPES[spec.target].table
    if spec.parent_key is None:  # a root list: all of it
        return select(func.count()).select_from(target)
    parent = target.c[spec.parent_key.key]
    return _largest_group(target, [parent], parent.is_not(None))


def _batched(
    items: Iterable[tuple[str, Select[Any]]], size: int
) -> Iterator[list[tuple[str, Select[Any]]]]:
    """`items` in lists of `size` (itertools.batched, from Python 3.12)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# The most a seed past the clock moves the version on by: one chance in four billion that two
# copies of a store meet (versions stay within JavaScript's exact integers for a million
# seeds past the clock).
RANDOM_STEP = 2**32


def next_version(previous: int | None, changed: bool) -> int:
    """The data version after a seed: unchanged when it changed no rows, else the time in
    microseconds, or, where the clock is not past the last version (it was ahead once), the
    last plus a random step. Versions do not repeat, not even across stores: a new database
    file, or one migrated down and up again, does not start at 1 and hand out the tags an
    older store's answers had; and two copies of one store (a backup restored, a file
    copied) seeded with different rows behind such a version reach different versions, where
    one past the last would give both the same, and a shared cache one's answers for the
    other's (only copies seeded within the same microsecond could still meet)."""
    if previous is not None and not changed:
        return previous
    now = time.time_ns() // 1000
    if previous is None or now > previous:
        return now
    return previous + 1 + secrets.randbelow(RANDOM_STEP)


async def record(session: AsyncSession, *, changed: bool) -> StoreSnapshot:
    """Measure the store, in the seed's own transaction; a seed that `changed` rows (or the
    first to record) moves the data version on. A seed that changes nothing leaves every
    client's cached answers valid."""
    state = table_of(StoreState)
    previous = await session.scalar(select(state.c.value).where(state.c.key == DATA_VERSION))
    sizes: dict[str, int] = {}
    for measures in _batched(_measures(), MEASURES_PER_STATEMENT):
        measured = select(*(query.scalar_subquery() for _, query in measures))
        row = (await session.execute(measured)).one()
        sizes |= {key: int(value or 0) for (key, _), value in zip(measures, row, strict=True)}
    snapshot = StoreSnapshot(next_version(previous, changed), sizes)
    await session.execute(delete(StoreState))
    rows = [
        {"key": DATA_VERSION, "value": snapshot.version},
        {"key": SEED_FORMAT, "value": CURRENT_SEED_FORMAT},
    ]
    rows += [{"key": key, "value": value} for key, value in sizes.items()]
    await session.execute(insert(StoreState), rows)
    return snapshot


def version_query() -> Select[Any]:
    state = table_of(StoreState)
    return select(state.c.value).where(state.c.key == DATA_VERSION)


async def read(connection: AsyncConnection) -> StoreSnapshot:
    state = table_of(StoreState)
    rows = (await connection.execute(select(state.c.key, state.c.value))).all()
    values = {key: int(value) for key, value in rows}
    version = values.pop(DATA_VERSION, 0)
    values.pop(SEED_FORMAT, None)
    values.pop(SEEDING, None)
    return StoreSnapshot(version, values)


async def is_stale(connection: AsyncConnection) -> bool:
    """Whether the store was seeded by a version of the seed that wrote less than this one."""
    state = table_of(StoreState)
    found = await connection.scalar(select(state.c.value).where(state.c.key == SEED_FORMAT))
    return int(found or 0) < CURRENT_SEED_FORMAT
