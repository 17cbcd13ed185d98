"""What a request became, recorded as it goes: one record per `/graphql` request, read once it
is answered by what operators see (the log line, metrics and traces)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server.errors import RequestError
from server.reading import CLIENT_CLOSED_CODE, CLIENT_CLOSED_REQUEST
from server.request_id import request_id_for
from server.responses import error_response

OUTCOME = "outcome"  # its key in the request's state (Starlette's `request.state`)
# Put in a request's state by the edge (server/connections.py) where its client left, or ended
# its side, before the answer's head was written: the app's answer reached no one.
CLIENT_LEFT = "impact_graph.client_left"
# What the response cache did for a request (`Outcome.cache`)
CACHE_HIT = "hit"  # answered from the cache: nothing was parsed or executed
CACHE_MISS = "miss"  # executed (and kept, if the answer can be)
CACHE_UNAVAILABLE = "unavailable"  # the shared cache (Redis) did not answer: executed, not kept


@dataclass
class Outcome:
    """Filled by the endpoint: None where the request never got that far."""

    request_id: str
    request_id_from: str = (
        "server"  # "proxy": sent in the trusted header (README: Running at scale)
    )
    operation_name: str | None = None
    executor: str | None = None  # "compiled" or "reference"
    cost: int | None = None  # the objects the answer holds (the estimate where it did not run)
    cache: str | None = None  # CACHE_HIT, CACHE_MISS, CACHE_UNAVAILABLE; None: not cacheable
    refusal: str | None = None  # the error code of a request refused before it executed
    error: str | None = None  # the first error's code of an answer executed with errors
    arrived: float = field(default_factory=time.perf_counter)  # its latency counts from here


def outcome_of(request: Request) -> Outcome:
    """The request's record: made as the request arrived (server/observe.py), else now."""
    return outcome_in(request.scope.setdefault("state", {}))


def outcome_in(
    state: dict[str, Any],
    headers: Sequence[tuple[bytes, bytes]] = (),
    trusted: bytes | None = None,
) -> Outcome:
    """The record in a request's state (Starlette's `request.state` is this dictionary), made
    now where there is none: its id the `trusted` header's among `headers`, else a new one."""
    found = state.get(OUTCOME)
    if found is None:
        found = state[OUTCOME] = Outcome(*request_id_for(headers, trusted))
    assert isinstance(found, Outcome)
    return found


def refuse(error: RequestError, media_type: str, outcome: Outcome) -> Response:
    """The error's response, under the request's id, its code recorded as the refusal."""
    outcome.refusal = error.code
    return error_response(error, media_type, outcome.request_id)


def left_early(outcome: Outcome) -> int:
    """The status of a request whose client left before its answer (CLIENT_LEFT): 499, as
    nginx logs it, and CLIENT_CLOSED_REQUEST its refusal unless the app refused it first (why
    there was no 200 stays told)."""
    if outcome.refusal is None:
        outcome.refusal = CLIENT_CLOSED_CODE
    return CLIENT_CLOSED_REQUEST
