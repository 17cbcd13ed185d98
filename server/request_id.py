"""Each request's id: the one a trusted proxy sent (when a header is configured), else a new
one. It is the id of the log line, of errors' `extensions.requestId` and of `X-Request-ID`."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

# What a proxy's id may be made of: bounded, and nothing a log or a header would misread.
SAFE_ID = re.compile(rb"[A-Za-z0-9._:;=/+-]{1,128}")


def new_request_id() -> str:
    """32 random hex digits (as a uuid4's hex, a quarter of its cost)."""
    return os.urandom(16).hex()


def header_name(header: str | None) -> bytes | None:
    """The trusted header's name (`IMPACT_GRAPH_REQUEST_ID_HEADER`) as the app and the edge
    are handed headers: lowercase bytes; None, none trusted."""
    return None if header is None else header.lower().encode("ascii")


def request_id_for(
    headers: Sequence[tuple[bytes, bytes]], trusted: bytes | None
) -> tuple[str, str]:
    """The id and where it came from ("proxy" or "server"): the `trusted` header's value
    (a lowercase name; None trusts no header) when it is one safe id, else a new one. Of two
    or more, the last: a proxy that appends its header (HAProxy's `add-header`) rather than
    replacing it leaves the client's own before it."""
    if trusted is not None:
        for name, value in reversed(headers):
            if name == trusted:
                if SAFE_ID.fullmatch(value):
                    return value.decode("ascii"), "proxy"
                break
    return new_request_id(), "server"
