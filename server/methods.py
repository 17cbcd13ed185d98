"""The edges of routing, answered as the API answers everything: `HEAD` as `GET` without a
body, and an unknown path or method as a JSON error (Starlette would write plain text, and
would redirect `/graphql/` to a `Location` built from the client's `Host` header; the app
turns that off and answers 404)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import RequestError
from server.negotiation import JSON
from server.outcome import outcome_of, refuse
from server.responses import NO_SNIFF


class HeadAsGet:
    """ASGI middleware: a `HEAD` request runs as `GET` would and its answer goes out with the
    same headers and no body (RFC 9110 section 9.3.2), whatever the route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


NO_CORS = (
    "; this is a CORS preflight, and no other origin may call this server "
    "(IMPACT_GRAPH_CORS_ORIGINS lists those that may)"
)


def _allowed(header: str) -> str:
    """Starlette's Allow (a set, in no order, HEAD included) as GET first, then the rest."""
    methods = {part.strip() for part in header.split(",")} - {"HEAD", ""}
    return ", ".join(sorted(methods, key=lambda method: (method != "GET", method)))


async def not_found(request: Request, _: Exception) -> Response:
    # (as sniff-proof as the pages' files a 404 may stand for)
    error = RequestError(
        404, "NOT_FOUND", "nothing here; GraphQL is served at /graphql", {**NO_SNIFF}
    )
    return refuse(error, JSON, outcome_of(request))


async def method_not_allowed(request: Request, exception: Exception) -> Response:
    headers = exception.headers if isinstance(exception, HTTPException) else None
    allow = _allowed((headers or {}).get("Allow", "GET"))
    wording = " or ".join(allow.split(", "))  # as the GraphQL route words it
    # a preflight reaches here only with CORS off (its middleware answers them)
    preflight = "access-control-request-method" in request.headers
    message = f"use {wording}" + (NO_CORS if preflight else "")
    error = RequestError(405, "METHOD_NOT_ALLOWED", message, {"Allow": allow, **NO_SNIFF})
    return refuse(error, JSON, outcome_of(request))


EXCEPTION_HANDLERS = {404: not_found, 405: method_not_allowed}
