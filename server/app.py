"""The Starlette application: routes, the executors, and the engine's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import AsyncIterator
from functools import partial

from graphql import build_schema
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from compiled.executor import CompiledExecutor
from core.coalesce import Coalesced
from core.config import Settings, get_settings
from core.logs import configure_logging, once_a_window
from db import migrate
from db.engine import PoolOptions, create_engine, snapshot_sessions
from db.errors import StoreFailures
from db.raw import Statements
from db.watch import StoreWatch
from loaders.reader import Reader
from schema import schema
from schema.execute import ReferenceExecutor
from server import explorer
from server.answers import answers_for
from server.caching import build_identity
from server.compression import CompressionMiddleware, matching_etag
from server.cors import cors_middleware
from server.endpoint import GraphQLEndpoint
from server.errors import OUTAGE_LOG_SECONDS
from server.graphiql import ASSETS_DIR, ASSETS_PATH, SCHEMA_PATH
from server.methods import EXCEPTION_HANDLERS, HeadAsGet
from server.negotiation import listed
from server.observe import Observability, configure_access_log
from server.persisted import load_manifest
from server.posts import EarlyPosts
from server.ratelimit import rate_limit
from server.redis_client import redis_client
from server.responses import NO_SNIFF, NO_STORE
from server.shutdown import (
    Drain,
    QuietPools,
    quiet_cancelled_requests,
    stop_when_orphaned,
)
from server.static import AssetFiles

logger = logging.getLogger("impact_graph.server")
# Probes repeat, and anyone may send one: while the store is away, a line every window (the
# next saying how many were left out), as the requests' outage says it; a window for each
# reason, so that a store now opened but not migrated is not hidden by its being unreachable.
unreachable = once_a_window("impact_graph.server.readiness.unreachable", OUTAGE_LOG_SECONDS)
not_migrated = once_a_window("impact_graph.server.readiness.migration", OUTAGE_LOG_SECONDS)
# The schema as graphql-core types, built from the SDL through public APIs only: what
# operation/ parses, measures, prices and validates against. Execution stays Strawberry's.
CONTRACT = build_schema(schema.as_str())
READY_TIMEOUT_SECONDS = 2.0
# /readyz answers by then whatever the database does (a frozen one included): the probe is
# cancelled, not waited for.
READY_ANSWER_SECONDS = 1.5
# at shutdown, how long stopped requests' readers have to give their connections back
WIND_DOWN_SECONDS = 2.0
# then how long closing the connections may take: each close waits for the database to answer,
# and a frozen one would hold every pooled connection for its command timeout in turn
CLEAN_UP_SECONDS = 3.0


class Behind(Exception):
    """The store queries read lacks a migration this build needs (db/migrate.py `behind`)."""

    def __str__(self) -> str:
        return "the database is not migrated to this build's schema (a replica replaying it?)"


def _probe_engine(settings: Settings) -> AsyncEngine:
    wait = READY_TIMEOUT_SECONDS
    return create_engine(
        settings.query_url,
        pool=PoolOptions(
            size=1, max_overflow=0, timeout=wait, connect_timeout=wait, statement_timeout=wait
        ),
        read_only=True,
        variable=settings.query_url_variable,
    )


def create_app(
    settings: Settings,
    engine: AsyncEngine | None = None,
    tracer_provider: TracerProvider | None = None,
    *,
    handles_signals: bool = False,
) -> Starlette:
    """Build the app; pass `engine` to share one (tests do), else one is made from settings;
    `tracer_provider` to trace into it (tests do), else as the settings say;
    `handles_signals` where a server process serves it (its stop signals are the app's to see:
    server/shutdown.py)."""
    owns_engine = engine is None
    engine = engine or create_engine(
        settings.query_url,  # a replica's, if DATABASE_READ_URL names one
        echo=settings.sql_echo,
        pool=PoolOptions(
            size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            timeout=settings.db_pool_timeout,
            connect_timeout=settings.db_connect_timeout,
            statement_timeout=settings.statement_timeout,
        ),
        read_only=True,  # the API never writes; the database enforces it too
        variable=settings.query_url_variable,
    )
    # Readiness has a connection of its own: a busy request pool is not an unready instance.
    probe = engine if not owns_engine else _probe_engine(settings)

    async def store_behind() -> bool:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), probe.connect() as connection:
            return await migrate.store_behind(connection)

    # a missing table is the store's (503) while it lacks a migration, else our bug
    failures = StoreFailures(Coalesced(store_behind, READY_TIMEOUT_SECONDS))
    observed = Observability(settings, engine, tracer_provider)
    connections = settings.db_pool_size + settings.db_max_overflow  # how many may have died
    # The compiled executor holds up to half the pool between its statements, never the
    # last connection: the reference executor checks connections out per request from the rest.
    # A pool of one holds nothing.
    statements = Statements(
        engine,
        max(1, min(settings.db_pool_size // 2, connections - 1)),
        settings.db_pool_timeout,
        hold=connections > 1,
        waiting=observed.waiting,
        tracer=observed.tracer,
    )

    store = StoreWatch(
        engine,
        statements,
        engine.dialect,
        settings.store_check_seconds,
        failures,
        # a lease holds only where the server reads the store seeds write (db/lease.py)
        leases=settings.version_leases and settings.query_url == settings.database_url,
    )
    sdl = (schema.as_str() + "\n").encode()  # what `impact-graph export-schema` writes
    # weak: the same SDL is served compressed or not (RFC 9110 keeps strong tags per coding)
    sdl_etag = 'W/"' + hashlib.sha256(sdl).hexdigest()[:32] + '"'

    # one Redis client for all that is shared (the response cache, the rate limit)
    redis = None if settings.cache_url is None else redis_client(settings.cache_url)
    limit = rate_limit(settings.rate_limit, settings.rate_limit_burst, redis, settings.cache_prefix)

    sessions = snapshot_sessions(engine)  # a request's reads share one snapshot
    reference = ReferenceExecutor(
        schema, partial(Reader, sessions, connections, observed.waiting, failures)
    )
    graphiql = settings.graphiql and settings.introspection  # GraphiQL shows the schema
    graphql = GraphQLEndpoint(
        reference,
        CONTRACT,
        limits=settings.limits(),
        compiled=CompiledExecutor(CONTRACT, engine.dialect, statements),
        executor=settings.executor,
        graphiql=graphiql,
        max_body_bytes=settings.max_body_bytes,
        execution_timeout=settings.execution_timeout,
        max_concurrent_queries=settings.max_concurrent_queries,
        store=store,
        failures=failures,
        build=build_identity(sdl_etag, settings.limits()),
        cache_control=settings.cache_control,
        trusted=None
        if settings.trusted_documents is None
        else load_manifest(settings.trusted_documents),
        pinned=explorer.documents(),
        rate_limit=limit,
        tracer=observed.tracer,
        answers=answers_for(settings, redis),
    )

    # the explorer, built once, links only to what is served here
    schema_path = SCHEMA_PATH if settings.introspection else None
    explorer_page = explorer.explorer_page(graphiql=graphiql, schema=schema_path)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers=NO_STORE)

    drain = Drain(settings.shutdown_drain, signals=handles_signals)
    quiet_cancelled_requests()
    probes: set[asyncio.Task[None]] = set()

    async def select_one() -> None:
        if await store_behind():
            raise Behind

    def settled(task: asyncio.Task[None]) -> None:
        probes.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a probe given up on logs nothing more

    async def readyz(_: Request) -> Response:
        if drain.started:
            return JSONResponse({"status": "shutting down"}, 503, NO_STORE)
        task = asyncio.create_task(select_one())
        probes.add(task)
        task.add_done_callback(settled)
        # not `timeout`: cancelling a connection to a frozen database can take as long again
        await asyncio.wait({task}, timeout=READY_ANSWER_SECONDS)
        error = task.exception() if task.done() else TimeoutError("no answer in time")
        if isinstance(error, Behind):
            not_migrated.warning("readiness check failed: %s", error)
            return JSONResponse(
                {"status": "unavailable", "database": "not migrated"}, 503, NO_STORE
            )
        if error is not None:  # a line, not a stack
            task.cancel()
            unreachable.warning("readiness check failed: database unreachable (%r)", error)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503, NO_STORE)
        return JSONResponse({"status": "ready", "database": "ok"}, headers=NO_STORE)

    async def published_schema(request: Request) -> Response:
        """The contract as SDL, for code generators and schema registries; revalidated by
        its ETag, which changes exactly when the schema does; text, never sniffed as a page."""
        headers = {"ETag": sdl_etag, "Cache-Control": "no-cache", **NO_SNIFF}
        if matching_etag(sdl_etag, listed(request.headers, "if-none-match")) is not None:
            return Response(status_code=304, headers=headers)
        return Response(sdl, media_type="text/plain; charset=utf-8", headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # the first requests are priced by the store's list sizes too (if it answers in time)
        await store.load(asyncio.get_running_loop().time() + READY_TIMEOUT_SECONDS)
        orphaned = asyncio.create_task(stop_when_orphaned(handles_signals))
        try:
            with drain.installed():
                yield
        finally:
            orphaned.cancel()
        await reference.wind_down(WIND_DOWN_SECONDS)
        quiet = QuietPools(engine, probe)
        dropped = False
        try:
            async with asyncio.timeout(CLEAN_UP_SECONDS):
                await store.aclose()
                await failures.aclose()
                await statements.close()
                if limit is not None:
                    await limit.aclose()  # (before its Redis client closes)
                if redis is not None:
                    await redis.aclose(close_connection_pool=True)
                if owns_engine:
                    await engine.dispose()
                    await probe.dispose()
        except TimeoutError:  # the process is ending: its sockets close with it
            logger.warning(
                "closing the connections took over %g s (is the database answering?); "
                "they are dropped",
                CLEAN_UP_SECONDS,
            )
            if owns_engine:
                await engine.dispose(close=False)
                await probe.dispose(close=False)
                dropped = True
        finally:
            quiet.end(for_good=dropped)
            observed.close()

    app = Starlette(
        middleware=[
            Middleware(
                EarlyPosts,
                endpoint=graphql,
                observer=observed.observer,
                max_body_bytes=settings.max_body_bytes,
                cors=bool(settings.cors_origins),
            ),
            *observed.middleware(),
            Middleware(HeadAsGet),
            *cors_middleware(settings),
            Middleware(CompressionMiddleware),
        ],
        routes=[
            Route("/graphql", graphql.handle, methods=["GET", "POST"]),
            *(
                [Route(SCHEMA_PATH, published_schema, methods=["GET"])]
                if settings.introspection
                else []
            ),
            Mount(ASSETS_PATH, AssetFiles(ASSETS_DIR), name="graphiql-assets"),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *observed.routes(),
            Route("/", explorer_page, methods=["GET"]),
            Mount(explorer.ASSETS_PATH, AssetFiles(explorer.ASSETS_DIR), name="explorer"),
        ],
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.router.redirect_slashes = False  # a redirect would be built from the Host header
    app.state.engine = engine  # for operators and tests: pool status, disposal
    return app


def app_from_settings() -> Starlette:
    """The app of `serve --workers N`: uvicorn imports this factory in each worker process."""
    settings = get_settings()
    configure_logging()  # its own process: as `impact-graph` sets up its own
    configure_access_log(settings.log_level)
    app = create_app(settings, handles_signals=True)
    gc.freeze()  # what start-up made lives as long as the worker (see server/cli.py)
    return app
