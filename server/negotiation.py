"""Which media type a response takes, and whether a browser wants GraphiQL instead."""

from __future__ import annotations

import re

from starlette.requests import Request

from core.lru import PerHeaderValue

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


# RFC 9110 12.4.2: a weight is 0 to 1 with three decimals at most
QVALUE = re.compile(r"^(0(\.\d{0,3})?|1(\.0{0,3})?)$")
# The media ranges that take JSON, most precise first (the response type is offered only as
# itself: a client that names no type gets the JSON every client reads)
JSON_RANGES = (JSON, "application/*", "*/*")


def qvalue(value: str) -> float:
    """A `q` parameter's value; one that is not a weight (`nan`, `2`, `0.0001`) is 0."""
    value = value.strip()
    return float(value) if QVALUE.match(value) else 0.0


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                quality = qvalue(value)
        if media:
            ranges.append((media.lower(), quality))
    return ranges


def _negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when we can offer nothing it takes.

    Each type is weighed by the most precise range that names it (RFC 9110 12.5.1:
    `application/json;q=0, */*` refuses JSON); the higher weight wins, and on a tie the
    GraphQL response type, whatever the order they are listed in."""
    if not accept or not accept.strip():
        return JSON
    listed: dict[str, float] = {}
    for media, quality in _media_ranges(accept):
        listed[media] = max(quality, listed.get(media, 0.0))
    graphql = listed.get(GRAPHQL_RESPONSE, 0.0)
    json = next((listed[media] for media in JSON_RANGES if media in listed), 0.0)
    quality, _, media_type = max((graphql, 1, GRAPHQL_RESPONSE), (json, 0, JSON))
    return media_type if quality > 0 else None


negotiate = PerHeaderValue(_negotiate)


def wants_graphiql(request: Request) -> bool:
    """A browser's GET: `text/html` is asked for and preferred to every JSON type."""
    if request.method != "GET":
        return False
    ranges = _media_ranges(request.headers.get("accept", ""))
    html = max((q for media, q in ranges if media == "text/html"), default=0.0)
    json_types = (GRAPHQL_RESPONSE, JSON, "application/*")
    return html > 0 and html >= max((q for m, q in ranges if m in json_types), default=0.0)
