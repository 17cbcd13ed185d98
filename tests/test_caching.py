"""HTTP caching and compression: GET answers carry a strong ETag from the data version and the
request, a matching If-None-Match gets 304 without the query running, a seed that changes
rows changes every tag, errors are never cached; answers are br- or gzip-encoded as asked."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import threading
from typing import Any

import brotli  # type: ignore[import-untyped]
import httpx
import pytest

from core.config import Settings
from seeds.read import read_seeds
from seeds.write import write_seeds
from server import static
from server.compression import accepted_coding, matching_etag
from server.explorer import ASSETS_DIR as EXPLORER_DIR
from server.graphiql import ASSETS_DIR as GRAPHIQL_DIR
from tests.assertions import spied
from tests.conftest import StatementCounter, Store, make_client, reads_the_store_state
from tests.factories import graph_data, without_program, write_seed_tree

QUERY = "query Programs($n: Int) { programs(first: $n) { nodes { slug name description } } }"
JSON = "application/json"
STRONG = re.compile(r'^"v\d+-[0-9a-f]{32}"$')


async def get(
    http: httpx.AsyncClient,
    variables: dict[str, Any] | None = None,
    query: str = QUERY,
    operation_name: str | None = None,
    **headers: str,
) -> httpx.Response:
    params = {"query": query}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    if operation_name is not None:
        params["operationName"] = operation_name
    sent = {"accept": JSON, **{name.replace("_", "-"): v for name, v in headers.items()}}
    return await http.get("/graphql", params=params, headers=sent)


async def test_get_answers_carry_a_strong_etag_and_revalidate(client):
    answer = await get(client, {"n": 5}, accept_encoding="identity")
    assert answer.status_code == 200
    etag = answer.headers["etag"]
    assert STRONG.match(etag), etag
    assert answer.headers["cache-control"] == "no-cache"
    assert "accept" in answer.headers["vary"].lower()
    assert (await get(client, {"n": 5}, accept_encoding="identity")).headers["etag"] == etag

    for listed in (etag, f'"other", {etag}', f"W/{etag}"):
        again = await get(client, {"n": 5}, if_none_match=listed)
        assert again.status_code == 304, listed
        assert again.content == b""
        assert again.headers["cache-control"] == "no-cache"
        assert "x-executor" not in again.headers  # nothing ran
    assert (await get(client, {"n": 5}, if_none_match='"v0-other"')).status_code == 200
    assert (await get(client, {"n": 5}, if_none_match="*")).status_code == 200
    bad = '{ programs(after: "not a cursor") { totalCount } }'  # an error: never a 304
    assert (await get(client, query=bad, if_none_match="*")).status_code == 200


async def test_each_request_has_its_own_tag(client):
    two = QUERY + " query Companies { companies { totalCount } }"
    tags = {
        (await get(client, {"n": 5})).headers["etag"],
        (await get(client, {"n": 6})).headers["etag"],
        (await get(client, {"n": 5}, query=QUERY + " ")).headers["etag"],
        (await get(client, {"n": 5}, accept="application/graphql-response+json")).headers["etag"],
        (await get(client, {"n": 5}, query=two, operation_name="Programs")).headers["etag"],
        (await get(client, {"n": 5}, query=two, operation_name="Companies")).headers["etag"],
    }
    assert len(tags) == 6


async def test_a_compressed_answer_has_its_own_tag_which_revalidates(client):
    plain = await get(client, {"n": 20}, accept_encoding="identity")
    zipped = await get(client, {"n": 20}, accept_encoding="br")
    assert zipped.headers["content-encoding"] == "br"
    assert zipped.headers["etag"] == plain.headers["etag"][:-1] + '-br"'
    assert zipped.json() == plain.json()
    again = await get(client, {"n": 20}, accept_encoding="br", if_none_match=zipped.headers["etag"])
    assert again.status_code == 304
    assert again.headers["etag"] == zipped.headers["etag"]  # the tag the client holds


async def test_a_304_names_only_a_representation_the_request_would_get(client):
    """A tag of another coding matches nothing: a cache serves what a 304's tag names, and a
    client that cannot decode gzip must not be told its gzip copy is current."""
    plain = (await get(client, {"n": 20}, accept_encoding="identity")).headers["etag"]
    zipped = (await get(client, {"n": 20}, accept_encoding="gzip")).headers["etag"]
    assert zipped == plain[:-1] + '-gzip"'
    both = f"{plain}, {zipped}"
    only_gzip = await get(client, {"n": 20}, accept_encoding="identity", if_none_match=zipped)
    assert only_gzip.status_code == 200
    assert "content-encoding" not in only_gzip.headers
    identity = await get(client, {"n": 20}, accept_encoding="identity", if_none_match=both)
    assert (identity.status_code, identity.headers["etag"]) == (304, plain)
    gzip = await get(client, {"n": 20}, accept_encoding="gzip", if_none_match=both)
    assert (gzip.status_code, gzip.headers["etag"]) == (304, zipped)
    brotli = await get(client, {"n": 20}, accept_encoding="br", if_none_match=zipped)
    assert brotli.status_code == 200
    assert brotli.headers["content-encoding"] == "br"


@pytest.mark.parametrize("n", [1, 20])  # an answer under the size compressed, and one over it
@pytest.mark.parametrize("coding", ["identity", "gzip", "br"])
async def test_a_304_says_the_vary_its_200_says(client, n, coding):
    """A cache that updates its stored headers from a 304 (RFC 9110 15.4.5) keys the entry by
    what they name: the same list either way, whatever the answer's size (a 304 of a small
    answer named Accept-Encoding where its 200 did not)."""
    first = await get(client, {"n": n}, accept_encoding=coding)
    again = await get(client, {"n": n}, accept_encoding=coding, if_none_match=first.headers["etag"])
    assert (first.status_code, again.status_code) == (200, 304)
    assert (len(first.content) > 1024) == (n == 20)
    assert again.headers["vary"] == first.headers["vary"] == "Accept, Accept-Encoding"


async def test_a_weakened_compressed_tag_revalidates_too(client):
    """A proxy may weaken a tag (`W/`); `If-None-Match` compares weakly, whatever the coding,
    and the 304 names the representation this request gets."""
    zipped = (await get(client, {"n": 20}, accept_encoding="br")).headers["etag"]
    again = await get(client, {"n": 20}, accept_encoding="br", if_none_match=f"W/{zipped}")
    assert (again.status_code, again.headers["etag"]) == (304, zipped)
    other = await get(client, {"n": 20}, accept_encoding="gzip", if_none_match=f"W/{zipped}")
    assert other.status_code == 200


async def test_if_none_match_is_read_from_every_line_of_it(client):
    """A list may come as several header lines (RFC 9110 5.3): a tag on the second counts."""
    plain = (await get(client, {"n": 20}, accept_encoding="identity")).headers["etag"]
    params = {"query": QUERY, "variables": json.dumps({"n": 20})}
    lines = [("accept", JSON), ("accept-encoding", "identity")]
    lines += [("if-none-match", '"other"'), ("if-none-match", plain)]
    again = await client.get("/graphql", params=params, headers=lines)
    assert (again.status_code, again.headers["etag"]) == (304, plain)


async def test_a_304_runs_no_query(store: Store):
    async with make_client(store.engine) as http:
        etag = (await get(http, {"n": 10})).headers["etag"]
    with StatementCounter(store.engine) as counter:  # from the app's start: it holds a connection
        async with make_client(store.engine) as http:
            revalidated = await get(http, {"n": 10}, if_none_match=etag)
            await asyncio.sleep(0.05)  # asyncpg calls its query loggers once a query is done
            during = list(counter.statements)
            answered = await get(http, {"n": 10})
            await asyncio.sleep(0.05)
    assert revalidated.status_code == 304
    # what a browser puts in the copy it hands the page, in place of the copy's own `miss`
    assert revalidated.headers["x-cache"] == "revalidated"
    assert during  # the store's state (at start-up) and the data version, nothing else
    assert all(reads_the_store_state(statement) for statement in during)
    assert answered.status_code == 200  # while a full answer runs its query, which is counted
    assert any(not reads_the_store_state(s) for s in counter.statements[len(during) :])


async def test_errors_and_uncacheable_answers_are_not_cached(client):
    for query in (
        '{ programs(after: "not a cursor") { totalCount } }',  # an error in the data
        "{ programs { nope } }",  # refused before running
        "{",  # not GraphQL
    ):
        answer = await get(client, query=query)
        assert "etag" not in answer.headers, query
        assert answer.headers["cache-control"] == "no-store", query
    posted = await client.post("/graphql", json={"query": QUERY})
    assert "etag" not in posted.headers


async def test_a_post_is_never_a_304(client, store: Store):
    """A POST's answer has no tag, and its key is not checked against the store as a GET's
    is: one sent with the tag of the same request's GET is answered whole (by another
    server, where no kept answer is found first)."""
    etag = (await get(client, {"n": 3}, accept_encoding="identity")).headers["etag"]
    async with make_client(store.engine) as other:
        posted = await other.post(
            "/graphql",
            json={"query": QUERY, "variables": {"n": 3}},
            headers={"accept": JSON, "if-none-match": etag},
        )
    assert posted.status_code == 200
    assert posted.headers["x-cache"] == "miss"
    assert len(posted.json()["data"]["programs"]["nodes"]) == 3


async def test_a_seed_that_changes_rows_changes_every_tag(empty_store: Store, seed_plan, tmp_path):
    await write_seeds(empty_store.engine, seed_plan)
    async with make_client(empty_store.engine) as http:
        before = await get(http, {"n": 50})
        await write_seeds(empty_store.engine, seed_plan)  # nothing changes: tags hold
        assert (await get(http, {"n": 50}, if_none_match=before.headers["etag"])).status_code == 304

        data = graph_data()
        data["programs"][0]["description"] = "Edited description."
        await write_seeds(empty_store.engine, read_seeds(write_seed_tree(tmp_path / "s", data)))
        after = await get(http, {"n": 50}, if_none_match=before.headers["etag"])
        assert after.status_code == 200
        assert after.headers["etag"] != before.headers["etag"]
        assert "Edited description." in after.text


@pytest.mark.parametrize(("check_seconds", "priced_by"), [(0, "the new seed"), (3600, "the old")])
async def test_a_seed_reprices_requests_once_the_store_is_checked_again(
    empty_store: Store, seed_plan, tmp_path, check_seconds, priced_by
):
    """With the cache off nothing else reads the data version: the list sizes the estimate
    counts are read again once IMPACT_GRAPH_STORE_CHECK_SECONDS have passed since the last
    check (here at once), and not before (here an hour)."""
    await write_seeds(empty_store.engine, seed_plan)
    query = {"query": "{ programs(first: 100) { nodes { slug } } }"}
    settings = {"cache": False, "store_check_seconds": check_seconds}
    async with make_client(empty_store.engine, **settings) as http:

        async def estimated() -> int:
            response = await http.post("/graphql", json=query)
            assert "errors" not in response.json(), response.text
            return int(response.json()["extensions"]["cost"]["estimated"])

        before = await estimated()
        smaller = without_program(graph_data(), "impact-fellows-program")
        await write_seeds(empty_store.engine, read_seeds(write_seed_tree(tmp_path / "s", smaller)))
        after = await estimated()
    assert after == (before - 1 if priced_by == "the new seed" else before)


async def test_a_different_budget_is_a_different_tag(store: Store):
    """`extensions.cost.budget` shows the setting: the same request under another budget is
    other bytes, so another tag."""
    tags = set()
    for budget in (20_000, 25_000):
        async with make_client(store.engine, max_cost=budget) as http:
            tags.add((await get(http, {"n": 3})).headers["etag"])
    assert len(tags) == 2


async def test_cache_control_comes_from_a_setting(store: Store):
    async with make_client(store.engine, cache_control="public, max-age=60") as http:
        answer = await get(http, {"n": 3})
    assert answer.headers["cache-control"] == "public, max-age=60"


def test_a_cache_control_setting_must_be_one_header_value():
    for value in ("no-cache\r\nSet-Cookie: x=1", " ", ""):
        with pytest.raises(ValueError, match="cache_control"):
            Settings(cache_control=value)


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br;Q=0, gzip", "gzip"),  # (a parameter's name is case-insensitive)
        ("br;q=0.5, gzip;q=0.8", "gzip"),
        ("gzip;q=0.5, br", "br"),
        ("*", "br"),
        ("*;q=0, gzip", "gzip"),
        ("identity", None),
        ("", None),
        (None, None),
        ("gzip;q=nonsense", None),
        ("br;q=nan, gzip", "gzip"),
        ("br;q=2, gzip;q=0.5", "gzip"),
        ("br;q=inf, gzip", "gzip"),
        ("br; q=0.001, gzip; q=0.0001", "br"),
    ],
)
def test_the_coding_is_the_one_the_client_weighs_highest(header, coding):
    assert accepted_coding(header) == coding


def test_revalidation_compares_tags_weakly():
    etag = '"v2-abc"'
    assert matching_etag(etag, 'W/"v2-abc"') == 'W/"v2-abc"'
    assert matching_etag(etag, '"v1-abc", "v2-abc"') == '"v2-abc"'
    assert matching_etag(etag, "*") == "*"
    assert matching_etag(etag, '"v1-abc"') is None
    assert matching_etag(etag, '"v2-abc-zstd"') is None
    assert matching_etag(etag, None) is None


@pytest.mark.parametrize("path", ["/graphiql/4.1.2/graphiql.min.js", "/explorer/world-110m.json"])
async def test_compressed_static_files_revalidate_with_their_compressed_tag(client, path):
    for coding in ("br", "gzip"):
        first = await client.get(path, headers={"accept-encoding": coding})
        assert first.headers["content-encoding"] == coding
        etag = first.headers["etag"]
        assert etag.endswith(f'-{coding}"')
        again = await client.get(path, headers={"accept-encoding": coding, "if-none-match": etag})
        assert again.status_code == 304, coding
        assert again.headers["etag"] == etag
        assert again.content == b""


@pytest.mark.parametrize(
    ("path", "folder"),
    [
        ("/graphiql/4.1.2/graphiql.min.js", GRAPHIQL_DIR),
        ("/explorer/world-110m.json", EXPLORER_DIR),
    ],
)
async def test_static_files_are_compressed_once_not_for_every_request(
    store, monkeypatch, path, folder
):
    """GraphiQL's 1 MB bundle took ~50 ms of brotli each time it was asked for, a HEAD as
    much as a GET: each coding's copy is made once and kept, whatever `Range` comes with it
    (a stale `If-Range` or a hundred ranges were answered 200 and compressed anew). The
    bytes are the file's, the headers as the middleware writes them; a client that accepts
    no coding still gets its range."""
    made = spied(monkeypatch, static, "_compress", nth=1)  # the codings compressed to
    original = (folder / path.rsplit("/", 1)[1]).read_bytes()
    decode = {"br": brotli.decompress, "gzip": gzip.decompress}
    ranges = [
        {},
        {"range": "bytes=0-9", "if-range": '"stale"'},
        {"range": "bytes=" + ",".join(f"{n}-{n}" for n in range(0, 202, 2))},
    ]
    async with make_client(store.engine) as client:  # an app of its own: nothing kept yet
        for coding in ("br", "gzip"):
            for method in ("GET", "HEAD"):
                for more in ranges:
                    headers = {"accept-encoding": coding, **more}
                    request = client.build_request(method, path, headers=headers)
                    answer = await client.send(request, stream=True)
                    raw = b"".join([chunk async for chunk in answer.aiter_raw()])
                    assert answer.status_code == 200
                    assert answer.headers["content-encoding"] == coding
                    assert answer.headers["etag"].endswith(f'-{coding}"')
                    assert "accept-encoding" in answer.headers["vary"].lower()
                    assert "accept-ranges" not in answer.headers
                    if method == "GET":
                        assert decode[coding](raw) == original
                        assert int(answer.headers["content-length"]) == len(raw)
                    else:
                        assert raw == b""
        tag = (await client.get(path, headers={"accept-encoding": "br"})).headers["etag"]
        again = await client.get(path, headers={"accept-encoding": "br", "if-none-match": tag})
        ranged = await client.get(
            path, headers={"accept-encoding": "identity", "range": "bytes=0-9"}
        )
    assert made == ["br", "gzip"]
    assert again.status_code == 304
    assert again.headers["vary"] == "Accept-Encoding"  # as its 200 says
    assert ranged.status_code == 206
    assert ranged.content == original[:10]
    assert "content-encoding" not in ranged.headers


async def test_a_file_s_copy_is_made_once_in_a_thread_for_every_client_asking_at_once(
    store, monkeypatch
):
    """The first request for a copy compressed it on the event loop, ~50 ms for GraphiQL's
    bundle during which no other request was answered (once per worker and coding, and
    again for every request that came before it was kept): one compression in a thread now
    serves them all."""
    path = "/graphiql/4.1.2/graphiql.min.js"
    compressing: list[int] = []  # the thread each compression ran in
    real = static._compress

    def compress(data: bytes, coding: str) -> bytes:
        compressing.append(threading.get_ident())
        return real(data, coding)

    monkeypatch.setattr(static, "_compress", compress)
    original = (GRAPHIQL_DIR / "graphiql.min.js").read_bytes()
    async with make_client(store.engine) as client:  # an app of its own: nothing kept yet
        answers = await asyncio.gather(
            *(client.get(path, headers={"accept-encoding": "br"}) for _ in range(5))
        )
        again = await client.get(path, headers={"accept-encoding": "br"})
    for answer in [*answers, again]:
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "br"
        assert answer.content == original  # (decoded by httpx)
    assert len(compressing) == 1
    assert compressing[0] != threading.get_ident()  # not the event loop's


async def test_a_file_asked_with_its_coding_on_a_second_line_is_its_kept_copy(store, monkeypatch):
    """`Accept-Encoding: identity` then `Accept-Encoding: br`: the files read the first line
    (none) and the compression middleware both (br), so it compressed the 1.2 MB bundle on the
    event loop on every such request (~55 ms each). The files read every line now: the kept
    copy is served, compressed once."""
    path = "/graphiql/4.1.2/graphiql.min.js"
    made: list[str] = []
    real = static._compress

    def compress(data: bytes, coding: str) -> bytes:
        made.append(coding)
        return real(data, coding)

    monkeypatch.setattr(static, "_compress", compress)
    lines = [("accept-encoding", "identity"), ("accept-encoding", "br")]
    async with make_client(store.engine) as client:  # an app of its own: nothing kept yet
        answers = [await client.get(path, headers=lines) for _ in range(3)]
    assert made == ["br"]  # once, by the files, for all three
    assert {answer.headers["content-encoding"] for answer in answers} == {"br"}


async def test_large_answers_are_br_or_gzip_encoded_as_asked(client):
    query = "{ programs(first: 20) { nodes { name description } } }"
    sizes = {}
    for coding in ("identity", "gzip", "br"):
        request = client.build_request("POST", "/graphql", json={"query": query})
        request.headers["accept-encoding"] = coding
        answer = await client.send(request, stream=True)
        raw = b"".join([chunk async for chunk in answer.aiter_raw()])
        sizes[coding] = len(raw)
        if coding == "br":
            assert answer.headers["content-encoding"] == "br"
            assert json.loads(brotli.decompress(raw))["data"]["programs"]["nodes"]
        elif coding == "gzip":
            assert answer.headers["content-encoding"] == "gzip"
        else:
            assert "content-encoding" not in answer.headers
        assert "accept-encoding" in answer.headers["vary"].lower()
    assert sizes["br"] < sizes["gzip"] < sizes["identity"] / 2
    small = client.build_request("POST", "/graphql", json={"query": "{ __typename }"})
    small.headers["accept-encoding"] = "br"
    plain = await client.send(small)
    assert "content-encoding" not in plain.headers
    # untagged and under the size: no coding was chosen, and no cache need key it by one
    assert "accept-encoding" not in plain.headers.get("vary", "").lower()


def test_long_header_values_are_worked_out_but_never_remembered():
    """Accept and Accept-Encoding are remembered per value (clients repeat them); a long one,
    which a client could make megabytes, is never kept."""
    from server.compression import accepted_coding
    from server.negotiation import JSON, negotiate

    sizes = (negotiate.remembered(), accepted_coding.remembered())
    assert negotiate("application/json, " + "x/y, " * 1000) == JSON
    assert accepted_coding("gzip, " + "x, " * 1000) == "gzip"
    assert (negotiate.remembered(), accepted_coding.remembered()) == sizes
    assert negotiate("application/json;q=0.9, x/unique-to-this-test") == JSON
    assert negotiate.remembered() in (sizes[0] + 1, 256)
