"""The Starlette application: routes, per-request context, and the engine's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from core.config import Settings
from db.engine import create_engine, session_factory
from loaders import Loaders, Reader
from resolvers.context import Context
from schema import schema
from server.graphql_http import GraphQLEndpoint

logger = logging.getLogger("impact_graph.server")
READY_TIMEOUT_SECONDS = 2.0


def create_app(settings: Settings, engine: AsyncEngine | None = None) -> Starlette:
    """Build the app; pass `engine` to share one (tests do), else one is made from settings."""
    owns_engine = engine is None
    engine = engine or create_engine(settings.database_url, echo=settings.sql_echo)
    sessions = session_factory(engine)

    def context_for(request_id: str) -> Context:
        return Context(loaders=Loaders(Reader(sessions)), request_id=request_id)

    graphql = GraphQLEndpoint(schema, context_for, graphiql=settings.graphiql)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS), engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            logger.warning("readiness check failed: database unreachable", exc_info=True)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ready", "database": "ok"})

    async def root(_: Request) -> Response:
        return RedirectResponse("/graphql")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        if owns_engine:
            await engine.dispose()

    return Starlette(
        routes=[
            Route(
                "/graphql",
                graphql.handle,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"],
            ),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/", root, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
