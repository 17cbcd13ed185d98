"""Safe to expose: cost reporting, the introspection switch, CORS, timeouts, the pool and a
read-only store. The hostile-request corpus lives in test_hostile.py."""

from __future__ import annotations

import asyncio
import logging
import re
from importlib.metadata import version
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import loaders
from compiled.executor import CompiledExecutor
from core.config import Settings
from db import migrate
from db.engine import PoolOptions, create_engine
from db.errors import QUERY_CANCELED
from semantics.ids import encode_global_id
from server.app import create_app
from tests.assertions import without_cost
from tests.conftest import NO_STORE_CHECK, POSTGRES_URL, Store, make_client

SONY = '{ company(slug: "sony-music") { name } }'
SONY_DATA = {"data": {"company": {"name": "Sony Music"}}}


async def post(http: httpx.AsyncClient, query: str, **payload: object) -> httpx.Response:
    return await http.post("/graphql", json={"query": query, **payload})


async def cost_of(client: httpx.AsyncClient, query: str, **payload: object) -> dict[str, int]:
    response = await post(client, query, **payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    without_cost(body)  # checks actual <= estimated <= budget
    cost: dict[str, int] = body["extensions"]["cost"]
    return cost


def test_strawberry_is_new_enough_for_the_alias_limit_fix():
    """GHSA-fr49-mhgj-crfc: before 0.315.7, fragments bypassed Strawberry's alias limiter."""
    installed = tuple(int(part) for part in re.findall(r"\d+", version("strawberry-graphql"))[:3])
    assert installed >= (0, 315, 7)


NESTED_PAGES = "{ programs(first: 50) { nodes { partners(first: 50) { totalCount } } } }"


async def _links_listed(http: httpx.AsyncClient) -> int:
    """Programs and program-partner rows NESTED_PAGES fetches: what it actually costs."""
    listed = (await post(http, NESTED_PAGES)).json()["data"]["programs"]["nodes"]
    return len(listed) + sum(program["partners"]["totalCount"] for program in listed)


async def test_pages_count_no_more_than_the_longest_list_of_their_kind(client):
    cost = await cost_of(client, NESTED_PAGES)
    # the seed's 23 programs, each with at most 3 partners, as the seed recorded them
    assert cost["estimated"] == 23 + 23 * 3
    assert cost["budget"] == 25_000
    assert cost["actual"] == await _links_listed(client)  # every program, every partner row


async def test_where_no_sizes_are_recorded_nested_pages_cost_the_product_of_their_sizes(
    unrecorded_store: Store,
):
    async with make_client(unrecorded_store.engine) as http:
        cost = await cost_of(http, NESTED_PAGES)
        assert cost["estimated"] == 50 + 50 * 50
        assert cost["actual"] == await _links_listed(http)


async def test_citations_and_single_objects_count_one_each(client, unrecorded_store: Store):
    query = """{ company(slug: "sony-music") {
        foundedIn { name } citations { quote document { title } } } }"""
    cost = await cost_of(client, query)
    # company + foundedIn + the most citations a company has (5), each with its document
    assert cost["estimated"] == 1 + 1 + 5 * (1 + 1)
    cited = (await post(client, query)).json()["data"]["company"]["citations"]
    assert cost["actual"] == 1 + 1 + 2 * len(cited)
    async with make_client(unrecorded_store.engine) as http:  # no sizes: 5 citations a list
        assert (await cost_of(http, query))["estimated"] == 1 + 1 + 5 * (1 + 1)


async def test_page_sizes_from_variables_and_their_defaults(client):
    query = "query($n: Int = 7) { programs(first: $n) { totalCount } }"
    assert (await cost_of(client, query))["estimated"] == 7
    assert (await cost_of(client, query, variables={"n": 3}))["estimated"] == 3
    assert (await cost_of(client, query, variables={"n": 100}))["estimated"] == 23  # all of it
    assert (await cost_of(client, "{ programs { totalCount } }"))["estimated"] == 20
    # a list of IDs sent as a variable is priced at its length, not at the most it may hold
    # (100, and 100 times over below it: a page of partners' programs refused unasked)
    ids = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    sony = encode_global_id("Company", "sony-music")
    for sent in (1, 3):
        assert (await cost_of(client, ids, variables={"ids": [sony] * sent}))["estimated"] == sent


async def test_a_page_size_sent_as_a_whole_float_is_priced_as_the_integer(client):
    """graphql-core takes `100.0` for the Int 100, so the estimate must too: priced as no
    size given (the default page of 20), a client would fetch 100 items a page for the price
    of 20, and every nested list five times past its budget."""
    query = "query Float($n: Int) { programs(first: $n) { totalCount nodes { slug } } }"
    for sent, priced in ((3.0, 3), (100.0, 23)):  # 23: all of them
        cost = await cost_of(client, query, variables={"n": sent})
        assert cost == await cost_of(client, query, variables={"n": int(sent)})
        assert cost["estimated"] == priced


async def test_a_null_page_size_is_priced_as_the_default_page_not_the_variables_default(client):
    query = """query($n: Int = 1) {
        programs(first: $n) { nodes { partners(first: $n) { totalCount } } } }"""
    assert (await cost_of(client, query))["estimated"] == 1 + 1
    null = await cost_of(client, query, variables={"n": None})
    # what the resolvers then fetch: default pages of 20 programs, of at most 3 partners
    assert null["estimated"] == 20 + 20 * 3
    assert null["actual"] <= null["estimated"]
    deep = "query($n: Int = 1) { " + "programs(first: $n) { nodes { company { " * 4 + "slug"
    deep += " } } }" * 4 + " }"
    refused = (await post(client, deep, variables={"n": None})).json()
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_a_connection_counts_its_items_once_whether_edges_or_nodes(client):
    both = (
        "{ partners(first: 4) { edges { node { name } } nodes { name } pageInfo { hasNextPage } } }"
    )
    assert (await cost_of(client, both))["estimated"] == 4


async def test_a_query_priced_at_exactly_the_budget_runs(store: Store):
    """The budget is the most a query may cost (README: "estimated cost | 25,000 objects"):
    one priced at it runs, one past it is refused."""
    query = "{ programs(first: 30) { nodes { partners { totalCount } } } }"  # priced at 92
    for budget, refused in ((92, False), (91, True)):
        async with make_client(store.engine, max_cost=budget) as http:
            answer = (await post(http, query)).json()
        codes = [error["extensions"]["code"] for error in answer.get("errors", ())]
        assert codes == (["QUERY_TOO_COMPLEX"] if refused else []), answer
        assert answer["extensions"]["cost"]["estimated"] == 92


async def test_the_budget_is_configurable_and_reported(store: Store):
    query = "{ programs(first: 30) { nodes { partners { totalCount } } } }"
    async with make_client(store.engine, max_cost=25) as http:
        refused = (await post(http, query)).json()
        assert "data" not in refused
        [error] = refused["errors"]
        assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 92, "budget": 25}
        assert "92 objects" in error["message"]
        assert "budget is 25" in error["message"]
        assert refused["extensions"]["cost"] == {"estimated": 92, "budget": 25}
        assert without_cost((await post(http, "{ programs(first: 25) { totalCount } }")).json())[
            "data"
        ] == {"programs": {"totalCount": 23}}


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Program") { name } }',
        "query { ...Types } fragment Types on Query { __schema { types { name } } }",
    ],
)
async def test_introspection_can_be_switched_off(store: Store, query):
    async with make_client(store.engine, introspection=False) as http:
        body = (await post(http, query)).json()
        assert "data" not in body
        assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
        assert body["errors"][0]["message"] == "Introspection is disabled on this server."
        assert without_cost((await post(http, "{ __typename }")).json()) == {
            "data": {"__typename": "Query"}
        }
        assert without_cost((await post(http, SONY)).json()) == SONY_DATA


SUGGESTION_SHAPED = "x Did you mean 'company'?"


@pytest.mark.parametrize("introspection", [True, False])
async def test_with_introspection_off_the_schema_is_not_told_another_way(
    store: Store, introspection
):
    """Off, the schema is not published (`/graphql/schema.graphql`), GraphiQL (which shows it)
    is not served, and a typo's "Did you mean ...?" does not name the fields, types, input
    fields and enum values one guess at a time. On, all of it is there."""
    typos = [
        ("{ compny { name } }", "company"),
        ("query($k: ProgramKnd) { __typename }", "ProgramKind"),
        ("{ programs(filter: { kin: [FUND] }) { totalCount } }", "kind"),
        ("{ programs(filter: { kind: [FUNDX] }) { totalCount } }", "FUND"),
    ]
    async with make_client(store.engine, introspection=introspection) as http:
        schema = await http.get("/graphql/schema.graphql")
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        said = [((await post(http, query)).json(), name) for query, name in typos]
        variables = await http.post(
            "/graphql",
            json={
                "query": "query($f: ProgramFilter) { programs(filter: $f) { totalCount } }",
                "variables": {"f": {"kin": ["FUND"]}},
            },
        )
        # what a client sent, echoed inside quotes, is its own text, suggestion-shaped or not
        echoed = await post(
            http,
            "query($n: Int) { programs(first: $n) { totalCount } }",
            variables={"n": SUGGESTION_SHAPED},
        )
    said.append((variables.json(), "kind"))
    assert schema.status_code == (200 if introspection else 404)
    assert page.headers["content-type"].startswith("text/html") == introspection
    for body, name in said:
        messages = " ".join(error["message"] for error in body["errors"])
        assert ("Did you mean" in messages) == introspection, messages
        assert (f"'{name}'" in messages) == introspection, messages
    [error] = echoed.json()["errors"]
    assert error["message"].endswith(f': "{SUGGESTION_SHAPED}"'), error["message"]


async def test_introspection_is_on_by_default_for_graphiql_and_tools(client):
    from graphql import get_introspection_query

    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    body = (await post(client, query)).json()
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"] == {"name": "Query", "kind": "OBJECT"}


APP = "https://app.example"


async def test_no_origin_is_allowed_by_default(client):
    response = await client.post("/graphql", json={"query": SONY}, headers={"Origin": APP})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options(
        "/graphql", headers={"Origin": APP, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers
    # a browser developer reading the network tab learns why, and which setting allows it
    assert "IMPACT_GRAPH_CORS_ORIGINS" in preflight.json()["errors"][0]["message"]
    plain = await client.options("/graphql")  # not a preflight: no word of CORS
    assert plain.json()["errors"][0]["message"] == "use GET or POST"


async def send_preflight(http: httpx.AsyncClient, headers: str) -> httpx.Response:
    """A browser's CORS preflight from APP for a POST sending `headers`."""
    return await http.options(
        "/graphql",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


async def test_allow_listed_origins_get_cors_headers_and_others_do_not(store: Store):
    async with make_client(store.engine, cors_origins=[APP]) as http:
        preflight = await send_preflight(http, "content-type")
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == APP
        # what the route answers: another method allowed here would be a 405 there
        allowed_methods = preflight.headers["access-control-allow-methods"].split(", ")
        assert set(allowed_methods) == {"GET", "POST"}
        assert "access-control-allow-credentials" not in preflight.headers
        # the browser keeps the preflight's answer ten minutes, not a preflight per request
        assert preflight.headers["access-control-max-age"] == "600"

        allowed = await http.post("/graphql", json={"query": SONY}, headers={"Origin": APP})
        assert allowed.headers["access-control-allow-origin"] == APP
        # what a page's script may read: the id, who answered, the cache, when to try again
        # (Retry-After is not a CORS-safelisted header) and the tag
        exposed = allowed.headers["access-control-expose-headers"].lower().split(", ")
        assert set(exposed) == {"x-request-id", "x-executor", "x-cache", "retry-after", "etag"}

        other = "https://evil.example"
        refused = await http.options(
            "/graphql", headers={"Origin": other, "Access-Control-Request-Method": "POST"}
        )
        assert refused.status_code == 200  # the browser refuses it, and says why
        assert "access-control-allow-origin" not in refused.headers
        assert f"origin {other} is not allowed" in refused.text
        answered = await http.post("/graphql", json={"query": SONY}, headers={"Origin": other})
        assert "access-control-allow-origin" not in answered.headers


async def test_credentials_echo_the_origin_never_a_wildcard(store: Store):
    async with make_client(store.engine, cors_origins=[APP], cors_credentials=True) as http:
        response = await http.post("/graphql", json={"query": SONY}, headers={"Origin": APP})
        assert response.headers["access-control-allow-origin"] == APP
        assert response.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize(
    "origin",
    [
        "https://*.example.com",
        "https://a.example?x=1",
        "https://u@a.example",
        "ftp://a.example",
        "https://a\u200db.example",  # (a joiner: browsers refuse the name)
        "http://1.2.3.4.5",  # (ends in a number: no IPv4 address)
        "http://127.0.0.1 x.1",  # (inet_aton reads up to the space: 127.0.0.1)
        "http://[fe80::1%25eth0]",  # (a zone id: browsers refuse it)
        "https://a b.example",  # (the URL Standard's forbidden domain code points...)
        "https://a<b>.example",
        "https://a|b.example",
        "https://%20.example",  # (...also where percent-encoded)
        "https://%ff.example",  # (percent-decoded, no UTF-8)
    ],
)
def test_an_origin_a_browser_could_never_send_is_a_configuration_error(origin):
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(cors_origins=[origin])


def test_origins_are_written_as_browsers_send_them():
    written = [
        "HTTPS://App.Example:443/",
        "http://localhost:5173",
        "http://a.example:80",
        "http://[::1]:5173",  # (its brackets were dropped: a browser's never matched)
        "http://[0:0:0:0:0:0:0:1]",  # (an IPv6 address compressed)
        "http://127.1:8080",  # (an IPv4 address in four parts)
        "https://Bücher.example",  # (a browser sends a name in IDNA's ASCII form...)
        "https://faß.de",  # (...as UTS 46 maps it for browsers: IDNA 2003 said fass.de)
        "http://Web_App:3000",  # (ASCII names as browsers take them: a Compose service's)
        "http://1.2.3.4.",  # (an IPv4 address's trailing dot is dropped)
        "https://ex%41mple.com",  # (a name is read percent-decoded)
    ]
    assert Settings(cors_origins=written).cors_origins == [
        "https://app.example",
        "http://localhost:5173",
        "http://a.example",
        "http://[::1]:5173",
        "http://[::1]",
        "http://127.0.0.1:8080",
        "https://xn--bcher-kva.example",
        "https://xn--fa-hia.de",
        "http://web_app:3000",
        "http://1.2.3.4",
        "https://example.com",
    ]


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_timeouts_must_be_finite_and_positive(value):
    with pytest.raises(ValidationError):
        Settings(IMPACT_GRAPH_EXECUTION_TIMEOUT=value)
    with pytest.raises(ValidationError):
        Settings(IMPACT_GRAPH_STATEMENT_TIMEOUT=value)


def test_a_wildcard_with_credentials_is_a_configuration_error():
    with pytest.raises(ValidationError, match="cannot be combined with credentials"):
        Settings(cors_origins=["*"], cors_credentials=True)
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(cors_origins=["https://app.example/path"])
    assert Settings(
        IMPACT_GRAPH_CORS_ORIGINS="https://a.example, http://b.example:5173"
    ).cors_origins == [
        "https://a.example",
        "http://b.example:5173",
    ]


def _slow_down(patch: pytest.MonkeyPatch, executor: str, delay: Any) -> None:
    """Make the executor's reads wait on `delay()` first."""
    if executor == "reference":
        real_read = loaders.fetch_by_keys

        async def slowed_read(*args: Any, **kwargs: Any) -> Any:
            await delay()
            return await real_read(*args, **kwargs)

        patch.setattr(loaders, "fetch_by_keys", slowed_read)
    else:
        real_run = CompiledExecutor.run

        async def slowed_run(*args: Any) -> Any:
            await delay()
            return await real_run(*args)

        patch.setattr(CompiledExecutor, "run", slowed_run)


EXECUTORS = ["reference", "compiled"]


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_a_request_past_its_execution_timeout_is_stopped_with_a_503(
    store: Store, monkeypatch, executor
):
    async with make_client(store.engine, execution_timeout=0.3, executor=executor) as http:
        with monkeypatch.context() as patch:
            _slow_down(patch, executor, lambda: asyncio.sleep(30))
            started = asyncio.get_running_loop().time()
            response = await post(http, SONY)
            elapsed = asyncio.get_running_loop().time() - started
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json() == {
            "errors": [
                {
                    "message": "The query did not finish within 0.3 s and was stopped.",
                    "extensions": {"code": "QUERY_TIMEOUT"},
                }
            ]
        }
        assert elapsed < 5
        healthy = await post(http, SONY)
        assert without_cost(healthy.json()) == SONY_DATA
        assert healthy.headers["x-executor"] == executor


def _pool_engine(store: Store, **options: float) -> object:
    return create_engine(
        store.database_url,
        search_path=store.search_path,
        pool=PoolOptions(**options),
        read_only=True,
    )


async def test_the_pool_is_sized_from_configuration(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'pool.db'}",
        db_pool_size=3,
        db_max_overflow=2,
        db_pool_timeout=1.5,
    )
    app = create_app(settings)
    pool = app.state.engine.pool
    assert pool.size() == 3
    assert pool._max_overflow == 2
    assert pool._timeout == 1.5
    await app.state.engine.dispose()


async def test_an_exhausted_pool_answers_503_busy_then_recovers(store: Store):
    engine = _pool_engine(store, size=1, max_overflow=0, timeout=0.2)
    async with make_client(engine) as http:
        async with engine.connect() as held:  # the only connection
            await held.execute(text("SELECT 1"))
            response = await post(http, SONY)
            assert response.status_code == 503
            [error] = response.json()["errors"]
            assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE"
            assert error["message"] == "The database is busy; try again shortly."
        assert without_cost((await post(http, SONY)).json()) == SONY_DATA
    await engine.dispose()


async def test_the_serving_engine_refuses_writes(store: Store):
    engine = _pool_engine(store)
    try:
        async with engine.connect() as connection:
            with pytest.raises(Exception, match=r"read-only|readonly"):
                await connection.execute(text("DELETE FROM companies"))
        async with engine.connect() as connection:
            count = await connection.execute(text("SELECT count(*) FROM companies"))
            assert count.scalar_one() == 1
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("executor", EXECUTORS)
async def test_postgresql_stops_a_slow_statement_and_the_server_recovers(
    store: Store, executor: str, caplog: pytest.LogCaptureFixture
):
    """A table locked by someone else stalls our statement until statement_timeout ends it,
    once: a failed compiled statement is not tried again by the reference executor. Its line
    is a timeout's, not an outage's: the outage line's window would hide a real outage after
    it (mutation review: it went to the outage line)."""
    engine = _pool_engine(store, statement_timeout=0.5)
    locker = create_engine(POSTGRES_URL, search_path=store.search_path)
    try:
        async with make_client(engine, execution_timeout=10, executor=executor) as http:
            async with locker.connect() as connection:
                await connection.execute(text("LOCK TABLE companies IN ACCESS EXCLUSIVE MODE"))
                started = asyncio.get_running_loop().time()
                with caplog.at_level(logging.WARNING):
                    response = await post(http, SONY)
                took = asyncio.get_running_loop().time() - started
                await connection.rollback()
            assert response.status_code == 503
            assert took < 0.95, f"{took:.2f} s: the stalled statement ran twice"
            [error] = response.json()["errors"]
            assert error["extensions"]["code"] == "QUERY_TIMEOUT"
            assert error["message"] == "A database statement took too long and was stopped."
            lines = {record.name for record in caplog.records}
            assert "impact_graph.timeouts" in lines
            assert "impact_graph.outage" not in lines
            assert without_cost((await post(http, SONY)).json()) == SONY_DATA
    finally:
        await engine.dispose()
        await locker.dispose()


@pytest.mark.parametrize("executor", EXECUTORS)
async def test_executions_in_flight_are_bounded_and_the_rest_queue(
    store: Store, monkeypatch, executor
):
    running = peak = 0

    async def delay() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.05)
        finally:
            running -= 1

    async with make_client(store.engine, max_concurrent_queries=2, executor=executor) as http:
        _slow_down(monkeypatch, executor, delay)
        responses = await asyncio.gather(*(post(http, SONY) for _ in range(8)))
    assert [without_cost(r.json()) for r in responses] == [SONY_DATA] * 8
    assert {r.headers["x-executor"] for r in responses} == {executor}
    assert peak == 2


async def test_readiness_does_not_wait_for_the_request_pool(tmp_path):
    """A pool busy with requests is a busy instance, not an unready one."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ready.db'}",
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=0.2,
    )
    writer = create_engine(settings.database_url)  # (a store never migrated is not ready)
    await migrate.upgrade(writer)
    await writer.dispose()
    app = create_app(settings)
    engine = app.state.engine
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        engine.connect() as held,
    ):
        await held.execute(text("SELECT 1"))  # the request pool's only connection
        busy = await post(http, "{ companies { totalCount } }")
        assert busy.status_code == 503
        assert busy.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
    await engine.dispose()


def test_graphql_cores_own_validation_budget_is_reported_as_a_limit():
    from graphql.validation.validate import ValidationAbortedError

    from operation.prepare import _reworded

    reworded = _reworded(ValidationAbortedError("Validation aborted."))
    assert reworded.original_error is not None
    assert reworded.original_error.extensions() == {"code": "QUERY_TOO_COMPLEX"}
    assert reworded.message.startswith("The query is too complex to validate")


@pytest.mark.postgres
async def test_a_tiny_statement_timeout_is_never_rounded_to_none(store: Store):
    engine = _pool_engine(store, statement_timeout=0.0004)
    try:
        async with engine.connect() as connection:
            shown = await connection.execute(text("SHOW statement_timeout"))
            assert shown.scalar_one() == "1ms"  # 0 would switch PostgreSQL's timeout off
    except DBAPIError as error:
        # On a loaded machine even SHOW can outlast 1 ms: being cancelled proves it is on.
        cancelled = getattr(error.orig, "sqlstate", None) == QUERY_CANCELED
        if not cancelled:
            raise
    finally:
        await engine.dispose()


async def test_busy_held_connections_answer_503_busy_within_the_pool_wait(
    store: Store, monkeypatch
):
    """The compiled executor's held connections (half the pool: one here) are waited for as
    long as the pool would be, then the request is told the database is busy."""
    import db.raw

    real = db.raw._fetch_row
    release = asyncio.Event()

    async def held_up(driver: Any, sql: Any, arguments: Any) -> Any:
        if not release.is_set():
            await release.wait()
        return await real(driver, sql, arguments)

    monkeypatch.setattr(db.raw, "_fetch_row", held_up)
    # the response cache off, and no periodic look at the store's state: its data version
    # read (a statement on a held connection too) would be the one held up here
    settings = {
        "db_pool_size": 2,
        "db_pool_timeout": 0.3,
        "cache": False,
        **NO_STORE_CHECK,
    }
    async with make_client(store.engine, **settings) as http:
        first = asyncio.create_task(post(http, SONY))  # holds the only slot
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        busy = await post(http, SONY)
        waited = asyncio.get_running_loop().time() - started
        assert busy.status_code == 503, busy.text
        [error] = busy.json()["errors"]
        assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE"
        assert error["message"] == "The database is busy; try again shortly."
        assert 0.25 < waited < 2.0
        release.set()
        assert without_cost((await first).json()) == SONY_DATA
        assert without_cost((await post(http, SONY)).json()) == SONY_DATA


async def test_preflights_allow_tracing_and_client_awareness_headers_by_default(store: Store):
    asked = "content-type, traceparent, tracestate, baggage, apollographql-client-name"
    async with make_client(store.engine, cors_origins=[APP]) as http:
        preflight = await send_preflight(http, asked)
        assert preflight.status_code == 200, preflight.text
        allowed = preflight.headers["access-control-allow-headers"].lower()
        for name in asked.split(", "):
            assert name in allowed
        refused = await send_preflight(http, "content-type, x-not-listed")
        assert refused.status_code == 200  # the browser refuses it and names the header
        assert "x-not-listed" not in refused.headers["access-control-allow-headers"].lower()
        assert "request headers x-not-listed are not allowed" in refused.text
        assert "content-type" not in refused.text.split("allowed:")[0]  # only what was refused


async def test_a_refused_preflight_names_the_method_or_the_private_network_it_refused(
    store: Store,
):
    async with make_client(store.engine, cors_origins=[APP]) as http:
        put = await http.options(
            "/graphql", headers={"Origin": APP, "Access-Control-Request-Method": "PUT"}
        )
        assert put.status_code == 200  # the browser refuses it, and says why
        assert "PUT" not in put.headers["access-control-allow-methods"]
        assert "method PUT is not allowed (only GET, POST)" in put.text
        private = await http.options(
            "/graphql",
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Private-Network": "true",
            },
        )
        assert private.status_code == 200
        assert "access-control-allow-private-network" not in private.headers
        assert private.text == "CORS preflight refused: private network access is not allowed"


@pytest.mark.parametrize(
    "asked", ["content-type,", ", content-type", "content-type,,", ",", "content-type, ", " , "]
)
async def test_a_preflight_s_empty_list_elements_are_ignored(store: Store, asked):
    """RFC 9110 5.6.1: a list's empty elements are ignored. Starlette refused `content-type,`
    as asking for a header of no name, and the refusal's words named none."""
    async with make_client(store.engine, cors_origins=[APP]) as http:
        preflight = await send_preflight(http, asked)
    assert preflight.status_code == 200
    assert "refused" not in preflight.text, preflight.text
    assert preflight.headers["access-control-allow-origin"] == APP
    allowed = preflight.headers["access-control-allow-headers"].lower().split(", ")
    assert "content-type" in allowed


async def test_a_preflight_asking_on_two_lines_is_read_whole(store: Store):
    """A list sent on two lines is one list (RFC 9110 5.3): a header the second line asks
    for is refused by name (Starlette read the first line alone, and allowed it)."""
    async with make_client(store.engine, cors_origins=[APP]) as http:
        headers = [
            ("origin", APP),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
            ("access-control-request-headers", "x-team"),
        ]
        refused = await http.options("/graphql", headers=headers)
        allowed = await http.options("/graphql", headers=[*headers[:3], headers[2]])
    assert refused.status_code == 200  # the browser refuses it, and says why
    assert "request headers x-team are not allowed" in refused.text
    assert "refused" not in allowed.text, allowed.text


async def test_the_allowed_request_headers_come_from_a_setting(store: Store, monkeypatch):
    monkeypatch.setenv("IMPACT_GRAPH_CORS_HEADERS", "Content-Type, X-Team")
    settings = Settings(cors_origins=[APP])
    assert settings.cors_headers == ["Content-Type", "X-Team"]
    async with make_client(store.engine, cors_origins=[APP], cors_headers=["X-Team"]) as http:
        preflight = await send_preflight(http, "x-team")
        assert preflight.status_code == 200
    with pytest.raises(ValueError, match="not an HTTP header name"):
        Settings(cors_headers=["bad header"])


async def test_a_pool_of_one_is_not_held_by_the_compiled_executor(store: Store):
    """The compiled executor never keeps the pool's last connection: a request the reference
    executor answers right after a compiled one gets the connection, not a busy 503."""
    engine = _pool_engine(store, size=1, max_overflow=0, timeout=0.3)
    mixed = '{ __type(name: "Program") { name } company(slug: "sony-music") { name } }'
    async with make_client(engine, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.3) as http:
        for _ in range(3):
            compiled = await post(http, SONY)
            assert compiled.headers["x-executor"] == "compiled"
            reference = await post(http, mixed)
            assert reference.status_code == 200, reference.text
            assert reference.headers["x-executor"] == "reference"
    await engine.dispose()
