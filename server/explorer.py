"""The explorer at `/`: a read-only page over the public API (server/explorer.html, its files
in server/static/explorer/). It asks /graphql for nothing but its own operations
(static/explorer/operations/*.graphql), by hash: the page carries each one's SHA-256, computed
here, so it needs no `crypto.subtle` (missing on plain http from another host), and the
endpoint always runs them, with a trusted documents' manifest too."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server.persisted import sha256_hex
from server.responses import PAGE_HEADERS

ASSETS_PATH = "/explorer"
ASSETS_DIR = Path(__file__).resolve().parent / "static" / "explorer"
OPERATIONS_DIR = ASSETS_DIR / "operations"
PAGE = Path(__file__).resolve().parent / "explorer.html"

# Scripts, styles, data and images from this server only; nothing inline, no frames, no forms.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {**PAGE_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY}
Endpoint = Callable[[Request], Awaitable[Response]]


@lru_cache
def operations() -> dict[str, str]:
    """The explorer's operations by name (each file holds one operation, named as the file)."""
    return {
        path.stem: path.read_text(encoding="utf-8")
        for path in sorted(OPERATIONS_DIR.glob("*.graphql"))
    }


def documents() -> dict[str, str]:
    """The explorer's operations by SHA-256: the documents the endpoint always runs."""
    return {sha256_hex(document): document for document in operations().values()}


@lru_cache
def explorer_html(*, graphiql: bool, schema: str | None) -> str:
    """The page, carrying its operations as a JSON data block (`<` escaped, so no text in it
    can close the element); a data block is not a script, so the CSP needs no exception. It
    links to GraphiQL and to the SDL only where the server serves them."""
    carried = {
        name: {"sha256": sha256_hex(document), "query": document}
        for name, document in operations().items()
    }
    data = json.dumps(carried, ensure_ascii=False).replace("<", "\\u003c")
    return (
        PAGE.read_text(encoding="utf-8")
        .replace("__API_LINKS__", api_links(graphiql=graphiql, schema=schema))
        .replace("__NOSCRIPT__", without_script(schema=schema))
        .replace("__OPERATIONS__", data)
    )


def api_links(*, graphiql: bool, schema: str | None) -> str:
    """The header's links to the API, none to what would answer only an error (GraphiQL or
    the SDL switched off)."""
    links = [("/graphql", "GraphiQL")] if graphiql else []
    links += [(schema, "Schema")] if schema else []
    if not links:
        return ""
    anchors = "".join(f'\n        <a href="{href}">{name}</a>' for href, name in links)
    return f'<nav aria-label="API">{anchors}\n      </nav>'


def without_script(*, schema: str | None) -> str:
    """What a browser without JavaScript shows: where else the data is, readable without it
    (GraphiQL needs JavaScript too): the API itself, and its schema where it is served."""
    api = "the API answers GraphQL at <code>/graphql</code> (POST, or GET with ?query=)"
    if schema is None:
        return f"This page needs JavaScript; {api}."
    return f'This page needs JavaScript; {api}, and its schema is <a href="{schema}">here</a>.'


def explorer_page(*, graphiql: bool, schema: str | None) -> Endpoint:
    """The page's endpoint, the page built once: the app says, as its settings do, whether
    it serves GraphiQL and where it serves the SDL (None: it does not), so that the page
    links to nothing it does not serve."""
    page = explorer_html(graphiql=graphiql, schema=schema)

    async def explorer(_: Request) -> Response:
        return HTMLResponse(page, headers=HEADERS)

    return explorer
