"""The run: for each dataset, each server in turn: start, check, time every query, count SQL.

Ours with the reference executor on PostgreSQL goes first: its answers are the reference
every other run of ours must match (same `data`), and its exact bytes are what the floor
serves. Peers are checked for a clean answer (200, no errors); their queries are built
after introspecting them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from graphql import get_introspection_query
from sqlalchemy.engine import make_url

from bench.client import CheckFailed, checked_data, post, wait_until_answering
from bench.cursors import ListRow, cursor_after
from bench.floor import FLOOR_HEADER, SETTINGS_LINE, write_answers
from bench.generate import DOMINANT_KIND
from bench.measure import Cell, LoadSettings, count_statements, file_counts, time_query
from bench.peer_schema import PeerNames, peer_names
from bench.processes import Processes, Started
from bench.queries import (
    PAGE_SIZE,
    Query,
    ours_large,
    ours_seed,
    peer_large,
    peer_node_id_lookup,
    peer_page,
    peer_seed,
)
from bench.servers import Server, start
from bench.sql_count_proxy import CountingProxy
from bench.stores import Store
from semantics.ids import encode_global_id

DEEP_ROW = 500_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Dataset:
    name: str  # "seed" or "large"
    stores: dict[str, Store]  # by backend
    ours: list[Query]
    node_slug: str = ""
    deep_row: ListRow | None = None
    after_deep_row: str = ""  # slug of the row the deep page must start with
    reference: dict[str, Any] = field(default_factory=dict)  # query -> our reference data
    floor_answers: dict[bytes, tuple[str, bytes]] = field(default_factory=dict)


@dataclass
class Context:
    processes: Processes
    load: LoadSettings
    admin_url: str
    proxy: CountingProxy
    results_dir: Path
    notes: list[str] = field(default_factory=list)
    uvicorn_settings: dict[str, Any] = field(default_factory=dict)


async def _fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


def seed_dataset(stores: dict[str, Store]) -> Dataset:
    rows = asyncio.run(_fetch(stores["postgresql"].url, "SELECT slug FROM programs ORDER BY slug"))
    slug = str(rows[0]["slug"])
    return Dataset("seed", stores, ours_seed(encode_global_id("Program", slug)), node_slug=slug)


def large_dataset(stores: dict[str, Store]) -> Dataset:
    """The deep row: row 500,000 of the filtered list in our order (or near the end if shorter)."""
    url = stores["postgresql"].url
    total = asyncio.run(
        _fetch(url, "SELECT count(*) AS n FROM programs WHERE kind = $1", "PROGRAM")
    )
    position = min(DEEP_ROW, int(total[0]["n"]) - PAGE_SIZE)
    found = asyncio.run(
        _fetch(
            url,
            'SELECT sort_key, slug FROM programs WHERE kind = $1 ORDER BY sort_key COLLATE "C" '
            'NULLS LAST, slug COLLATE "C" OFFSET $2 LIMIT 2',
            DOMINANT_KIND,
            position - 1,
        )
    )
    row = ListRow(DOMINANT_KIND, position, found[0]["sort_key"], found[0]["slug"])
    return Dataset(
        "large",
        stores,
        ours_large(cursor_after(row)),
        deep_row=row,
        after_deep_row=str(found[1]["slug"]),
    )


def _peer_queries(port: int, dataset: Dataset, notes: list[str], label: str) -> list[Query]:
    names: PeerNames = peer_names(
        checked_data(post(port, Query("i", get_introspection_query()).body))
    )
    if dataset.name == "seed":
        found = checked_data(
            post(port, Query("n", peer_node_id_lookup(names, dataset.node_slug)).body)
        )
        node_id = found[names.all_programs]["nodes"][0][names.node_id]
        return peer_seed(names, node_id)
    assert dataset.deep_row is not None
    deep = Query("c", peer_page(names, offset=dataset.deep_row.position - 1))
    edge = checked_data(post(port, deep.body))[names.all_programs]
    if edge["nodes"][0]["slug"] != dataset.deep_row.slug:
        notes.append(f"{label}: its row {dataset.deep_row.position:,} is another program than ours")
    return peer_large(names, edge["edges"][0]["cursor"])


def _check(cell: Cell, server: Server, dataset: Dataset, query: Query, port: int) -> float:
    """Check one answer; returns how long it took (seconds), to size the timed run."""
    started = time.perf_counter()
    answer = post(port, query.body)
    took = time.perf_counter() - started
    data = checked_data(answer)
    cell.response_bytes = len(answer.body)
    if server.family == "ours":
        cell.executor_seen = answer.headers.get("x-executor", "none")
        if query.name not in dataset.reference:
            dataset.reference[query.name] = data
            content_type = answer.headers.get("content-type", "application/json")
            dataset.floor_answers[query.body] = (content_type, answer.body)
        elif data != dataset.reference[query.name]:
            raise CheckFailed("data differs from ours with the reference executor")
        if query.name == "page-500k" and data["programs"]["nodes"][0]["slug"] != (
            dataset.after_deep_row
        ):
            raise CheckFailed("the deep page does not start right after the cursor's row")
    if server.family == "floor":
        expected = dataset.floor_answers[query.body][1]
        if answer.body != expected or answer.headers.get(FLOOR_HEADER) != "1":
            raise CheckFailed("the floor did not answer our exact bytes")
    return took


def _floor_file(ctx: Context, dataset: Dataset) -> Path:
    path = ctx.results_dir / "logs" / f"floor-answers-{dataset.name}.json"
    return write_answers(path, dataset.floor_answers)


def _database_url(server: Server, dataset: Dataset) -> str:
    if server.family == "floor":
        return dataset.stores["sqlite"].url  # only for cli.py's migrate step; never queried
    return dataset.stores[server.backend].url


@contextmanager
def _running(ctx: Context, server: Server, **kwargs: Any) -> Iterator[tuple[Started, int]]:
    port = free_port()
    started = start(ctx.processes, server, port=port, **kwargs)
    try:
        wait_until_answering(started, port)
        yield started, port
    finally:
        ctx.processes.stop(started)


def _timed_pass(ctx: Context, server: Server, dataset: Dataset) -> tuple[list[Cell], list[Query]]:
    extra: dict[str, Any] = {}
    if server.family == "floor":
        extra["floor_answers"] = _floor_file(ctx, dataset)
    url = _database_url(server, dataset)
    database = None
    if server.backend == "postgresql":
        database = (ctx.admin_url, str(make_url(url).database))
    cells: list[Cell] = []
    with _running(ctx, server, database_url=url, **extra) as (started, port):
        queries = dataset.ours
        if server.is_peer:
            queries = _peer_queries(port, dataset, ctx.notes, server.label)
        if server.family == "floor":
            _read_uvicorn_settings(ctx, started)
        for query in queries:
            cell = Cell(
                dataset.name,
                query.name,
                server.label,
                server.family,
                server.backend,
                server.executor,
            )
            cells.append(cell)
            try:
                took = _check(cell, server, dataset, query, port)
                cell.status = "ok"
                time_query(cell, started, port, query, ctx.load, database, took)
            except (CheckFailed, RuntimeError, OSError) as error:
                cell.status = f"failed: {error}"[:300]
            _progress(cell)
    return cells, queries


def _read_uvicorn_settings(ctx: Context, started: Started) -> None:
    for line in started.log.read_text(errors="replace").splitlines():
        if line.startswith(SETTINGS_LINE):
            ctx.uvicorn_settings = json.loads(line[len(SETTINGS_LINE) :])


def _counted_pass(
    ctx: Context, server: Server, dataset: Dataset, queries: list[Query], cells: list[Cell]
) -> None:
    url = _database_url(server, dataset)
    kwargs: dict[str, Any] = {"tag": "-counted"}
    snapshot: Callable[[], Any]
    if server.backend == "postgresql":
        kwargs["database_url"] = make_url(url).set(port=ctx.proxy.port).render_as_string(False)
        snapshot, method = ctx.proxy.counts, "wire proxy"
    else:
        count_file = ctx.results_dir / "logs" / f"sql-count-{server.label.replace('/', '-')}.json"
        count_file.unlink(missing_ok=True)
        kwargs.update(database_url=url, count_file=count_file)
        snapshot, method = (lambda: file_counts(count_file)), "SQLAlchemy cursor events"
    with _running(ctx, server, **kwargs) as (_started, port):
        for query, cell in zip(queries, cells, strict=True):
            if not cell.ok:
                continue
            try:
                count_statements(cell, port, query, ctx.load, snapshot, method)
            except (CheckFailed, OSError) as error:
                cell.status = f"failed while counting: {error}"[:300]


def _progress(cell: Cell) -> None:
    figures = f"{cell.rps:8.1f} req/s  p50 {cell.p50_ms:8.2f} ms" if cell.ok else cell.status
    print(f"  {cell.dataset:<5} {cell.query:<13} {cell.server:<28} {figures}", flush=True)


def bench_dataset(ctx: Context, dataset: Dataset, servers: list[Server]) -> list[Cell]:
    cells: list[Cell] = []
    for server in servers:
        print(f"{dataset.name} store: {server.label}", flush=True)
        try:
            server_cells, queries = _timed_pass(ctx, server, dataset)
        except (CheckFailed, RuntimeError, OSError, KeyError) as error:
            ctx.notes.append(f"{dataset.name}/{server.label}: not benchmarked ({error})"[:400])
            for query in dataset.ours:
                cell = Cell(
                    dataset.name,
                    query.name,
                    server.label,
                    server.family,
                    server.backend,
                    server.executor,
                    status=f"failed: {error}"[:300],
                )
                cells.append(cell)
                _progress(cell)
            continue
        if server.family != "floor":
            try:
                _counted_pass(ctx, server, dataset, queries, server_cells)
            except CheckFailed as error:
                ctx.notes.append(f"{server.label}: no statement count ({error})"[:300])
        cells.extend(server_cells)
    return cells
