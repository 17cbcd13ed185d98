"""Checks of the harness's own parts (no timing): `.venv/bin/pytest bench/test_harness.py`.

Kept beside the harness, outside the product suite; the statement-counting proxy check needs
PostgreSQL at 127.0.0.1:5432, like `make test`.
"""

from __future__ import annotations

import asyncio
import re

import asyncpg
from sqlmodel import SQLModel

from bench.cursors import ListRow, cursor_after
from bench.generate import Size, columns, generate
from bench.sql_count_proxy import CountingProxy
from db.models import SLUG_PATTERN
from db.order import Ordering
from semantics.lists import list_filter
from semantics.pagination import CursorScope, decode_cursor, fingerprint

SMALL = Size(programs=3_000)


def test_generation_is_deterministic_and_valid() -> None:
    first, second = generate(7, SMALL), generate(7, SMALL)
    assert first.rows == second.rows
    assert generate(8, SMALL).rows != first.rows
    slug = re.compile(SLUG_PATTERN)
    for table, rows in first.rows.items():
        required = [
            c.name
            for c in SQLModel.metadata.tables[table].columns
            if not c.nullable and c.server_default is None and c.name != "id"
        ]
        for row in rows:
            assert all(row.get(name) is not None for name in required), (table, row)
            if "slug" in row:
                assert slug.match(row["slug"]), row["slug"]
    slugs = [r["slug"] for r in first.rows["programs"]]
    assert len(set(slugs)) == len(slugs)
    programs = first.rows["programs"]
    assert set(columns("programs", programs)) == set(programs[0])  # every key is a column


def test_generated_keys_match_the_seed_writer() -> None:
    program = generate(1, SMALL).rows["programs"][0]
    assert program["sort_key"] == program["name"].casefold()
    parts = [program["name"], program["description"]]
    assert program["search_text"] == "\x1f".join(p.casefold() for p in parts if p)


def test_cursor_is_the_servers_cursor_for_that_row() -> None:
    row = ListRow("PROGRAM", 500_000, "some name", "some-name-1")
    filters = list_filter("Query.programs", {"kind": ["PROGRAM"]})
    scope = CursorScope(fingerprint("Query.programs", filters, Ordering("NAME")), "")
    assert decode_cursor(cursor_after(row), scope, "after") == "some-name-1:vsome name"


def test_proxy_counts_simple_and_extended_statements() -> None:
    async def talk(port: int) -> None:
        # asyncpg asks for SSL first (sslmode prefer); the proxy declines, as it must.
        connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres")
        try:
            await connection.execute("SELECT 1")  # simple protocol
            await connection.fetchval("SELECT $1::int", 2)  # parse, bind, execute
            await connection.fetchval("SELECT $1::int", 3)  # prepared, executed again
        finally:
            await connection.close()

    with CountingProxy(5432) as proxy:
        before = proxy.counts()
        asyncio.run(talk(proxy.port))
        after = proxy.counts()
    assert (after - before)["SELECT"] >= 3


def _response(status: bytes, cache: bytes | None, body: bytes) -> bytes:
    head = [b"HTTP/1.1 " + status, b"content-length: %d" % len(body)]
    if cache is not None:
        head.append(b"x-cache: " + cache)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def test_a_counted_request_must_be_the_one_meant() -> None:
    import pytest

    from bench.instructions import _checked

    answered = b'{"data":{"node":null}}'
    _checked(_response(b"200 OK", b"miss", answered), "miss")
    _checked(_response(b"200 OK", None, answered), "off")
    _checked(_response(b"200 OK", b"hit", answered), "warm")
    refused = [
        (_response(b"200 OK", b"hit", answered), "miss"),  # not the cache mode meant
        (_response(b"200 OK", b"miss", answered), "off"),
        (_response(b"200 OK", None, answered), "warm"),
        (_response(b"503 Service Unavailable", b"miss", answered), "miss"),
        (_response(b"200 OK", b"miss", b'{"errors":[{"message":"x"}]}'), "miss"),
    ]
    for response, side in refused:
        with pytest.raises(SystemExit):
            _checked(response, side)


def test_the_in_memory_transport_ends_a_response_at_its_body() -> None:
    from bench.instructions import _Transport

    ended: list[bytes] = []
    transport = _Transport(lambda: ended.append(bytes(transport.written)))
    for done, body in enumerate((b"first", b"second")):
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
        assert len(ended) == done  # not ended by its head
        transport.write(body)
        assert len(ended) == done + 1
    assert [response.rsplit(b"\r\n\r\n", 1)[1] for response in ended] == [b"first", b"second"]
    assert ended[1].startswith(b"HTTP/1.1")  # only the last response is kept
