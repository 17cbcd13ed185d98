"""Which media type a response takes, and whether a browser wants GraphiQL instead."""

from __future__ import annotations

from starlette.requests import Request

from core.lru import PerHeaderValue

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality))
    return ranges


def _negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when we can offer nothing it takes."""
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, str] | None = None
    for media, quality in _media_ranges(accept):
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            candidate = (quality + 0.001, GRAPHQL_RESPONSE)  # preferred on a tie
        elif media in (JSON, "application/*", "*/*"):
            candidate = (quality, JSON)
        else:
            continue
        if best is None or candidate[0] > best[0]:
            best = candidate
    return None if best is None else best[1]


negotiate = PerHeaderValue(_negotiate)


def wants_graphiql(request: Request) -> bool:
    """A browser's GET: `text/html` is asked for and preferred to every JSON type."""
    if request.method != "GET":
        return False
    ranges = _media_ranges(request.headers.get("accept", ""))
    html = max((q for media, q in ranges if media == "text/html"), default=0.0)
    json_types = (GRAPHQL_RESPONSE, JSON, "application/*")
    return html > 0 and html >= max((q for m, q in ranges if m in json_types), default=0.0)
