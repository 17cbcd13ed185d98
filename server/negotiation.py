"""Which media type a response takes, and whether a browser wants GraphiQL instead; and how
a media type's parameters are read, in a request's Accept and Content-Type alike."""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.requests import Request

from core.lru import PerHeaderValue

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
WILDCARDS = ("*/*", "application/*")  # the ranges that admit both types, most precise last


def listed(headers: Headers, name: str) -> str | None:
    """A list header's value (`Accept`, `Accept-Encoding`, `If-None-Match`) as one line: sent
    on several lines, its lines joined by commas (RFC 9110 5.3), not its first line alone;
    None where it was not sent."""
    lines = headers.getlist(name)
    return ", ".join(lines) if len(lines) > 1 else (lines[0] if lines else None)


def qvalue(value: str) -> float:
    """A `q` parameter's weight (RFC 9110 12.4.2: 0 to 1); one that is none (`nan`, `2`,
    `high`) is 0. Written loosely (`.5`, `0.5000`), it is still read as it says."""
    try:
        weight = float(value)
    except ValueError:
        return 0.0
    return weight if 0.0 <= weight <= 1.0 else 0.0  # (nan is neither)


# A media type's parameter (RFC 9110 5.6.6): its value a token or a quoted string, which may
# hold a `;` or a `,` (`profile="a;charset=x"` names no charset, `profile="a;q=0"` no weight).
# Possessive, and begun only at a `;`: backtracking over a header of spaces took seconds (a
# 64 KB one, 8 s of a worker's loop), where this takes milliseconds.
MEDIA_PARAMETER = re.compile(r';[ \t]*+([^=;" \t]*+)[ \t]*+=[ \t]*+("(?:[^"\\]|\\.)*+"?|[^;]*)')
# An element of a list header (RFC 9110 5.6.1): up to a comma outside a quoted string.
LIST_ELEMENT = re.compile(r'(?:[^,"]++|"(?:[^"\\]++|\\.)*+"?)++')


def media_parameters(parameters: str) -> list[tuple[str, str]]:
    """The parameters after a media type (`parameters` from its first `;`), by name as sent
    and value as it reads (a quoted string without its quotes and escapes)."""
    return [(name, _unquoted(value)) for name, value in MEDIA_PARAMETER.findall(parameters)]


def _unquoted(value: str) -> str:
    """A parameter's value as it reads: a quoted string without its quotes and escapes."""
    value = value.strip()
    if not value.startswith('"'):
        return value
    return re.sub(r"\\(.)", r"\1", value[1:-1] if value.endswith('"') else value[1:])


def weighted(header: str) -> list[tuple[str, float]]:
    """The elements of a list weighed by `q` (Accept, Accept-Encoding), lowercase, each with
    its weight (1 where it states none), in the order sent."""
    ranges = []
    for element in LIST_ELEMENT.findall(header):
        media, _, parameters = element.partition(";")  # (a type holds no quoted string)
        quality = 1.0
        for name, value in media_parameters(";" + parameters):
            if name.lower() == "q":
                quality = qvalue(value)
        media = media.strip()
        if media:
            ranges.append((media.lower(), quality))
    return ranges


def _negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when we can offer nothing it takes.

    Each type is weighed by the most precise range that admits it (RFC 9110 12.5.1:
    `application/json;q=0, */*` refuses JSON but not the GraphQL response type). The higher
    weight wins; on a tie, a type the client names beats one it admits by a wildcard alone;
    between two it names, the GraphQL response type, and between two it admits alone, JSON,
    which every client reads."""
    if not accept or not accept.strip():
        return JSON
    listed: dict[str, float] = {}
    for media, quality in weighted(accept):
        listed[media] = max(quality, listed.get(media, 0.0))
    ranked = []
    for media_type, preferred_named in ((GRAPHQL_RESPONSE, 1), (JSON, 0)):
        if media_type in listed:
            ranked.append((listed[media_type], 1, preferred_named, media_type))
            continue
        admitting = [listed[wildcard] for wildcard in WILDCARDS if wildcard in listed]
        if admitting:
            ranked.append((admitting[-1], 0, 1 - preferred_named, media_type))
    if not ranked:
        return None
    quality, *_, media_type = max(ranked)
    return media_type if quality > 0 else None


negotiate = PerHeaderValue(_negotiate)


def wants_graphiql(request: Request) -> bool:
    """A browser's GET: `text/html` is asked for and preferred to every JSON type."""
    if request.method != "GET":
        return False
    ranges = weighted(listed(request.headers, "accept") or "")
    html = max((q for media, q in ranges if media == "text/html"), default=0.0)
    json_types = (GRAPHQL_RESPONSE, JSON, "application/*")
    return html > 0 and html >= max((q for m, q in ranges if m in json_types), default=0.0)
