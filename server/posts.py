"""POSTs to `/graphql` answered before routing, first of all the middleware: the router would
send them to the endpoint, and the middleware between only passes them through, at a cost
(Starlette's routing and middleware cost a cached answer more than all else it does, and an
executed one ~9% of its instructions). What operators see of them (their ids, metrics and log
lines) is recorded by the same `Observer` as every other request's (server/observe.py).

A POST whose answer the response cache holds is answered with the endpoint's own reading, key,
lookup and response (`GraphQLEndpoint.kept_answer`); any other is handed to the endpoint with
what was read and looked up, so it neither reads nor looks it up again. Either goes out
through the same compression: the same response the whole way would give. Anything else goes
the whole way, its body replayed: GET and HEAD (tags and revalidation), a body without a
Content-Length or over the limit, any other media type, a body in a content coding (refused
there: it is not read as plain) or an Accept header it cannot answer;
and every request while a rate limit is on (each counts first), CORS is (its middleware adds
`Vary: Origin` to every answer) or tracing is (each request has its span).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.compression import MINIMUM_BYTES, CompressionMiddleware, accepted_coding
from server.endpoint import LOOKED_UP, GraphQLEndpoint
from server.negotiation import negotiate
from server.observe import Observer, with_request_id
from server.reading import declared_length, identity_coded, is_json_body
from server.shutdown import cut_off, cut_off_by_the_grace

GRAPHQL_PATH = "/graphql"
logger = logging.getLogger("impact_graph.graphql")


class EarlyPosts:
    """ASGI middleware, the outermost; `cors`: whether CORS is on (then every request goes the
    whole way, as while tracing)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        endpoint: GraphQLEndpoint,
        observer: Observer,
        max_body_bytes: int,
        cors: bool,
    ) -> None:
        self.app = app
        self.endpoint = endpoint
        self.observer = observer
        self.max_body_bytes = max_body_bytes
        self.active = endpoint.answers_before_routing and not cors and not observer.traced

    async def _kept(
        self, state: dict[str, Any], accept: str | None, body: bytes
    ) -> Response | None:
        """The kept answer, if any. A failure here (a defect) is logged and the request goes
        the whole way, where it is answered as the endpoint answers everything."""
        try:
            return await self.endpoint.kept_answer(state, accept, body)
        except Exception:
            logger.exception("looking up a kept answer failed; the request goes the whole way")
            state.pop(LOOKED_UP, None)
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.active
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != GRAPHQL_PATH
        ):
            await self.app(scope, receive, send)
            return
        headers = _first_values(scope)
        declared = declared_length(headers.get(b"content-length"))
        accept = headers.get(b"accept")
        if (
            not is_json_body(headers.get(b"content-type"))
            or not identity_coded(headers.get(b"content-encoding"))
            or declared is None
            or declared > self.max_body_bytes
            or negotiate(accept) is None  # refused before its body is read
        ):
            await self.app(scope, receive, send)
            return
        outcome = self.observer.begin(scope)  # the latency counts from here, hit or not
        try:
            received, body = await _read(receive)
            replay = _replaying(received, receive)
            response = None if body is None else await self._kept(scope["state"], accept, body)
        except BaseException as error:  # cancelled (the server stopping) before it was looked up
            if not cut_off_by_the_grace(error):
                self.observer.finish(scope, 500, outcome)
                raise
            replay, response = receive, cut_off(outcome)
        if response is None and LOOKED_UP not in scope["state"]:  # not read: the whole way
            await self.app(scope, replay, send)  # recorded there, under the record begun here
            return
        status = 500  # what it became if answering fails (Starlette answers 500 if it can)
        try:
            if response is None:  # none kept: the endpoint answers it (a cut-off too), as routed
                response = await self.endpoint.handle(Request(scope, replay, send))
                with_request_id(response.raw_headers, outcome)
            await _send(response, headers.get(b"accept-encoding"), scope, replay, send)
            status = response.status_code
        finally:
            self.observer.finish(scope, status, outcome)


async def _send(
    response: Response, accept_encoding: str | None, scope: Scope, receive: Receive, send: Send
) -> None:
    """A kept answer as the compression sends it."""
    if accepted_coding(accept_encoding) is not None:
        await CompressionMiddleware(response)(scope, receive, send)
        return
    # what the compression sends of a whole answer it leaves as it is (Starlette's
    # IdentityResponder), without its cost: a large one says it could have been encoded
    if len(response.body) >= MINIMUM_BYTES:  # (the head is ours: server/responses.py)
        response.raw_headers[:] = [
            (name, value + b", Accept-Encoding" if name == b"vary" else value)
            for name, value in response.raw_headers
        ]
    await response(scope, receive, send)


_WANTED = frozenset({b"content-length", b"content-type"})
# every line, joined (RFC 9110 5.3)
_LISTS = frozenset({b"accept", b"accept-encoding", b"content-encoding"})


def _first_values(scope: Scope) -> dict[bytes, str]:
    """The headers a hit depends on, by (lowercase) name: the first of each as Starlette's
    `Headers` reads it, and a list header's lines joined by commas as `listed` joins them
    (the others are not decoded: a hit costs a few microseconds)."""
    found: dict[bytes, str] = {}
    lines: dict[bytes, list[str]] = {}
    for name, value in scope["headers"]:
        if name in _LISTS:
            lines.setdefault(name, []).append(value.decode("latin-1"))
        elif name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    for name, values in lines.items():  # (joined once: many lines cost linear time)
        found[name] = ", ".join(values)
    return found


async def _read(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages of the request's body as they came, and the body (None: the client left
    before sending it all)."""
    received = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return received, None
        if not message.get("more_body", False):
            body = b"".join(m.get("body", b"") for m in received)
            return received, body


def _replaying(received: list[Message], receive: Receive) -> Receive:
    """`receive` that gives what was read first, then what comes next."""
    pending = list(received)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
