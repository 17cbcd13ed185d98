"""Many clients at once against the real server process: hostile ones must not hurt normal ones.

The console command serves a temporary SQLite store on loopback. Normal clients cycle through
queries whose answers are fixed up front and must come back byte for byte; hostile clients
cycle through oversized, over-deep, over-aliased, too costly and malformed requests, which must
all be refused (4xx, or 200 with errors and no `data` under application/json; 503 is the only
5xx allowed). The server's memory is read from /proc before and after the load.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import graph_data
from tests.test_cli import free_port

COMMAND = str(Path(sys.executable).with_name("impact-graph"))
LOAD_SECONDS = 7.0
NORMAL_CLIENTS = 12
HOSTILE_CLIENTS = 6
MIN_REQUESTS_PER_NORMAL_CLIENT = 5  # liveness, not speed
# Peak and final resident memory may exceed the warmed-up figure by at most this much. Refused
# requests should cost next to nothing; 150 MB leaves room for 18 connections' buffers and
# allocator slack while catching a request that is buffered whole or expanded (a 2 MB body,
# 2**30 inlined fields) per client.
MEMORY_GROWTH_BOUND_MB = 150
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
UNAVAILABLE_CODES = {"QUERY_TIMEOUT", "DATABASE_UNAVAILABLE"}
REQUEST_TIMEOUT_SECONDS = 10  # a refusal takes milliseconds; this only keeps a hang finite

COMPANY = '{ company(slug: "sony-music") { name programs { totalCount } } }'
NORMAL_QUERIES = {
    "company": COMPANY,
    "programs": "{ programs(first: 100) { totalCount nodes { slug name kind } } }",
    "partners": (
        "{ partners(first: 10) { totalCount nodes { slug name"
        " locations(first: 10) { nodes { slug name } } programs(first: 10) { nodes { slug } } } } }"
    ),
    "cited": (
        '{ program(slug: "global-social-justice-fund") { name'
        " citations { quote context(characters: 40) { before after } }"
        " partners { nodes { name } } } }"
    ),
}


@dataclass(frozen=True)
class Hostile:
    """A request that must be refused: `status` is a fixed HTTP status, or None for a document
    limit (a request error: 200 under application/json, 400 under graphql-response+json)."""

    name: str
    body: bytes
    codes: frozenset[str]
    status: int | None = None
    content_type: str = JSON


def _graphql(query: str) -> bytes:
    return json.dumps({"query": query}).encode()


def _deep(levels: int) -> str:
    return (
        "{ "
        + "partners { nodes { programs { nodes { " * levels
        + "name"
        + " } } } }" * levels
        + " }"
    )


def _fragment_bomb(levels: int) -> str:
    """A short document whose fragments, inlined, select 2**levels fields."""
    fragments = ["fragment F0 on Query { programs(first: 100) { nodes { name } } }"]
    fragments += [
        f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    ]
    return f"{{ ...F{levels} }}\n" + "\n".join(fragments)


def _aliases(count: int) -> str:
    return (
        "{ " + " ".join(f"a{i}: programs(first: 100) {{ totalCount }}" for i in range(count)) + " }"
    )


HOSTILE = [
    Hostile("deep", _graphql(_deep(30)), frozenset({"QUERY_TOO_DEEP", "QUERY_TOO_COMPLEX"})),
    # ~190 KB of aliases is over the body limit before any GraphQL limit is reached
    Hostile("aliases-5000", _graphql(_aliases(5000)), frozenset({"PAYLOAD_TOO_LARGE"}), 413),
    Hostile(
        "aliases-60",
        _graphql(_aliases(60)),
        frozenset({"TOO_MANY_ALIASES", "TOO_MANY_ROOT_FIELDS", "QUERY_TOO_COMPLEX"}),
    ),
    Hostile(  # over budget whether pages count 100 items or the seed's recorded sizes
        "cost-bomb",
        _graphql(
            "{ locations(first: 100) { nodes { programs(first: 100) { nodes {"
            " locations(first: 100) { nodes { programs(first: 100) { nodes {"
            " locations(first: 100) { nodes { programs(first: 100) { totalCount }"
            " } } } } } } } } } } }"
        ),
        frozenset({"QUERY_TOO_COMPLEX"}),
    ),
    Hostile(
        "body-2mb",
        _graphql("{ __typename }" + " " * (2 * 1024 * 1024)),
        frozenset({"PAYLOAD_TOO_LARGE"}),
        413,
    ),
    Hostile(
        "fragment-bomb",
        _graphql(_fragment_bomb(30)),
        frozenset({"QUERY_TOO_LARGE", "QUERY_TOO_COMPLEX"}),
    ),
    Hostile("malformed-json", b'{"query": "{ __typename }"', frozenset({"BAD_REQUEST"}), 400),
    Hostile("invalid-utf8", b'{"query": "{ \xff\xfe }"}', frozenset({"BAD_REQUEST"}), 400),
    Hostile(
        "graphql-content-type",
        COMPANY.encode(),
        frozenset({"UNSUPPORTED_MEDIA_TYPE"}),
        415,
        "application/graphql",
    ),
    Hostile(
        "form-content-type",
        b"query=%7B__typename%7D",
        frozenset({"UNSUPPORTED_MEDIA_TYPE"}),
        415,
        "application/x-www-form-urlencoded",
    ),
]


@dataclass
class Server:
    process: subprocess.Popen[str]
    pid: int  # the uvicorn process itself, whatever launched it
    base_url: str
    output: list[str] = field(default_factory=list)


def _memory_kb(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        key: int(re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE).group(1))
        for key in ("VmRSS", "VmHWM")
    }


@pytest.fixture
def server(tmp_path: Path):
    """`impact-graph serve` on a free port over a fresh SQLite store, stopped afterwards."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'load.db'}"}
    process = subprocess.Popen(
        [COMMAND, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    drain = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    try:
        pid = None
        while True:
            line = process.stdout.readline()
            assert line, f"server exited early: {''.join(output)}"
            output.append(line)
            if found := re.search(r"Started server process \[(\d+)\]", line):
                pid = int(found.group(1))
            if "Application startup complete" in line:
                break
        assert pid is not None, "".join(output)
        assert "impact-graph" in Path(f"/proc/{pid}/cmdline").read_text()
        # Keep draining the pipe so the server never blocks on a full one while logging.
        drain.start()
        yield Server(process, pid, f"http://127.0.0.1:{port}", output)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if drain.is_alive():
            drain.join(timeout=5)
        process.stdout.close()


def _hostile_problem(hostile: Hostile, accept: str, response: httpx.Response) -> str | None:
    """Why a response to a hostile request is wrong, or None when it is a proper refusal."""
    status = response.status_code
    where = f"{hostile.name} ({accept}): {status} {response.text[:300]!r}"
    if not response.headers.get("content-type", "").startswith((JSON, GRAPHQL_RESPONSE)):
        return f"not a JSON body: {where}"
    body = response.json()
    codes = {error.get("extensions", {}).get("code") for error in body.get("errors", [])}
    if status == 503:
        return None if codes and codes <= UNAVAILABLE_CODES else f"503 without a 503 code: {where}"
    if hostile.status is not None:
        expected = hostile.status
    else:
        expected = 400 if accept == GRAPHQL_RESPONSE else 200
    if status != expected or "data" in body or not codes or not codes <= hostile.codes:
        return f"expected {expected} with {sorted(hostile.codes)} and no data: {where}"
    return None


async def _send_hostile(http: httpx.AsyncClient, hostile: Hostile, accept: str) -> str | None:
    """Send one hostile request; why its answer is wrong, or None when it is a proper refusal."""
    try:
        response = await http.post(
            "/graphql",
            content=hostile.body,
            headers={"content-type": hostile.content_type, "accept": accept},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as error:  # a refusal must be an answer, not a dropped connection
        return f"{hostile.name} ({accept}): {type(error).__name__} {error}"
    return _hostile_problem(hostile, accept, response)


async def _normal_client(
    base_url: str, index: int, expected: dict[str, Any], deadline: float, problems: list[str]
) -> int:
    names = list(NORMAL_QUERIES)
    done = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
        while time.monotonic() < deadline:
            name = names[(index + done) % len(names)]
            try:
                response = await http.post("/graphql", json={"query": NORMAL_QUERIES[name]})
            except httpx.HTTPError as error:
                problems.append(f"normal {name}: {type(error).__name__} {error}")
            else:
                if response.status_code != 200 or response.json() != expected[name]:
                    problems.append(
                        f"normal {name}: {response.status_code} {response.text[:300]!r}"
                    )
            done += 1
    return done


async def _hostile_client(base_url: str, index: int, deadline: float, problems: list[str]) -> int:
    accept = GRAPHQL_RESPONSE if index % 2 else JSON
    done = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
        while time.monotonic() < deadline:
            hostile = HOSTILE[(index + done) % len(HOSTILE)]
            if (problem := await _send_hostile(http, hostile, accept)) is not None:
                problems.append(problem)
            done += 1
    return done


async def test_hostile_clients_do_not_starve_or_corrupt_normal_ones(server):
    """Limits only protect if they hold under load: refusals stay cheap, answers stay exact."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        # Expected answers: the first response to each query, checked against the seeds
        expected: dict[str, Any] = {}
        for name, query in NORMAL_QUERIES.items():
            response = await http.post("/graphql", json={"query": query})
            assert response.status_code == 200, response.text
            expected[name] = response.json()
            assert "errors" not in expected[name], expected[name]
        seeds = graph_data()
        assert expected["company"]["data"] == {
            "company": {
                "name": seeds["companies"][0]["name"],
                "programs": {"totalCount": len(seeds["programs"])},
            }
        }
        programs = expected["programs"]["data"]["programs"]
        assert programs["totalCount"] == len(seeds["programs"])
        assert {p["slug"] for p in programs["nodes"]} == {p["slug"] for p in seeds["programs"]}
        partners = expected["partners"]["data"]["partners"]
        assert {p["slug"] for p in partners["nodes"]} == {p["slug"] for p in seeds["partners"]}
        # Warm up: every request once, sequentially, then the baseline figures
        for accept in (JSON, GRAPHQL_RESPONSE):
            for hostile in HOSTILE:
                assert await _send_hostile(http, hostile, accept) is None
    before = _memory_kb(server.pid)

    problems: list[str] = []
    deadline = time.monotonic() + LOAD_SECONDS
    async with asyncio.timeout(LOAD_SECONDS + 30):  # a hung server fails instead of hanging
        counts = await asyncio.gather(
            *(
                _normal_client(server.base_url, i, expected, deadline, problems)
                for i in range(NORMAL_CLIENTS)
            ),
            *(
                _hostile_client(server.base_url, i, deadline, problems)
                for i in range(HOSTILE_CLIENTS)
            ),
        )
    after = _memory_kb(server.pid)
    normal, hostile = counts[:NORMAL_CLIENTS], counts[NORMAL_CLIENTS:]
    growth_mb = (after["VmRSS"] - before["VmRSS"]) / 1024
    peak_growth_mb = (after["VmHWM"] - before["VmRSS"]) / 1024
    print(
        f"\nserver pid {server.pid}: VmRSS {before['VmRSS'] / 1024:.1f} MB after warm-up, "
        f"{after['VmRSS'] / 1024:.1f} MB after load (growth {growth_mb:+.1f} MB); "
        f"VmHWM {before['VmHWM'] / 1024:.1f} -> {after['VmHWM'] / 1024:.1f} MB "
        f"(peak growth {peak_growth_mb:+.1f} MB, bound {MEMORY_GROWTH_BOUND_MB} MB)\n"
        f"requests in {LOAD_SECONDS:g} s: normal {sum(normal)} (per client {min(normal)}"
        f"-{max(normal)}), hostile {sum(hostile)} (per client {min(hostile)}-{max(hostile)})"
    )

    assert not problems, f"{len(problems)} bad responses, e.g.:\n" + "\n".join(problems[:10])
    assert min(normal) >= MIN_REQUESTS_PER_NORMAL_CLIENT, normal
    assert min(hostile) >= 1, hostile
    assert peak_growth_mb < MEMORY_GROWTH_BOUND_MB
    assert growth_mb < MEMORY_GROWTH_BOUND_MB
    assert server.process.poll() is None, "".join(server.output)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await http.get("/healthz")).status_code == 200
