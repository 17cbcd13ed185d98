"""Browsers on the allow-listed origins may call /graphql; no origin is allowed by default.

Starlette's CORS middleware, but a refused preflight says what it refused in words a browser
developer reads where they look: it is a 200 carrying only what is allowed, so the browser's
console names the refused header or origin itself ("Request header field x-team is not allowed
by Access-Control-Allow-Headers"); a 400 makes it say only that the preflight failed. Its body
names the refusal too, for the network tab and for curl.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, Response

from core.config import Settings
from server.answers import CACHE_HEADER
from server.responses import EXECUTOR_HEADER, REQUEST_ID_HEADER

ASKED_HEADERS = "access-control-request-headers"
# What a page's script may read of an answer besides the CORS-safelisted headers: its id, who
# answered it and whether from the cache, when to try again (a 429 or 503), and its tag.
EXPOSED = [REQUEST_ID_HEADER, EXECUTOR_HEADER, CACHE_HEADER, "Retry-After", "ETag"]


class ReadableCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        request_headers = _without_empty_elements(request_headers)
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = self.refusals(request_headers)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return PlainTextResponse("CORS preflight refused: " + "; ".join(refused), 200, headers)

    def refusals(self, request_headers: Headers) -> list[str]:
        origin = request_headers["origin"]
        method = request_headers["access-control-request-method"]
        asked = request_headers.get(ASKED_HEADERS) or ""
        found = []
        if not self.is_allowed_origin(origin=origin):
            found.append(f"origin {origin} is not allowed (IMPACT_GRAPH_CORS_ORIGINS)")
        if method not in self.allow_methods:
            found.append(f"method {method} is not allowed (only {', '.join(self.allow_methods)})")
        headers = [h.strip().lower() for h in asked.split(",") if h.strip()]
        if not self.allow_all_headers:
            unlisted = [h for h in headers if h not in self.allow_headers]
            if unlisted:
                found.append(
                    f"request headers {', '.join(unlisted)} are not allowed "
                    f"(allowed: {', '.join(sorted(self.allow_headers))}; "
                    "IMPACT_GRAPH_CORS_HEADERS adds more)"
                )
        if "access-control-request-private-network" in request_headers:
            found.append("private network access is not allowed")
        return found


def _without_empty_elements(request_headers: Headers) -> Headers:
    """The headers a preflight asks for without a list's empty elements, which a recipient
    ignores (RFC 9110 5.6.1: `content-type,` asks for one header), on one line: Starlette
    refused the empty name, a refusal that named nothing, and read the first line alone."""
    lines = request_headers.getlist(ASKED_HEADERS)
    names = [name.strip(" \t") for line in lines for name in line.split(",")]
    if len(lines) <= 1 and all(names):
        return request_headers
    raw = [(key, value) for key, value in request_headers.raw if key != ASKED_HEADERS.encode()]
    if any(names):
        asked = ", ".join(name for name in names if name)
        raw.append((ASKED_HEADERS.encode(), asked.encode("latin-1")))
    return Headers(raw=raw)


def cors_middleware(settings: Settings) -> list[Middleware]:
    """Preflights are answered here, before the route (whose OPTIONS is a 405 otherwise)."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            ReadableCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_credentials,
            allow_methods=["GET", "POST"],
            allow_headers=settings.cors_headers,
            expose_headers=EXPOSED,
            max_age=600,
        )
    ]
