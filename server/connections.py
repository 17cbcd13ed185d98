"""Connections no client can hold hostage: uvicorn's httptools protocol with a deadline per
connection (the request head, the body, idle keep-alive), a bound on open connections, and
framing conflicts refused (RFC 9112 section 6.1).

uvicorn bounds only idle keep-alive, and only until any byte arrives; a connection that sends
nothing, or its head or body a byte at a time, would stay open for ever. Each connection here
has one deadline, set as it moves from phase to phase and never extended by incoming bytes:

- open, or answered and idle (keep-alive): closed at the deadline with nothing sent;
- a request begun but its head unfinished, or its body unfinished: `408` and closed;
- answered before its body was read (a `413`): our side is shut (the client reads the answer
  and an end of stream), the rest of its body is read and dropped until it ends or the
  connection is closed lingering, below.

A connection closed while its client may still be sending (a request refused or cut off, or
one dropped behind answers still going out) closes lingering, as nginx's `lingering_close`:
our side is shut, what still comes is read and dropped, and it is closed at the client's end
of stream or once the client has taken all that was written. A plain close with bytes
arriving resets the connection, and the kernel drops what the client had yet to take.

Sending has a deadline of its own, as nginx's `send_timeout`: while the transport holds bytes
the kernel would not take (an answer past the socket buffers, uvicorn waiting for it to drain,
or a closed connection's last bytes), a client that takes none of them for `send_timeout` has
its connection reset. A client reading slowly but steadily is served.

What the edge answers itself (a 400, 405, 408, 414, 431 or 503 the app never sees) is, as the app's
answers are, under a request id (`X-Request-ID`) and counted in the metrics by its code, with
no log line (any client could write them by the thousand). A client that leaves, or ends its
side, before the answer's head is written is told to the app's record (`CLIENT_LEFT`): uvicorn
drops an answer to a client gone without a word, and one that only ended its side looks the
same until the answer is written.

The limits travel in the uvicorn `Config` (`EdgeConfig`), which uvicorn hands every
connection, in every worker process.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import math
import sys
import termios
from collections.abc import Callable
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from core.config import Settings
from server.connection_limits import HEAD_FIELDS_BYTES, ConnectionLimits, connection_limits
from server.errors import RequestError
from server.metrics import count_refusals
from server.outcome import CLIENT_LEFT, outcome_in
from server.reading import EDGE_REFUSAL
from server.request_head import head_fault
from server.request_id import header_name, request_id_for
from server.responses import REQUEST_ID_NAME, encode_json
from server.shutdown import STOP_SIGNAL

logger = logging.getLogger("impact_graph.connections")

REFUSAL_LOG_SECONDS = 10.0  # at most one line about refused connections this often
TAKEN_LOOK_SECONDS = 0.1  # shutting down, how often a lingering close asks if all was taken
# The longest request target httptools parses (`parse_url`: its offsets are 16 bits).
MAX_TARGET_BYTES = 65_535
# A request head's fields at most (Apache's LimitRequestFields): a browser sends ~20, a proxy
# adds a few. Every field costs uvicorn's Python a call, and a head of 100 KiB holds ~25,000
# of them (tens of milliseconds of the event loop for one request).
MAX_HEAD_FIELDS = 100
# What the parser is handed at once: a read (up to 256 KiB) may hold thousands of pipelined
# requests, each a request cycle in memory until answered; they are parsed a slice at a time,
# and no further while `MAX_PIPELINED` wait (the rest is held unread until some are answered,
# as nginx reads the next request from its buffer only once it has answered the one before).
# The bound is checked between slices, and a slice of 1 KiB holds at most 57 requests (the
# shortest is 18 bytes); a body of a declared length is handed on whole (its bytes are one
# request's, and uvicorn copies the body read so far on each piece).
PARSE_SLICE = 1024
MAX_PIPELINED = 32


class EdgeConfig(Config):
    """uvicorn's Config carrying `ConnectionLimits` to `EdgeProtocol` (picklable, so worker
    processes get it too); `http` is EdgeProtocol unless given. `trusted_id`: the header a
    trusted proxy sends request ids in (lowercase), as the app trusts it."""

    def __init__(
        self,
        app: Any,
        *,
        limits: ConnectionLimits,
        trusted_id: bytes | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("http", EdgeProtocol)
        options["ws"] = "none"  # no route speaks WebSocket: an Upgrade is answered as HTTP
        # uvicorn's own idle timer (whole seconds) is stopped as it is armed (on every answer:
        # EdgeProtocol.on_response_complete); ours closes, with the send deadline watching
        options["timeout_keep_alive"] = math.ceil(limits.keep_alive_timeout) + 1
        super().__init__(app, **options)
        self.limits = limits
        self.trusted_id = trusted_id


def edge_config(app: Any, settings: Settings, **options: Any) -> EdgeConfig:
    """uvicorn's Config as `impact-graph serve` runs the app (the benchmark counting a
    request's instructions builds the same); `options`: where and how many."""
    return EdgeConfig(
        app,
        # the client is the connection's peer, or what a trusted proxy's X-Forwarded-For says
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        limits=connection_limits(settings),
        trusted_id=header_name(settings.request_id_header),
        loop="uvloop",  # named, not "auto": a missing extra fails loudly instead of running slow
        http=EdgeProtocol,  # uvicorn's httptools protocol with deadlines and a connection bound
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace,
        **options,
    )


def _plain_response(
    status: int, code: str, message: str, state: ServerState, request_id: str, headers: bytes = b""
) -> bytes:
    """A whole JSON error response that closes the connection, written below the app."""
    body = encode_json({"errors": [{"message": message, "extensions": {"code": code}}]})
    head = [STATUS_LINE[status]]
    for name, value in state.default_headers:  # Date and Server, as uvicorn writes them
        head.extend([name, b": ", value, b"\r\n"])
    head.extend([REQUEST_ID_NAME, b": ", request_id.encode("ascii"), b"\r\n"])
    head.append(headers + b"content-type: application/json\r\n")
    head.append(b"content-length: %d\r\n" % len(body))
    head.append(b"connection: close\r\n\r\n")
    return b"".join(head) + body


class RefusalLog:
    """One warning per REFUSAL_LOG_SECONDS however many connections are refused, the last
    of a flood's included (per process: each worker imports this module afresh)."""

    def __init__(self) -> None:
        self.last = float("-inf")
        self.refused = 0
        self.pending: asyncio.TimerHandle | None = None  # the line of those refused since

    def note(self, loop: asyncio.AbstractEventLoop, bound: int) -> None:
        self.refused += 1
        now = loop.time()
        if now - self.last >= REFUSAL_LOG_SECONDS:
            self.say(now, bound)
        elif self.pending is None:  # said at the window's end, should the flood stop now
            self.pending = loop.call_at(self.last + REFUSAL_LOG_SECONDS, self.say_pending, bound)

    def say_pending(self, bound: int) -> None:
        self.pending = None
        if self.refused:
            self.say(asyncio.get_running_loop().time(), bound)

    def say(self, now: float, bound: int) -> None:
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        logger.warning(
            "%d connection(s) refused: %d are open, the bound (IMPACT_GRAPH_MAX_CONNECTIONS)",
            self.refused,
            bound,
        )
        self.last = now
        self.refused = 0


_refusals = RefusalLog()


class HeldFlow(FlowControl):
    """uvicorn's flow control, but reading stays paused while `held`: pipelined requests
    were read past `MAX_PIPELINED` and wait unparsed (uvicorn resumes reading after every
    answer, and as the app reads a body)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__(transport)
        self.held = False

    def resume_reading(self) -> None:
        if self.read_paused and not self.held:  # (called after every answer: mostly not)
            FlowControl.resume_reading(self)


class EdgeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the limits of `ConnectionLimits`."""

    flow: HeldFlow  # (set as the connection is made)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not isinstance(config, EdgeConfig):
            raise TypeError("EdgeProtocol needs an EdgeConfig (server/connections.py)")
        self.limits = config.limits
        self.trusted_id = config.trusted_id
        self.refused = False
        self.fault: str | None = None  # why the request's framing was refused
        self.target_too_long = False  # longer than httptools can parse: a 414, not a 400
        self.too_many_fields = False  # past MAX_HEAD_FIELDS: a 431, not a 400
        self.unparsed = b""  # read, not parsed yet: pipelined behind MAX_PIPELINED others
        self.request_open = False  # a request's head or body is still arriving
        self.lingering = False  # our side shut, the client's bytes read and dropped
        self.lingered_unsent = 0  # bytes the client had not taken at the lingering's last look
        self.ended = False  # the client sent its end of stream
        self.keep_alive = True  # what the request asked for, kept while its body arrives
        self.idle = False  # answered, waiting for the next request (keep-alive)
        self.deadline: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.head_bytes: int | None = None  # bytes of an unfinished request head so far
        # The body's bytes of the request being read, and the bytes of its chunked framing
        # since the last of them arrived (a chunk's size line, the trailer fields); `begun`
        # tells one request from the next.
        self.body_bytes = 0
        self.framing_run = 0
        self.begun = 0
        self.half_closed = False  # the client sent its end: close once it is answered
        # nothing more is read as a request: it asked to switch protocols (answered as
        # HTTP/1.1, then closed), or one was refused behind answers still to go out
        self.reading_stopped = False
        self.stalled: asyncio.TimerHandle | None = None  # the send deadline, while one runs
        self.unsent = 0  # bytes the client had not taken at the send deadline's last look
        self.socket_fd: int | None = None  # to ask the kernel how much it still holds
        self.shutting_down = False  # the server is stopping: closed as soon as nothing is lost

    # The deadline: one timer per connection, moved only when it must fire earlier.
    def set_deadline(self, seconds: float | None) -> None:
        if seconds is None:
            self.deadline = None
            return
        self.deadline = self.loop.time() + seconds
        if self.timer is not None and self.timer_at <= self.deadline:
            return  # it fires first and looks again
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = self.deadline
        self.timer = self.loop.call_at(self.deadline, self.deadline_reached)

    def deadline_reached(self) -> None:
        self.timer = None
        if self.transport.is_closing():  # closed meanwhile (by uvicorn, or at the client's end)
            self.watch_unsent()
            return
        if self.deadline is None:
            return
        if self.loop.time() < self.deadline:
            self.timer_at = self.deadline
            self.timer = self.loop.call_at(self.deadline, self.deadline_reached)
            return
        if self.lingering:
            self.end_lingering()
            return
        if self.pipeline:  # an earlier pipelined answer is going out: this request is not
            return  # read meanwhile, and its deadline starts again once it is
        # (the answer going out while the next head arrives is an earlier request's)
        if self.request_open and (self.head_bytes is not None or not self.answering()):
            self.refuse(  # which closes, at once or once earlier answers are out
                408,
                "REQUEST_TIMEOUT",
                "the request did not arrive in time; send its head and body promptly",
            )
            return
        self.close()

    def answering(self) -> bool:
        return self.cycle is not None and self.cycle.response_started

    # Closing, and the send deadline: runs while the transport holds bytes the client has not
    # taken.
    def close(self) -> None:
        """Close once what was written has been sent, within the send deadline; lingering
        first where the client may still be sending."""
        if not self.lingering and self.client_may_send() and self.transport.can_write_eof():
            self.linger()
            return
        self.transport.close()
        self.watch_unsent()

    def client_may_send(self) -> bool:
        """Whether bytes may still come: a request is unfinished, or what comes is no longer
        read (not after the client's end of stream, nor on a connection refused past the
        bound). After a `Connection: close` request httptools reads nothing more."""
        return not (self.ended or self.refused) and (self.request_open or self.reading_stopped)

    def linger(self) -> None:
        """Shut our side (the client reads what was written, then an end of stream) and read
        and drop what still comes, until its end of stream or the deadline (the body's, if
        one runs): `end_lingering`."""
        if self.transport.is_closing():
            return
        self.lingering = True
        if self.head_bytes is not None:  # a head arriving is never served now
            self.reading_stopped = True
        self.drop_held()  # (served no more either)
        if self.flow is not None:  # (uvicorn pauses while a body waits for the app)
            self.flow.resume_reading()
        self.lingered_unsent = self.untaken()
        self.transport.write_eof()  # once what the transport holds is sent
        # the deadline running (none: the body's), looked at no sooner than a send deadline on
        # (the client needs that long to take any of what was written)
        left = -1.0 if self.deadline is None else self.deadline - self.loop.time()
        if left < self.limits.send_timeout:
            self.set_deadline(self.limits.body_timeout if left <= 0 else self.limits.send_timeout)
        if self.shutting_down:
            self.loop.call_later(TAKEN_LOOK_SECONDS, self.close_once_taken)

    def end_lingering(self) -> None:
        """At the deadline: closed, unless the client is still taking the last bytes written
        (a close now would reset them away); it is looked at again a send deadline on."""
        left = self.untaken()
        if 0 < left < self.lingered_unsent:
            self.lingered_unsent = left
            self.set_deadline(self.limits.send_timeout)
            return
        self.close()

    def watch_unsent(self) -> None:
        if self.transport.get_write_buffer_size() > 0:
            self.watch_sending()

    def eof_received(self) -> bool:  # type: ignore[override]
        """The client will send nothing more (it may still read: a half-close). A request it
        sent whole is answered, then the connection closed; otherwise it is closed now, as
        our own closes are (with the send deadline: uvloop's close would wait for it to take
        what is unsent, however long)."""
        self.ended = True
        if self.lingering:
            self.close()
            return True
        if self.reading_stopped and self.half_closed:
            return True  # closing once the answers ahead are out already
        unanswered = self.cycle is not None and not self.cycle.response_complete
        if unanswered and not self.request_open:
            self.half_closed = True  # closed once answered (on_response_complete)
            self.client_left()  # (or only half-closed: the answer still goes out)
            return True
        if self.request_open and self.answers_pending():  # it will never arrive whole
            self.drop_behind_pending()
            return True
        self.close()
        return True

    def watch_sending(self) -> None:
        if self.stalled is None:
            self.unsent = self.untaken()
            self.stalled = self.loop.call_later(self.limits.send_timeout, self.check_sending)

    def untaken(self) -> int:
        """Bytes written that the client has not taken: the transport's and, where the system
        says (Linux: SIOCOUTQ), the kernel's send queue, which the client drains as it reads
        (the transport's buffer drains only in steps of up to the kernel's, megabytes)."""
        queued = 0
        if self.socket_fd is not None:
            try:
                found = fcntl.ioctl(self.socket_fd, termios.TIOCOUTQ, b"\0\0\0\0")
                queued = int.from_bytes(found, sys.byteorder, signed=True)
            except OSError:
                self.socket_fd = None
        return self.transport.get_write_buffer_size() + queued

    def check_sending(self) -> None:
        """Dropped if the client took nothing since the last look; else watched again."""
        self.stalled = None
        paused = self.flow is not None and self.flow.write_paused  # None: refused at once
        if self.transport.get_write_buffer_size() == 0 and not paused:
            return  # all handed to the kernel; a full buffer later starts it again
        if self.untaken() < self.unsent:
            self.watch_sending()
            return
        logger.debug("dropped a connection whose client read nothing for the send deadline")
        self.transport.abort()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.watch_sending()

    def resume_writing(self) -> None:
        """The client took enough for the buffer to drain: the deadline starts again from
        the next time it fills (or, closing, from now)."""
        super().resume_writing()
        if self.stalled is not None:
            self.stalled.cancel()
            self.stalled = None
        if self.transport.is_closing():
            self.watch_unsent()

    # Connections
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.refused = True
            self.transport = transport
            self.refuse(
                503,
                "TOO_MANY_CONNECTIONS",
                "the server holds as many connections as it may; try again shortly",
                b"retry-after: 1\r\n",
            )
            _refusals.note(self.loop, self.limits.max_connections)
            return
        super().connection_made(transport)
        self.flow = HeldFlow(transport)  # (before any request's cycle takes it)
        sock = transport.get_extra_info("socket")
        self.socket_fd = None if sock is None else sock.fileno()
        self.set_deadline(self.limits.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.stalled is not None:
            self.stalled.cancel()
            self.stalled = None
        if self.refused:
            return
        self.client_left()
        super().connection_lost(exc)

    def client_left(self) -> None:
        """The client left (or ended its side) with the request being answered and its
        answer's head not written: its record says so (`CLIENT_LEFT`: 499), unless the edge
        refused it (what the edge wrote is its record). Pipelined requests are recorded as
        before: only the last one read is known here, not the one being answered."""
        cycle = self.cycle
        if cycle is None or cycle.response_started or self.pipeline:
            return
        state = cycle.scope["state"]
        if EDGE_REFUSAL not in state:
            state[CLIENT_LEFT] = True

    def data_received(self, data: bytes) -> None:
        """uvicorn's, answering an unknown method 405 rather than 400, logging refused
        requests at debug level (a line each would let any client fill the log), and
        parsing a slice at a time (`PARSE_SLICE`), holding what follows `MAX_PIPELINED`
        requests read ahead of their answers."""
        if self.unparsed:  # (reading is paused meanwhile; what was on its way still comes)
            data, self.unparsed = self.unparsed + data, b""
        if len(data) <= PARSE_SLICE and not self.pipeline:
            self.feed(data)
            return
        whole, start = memoryview(data), 0
        while start < len(data):
            if len(self.pipeline) >= MAX_PIPELINED:
                self.unparsed = bytes(whole[start:]) if start else data
                self.flow.held = True
                self.flow.pause_reading()
                return
            size = max(PARSE_SLICE, self.body_left())
            self.feed(whole[start : start + size])
            if self.stopped():
                return
            start += size

    def body_left(self) -> int:
        """The bytes still to come of a body being read whose length its head declared (0
        where none is, or it is chunked)."""
        cycle = self.cycle
        if not self.request_open or self.head_bytes is not None or cycle is None:
            return 0
        for name, value in cycle.scope["headers"]:
            if name == b"content-length":  # (one, of digits: head_fault)
                return int(value) - self.body_bytes
        return 0

    def stopped(self) -> bool:
        """Whether nothing more that arrives is read as a request."""
        return self.reading_stopped or self.transport.is_closing()

    def drop_held(self) -> None:
        """Nothing more is read as a request: what was held unparsed goes, and reading may
        resume (to read and drop what still comes, lingering)."""
        self.unparsed = b""
        if self.flow is not None:  # (None: refused past the bound)
            self.flow.held = False

    def parse_held(self) -> None:
        """An answer went out: what was held unparsed is parsed, as far as the bound lets."""
        if len(self.pipeline) >= MAX_PIPELINED:
            return  # (as many still wait)
        data, self.unparsed = self.unparsed, b""
        self.flow.held = False
        if data and self.parser is not None and not self.transport.is_closing():
            self.data_received(data)
        if not self.unparsed and not self.pipeline:  # as uvicorn would have it, unheld
            self.flow.resume_reading()

    def feed(self, data: bytes | memoryview) -> None:
        """Parse a piece (`stopped` says whether what follows it is still read)."""
        if self.reading_stopped or (self.lingering and not self.request_open):
            return  # answered (or being answered) and closing: nothing more is a request
        in_head = self.head_bytes is not None  # a head begun in an earlier piece
        in_body, begun, body_bytes = self.request_open and not in_head, self.begun, self.body_bytes
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserInvalidMethodError:
            self.refuse(405, "METHOD_NOT_ALLOWED", "use GET or POST", b"allow: GET, POST\r\n")
            return
        except httptools.HttpParserError as error:
            if self.reading_stopped or self.transport.is_closing():
                return  # stopped by `on_message_begin`: nothing more is read as a request
            if self.target_too_long:
                self.refuse(
                    414,
                    "URI_TOO_LONG",
                    f"the request target is longer than {MAX_TARGET_BYTES:,} bytes; send the "
                    "query in a POST body",
                )
            elif self.too_many_fields:
                self.refuse_fields()
            else:
                logger.debug("refused a request that is not valid HTTP/1.1: %s", error)
                self.send_400_response(self.fault or "the request is not valid HTTP/1.1")
            return
        except httptools.HttpParserUpgrade:
            return  # its head was all (on_headers_complete): answered, then closed
        if self.head_bytes is not None:
            # All of this piece was head if the same head is still unfinished (the piece a
            # head begins in is not counted: what it holds is bounded by the slice).
            if in_head and self.begun == begun:
                self.head_bytes += len(data)
                if self.head_bytes > self.limits.max_head_bytes:
                    self.refuse(
                        431,
                        "REQUEST_HEADERS_TOO_LARGE",
                        f"the request head is larger than {self.limits.max_head_bytes:,} bytes",
                    )
                    return
            if len(self.headers) > MAX_HEAD_FIELDS:
                self.refuse_fields()
                return
        elif in_body and self.begun == begun and self.request_open:  # all of it this body's
            self.count_framing(len(data), self.body_bytes - body_bytes)

    def refuse_fields(self) -> None:
        self.refuse(
            431,
            "REQUEST_HEADERS_TOO_LARGE",
            f"the request head has more than {MAX_HEAD_FIELDS} header fields",
        )

    def count_framing(self, received: int, body: int) -> None:
        """A chunked body's framing between two pieces of its data is bounded as a head's
        fields are: a client streaming a chunk extension or a trailer field (which httptools
        builds up with a copy per piece it arrives in) would otherwise cost the process CPU
        until the body's deadline. Framing between data is a size line, however small the
        chunks: a piece that brought data starts the count again (what it held after its
        data, at most one read, is not counted)."""
        if body:
            self.framing_run = 0
            return
        self.framing_run += received
        if self.framing_run > HEAD_FIELDS_BYTES:
            self.send_400_response(
                "the body's chunked framing between two pieces of its data (a chunk's size "
                f"line with its extensions, the trailer fields) is over {HEAD_FIELDS_BYTES:,} bytes"
            )

    def answers_pending(self) -> bool:
        """Whether an earlier request's answer has yet to go out: the one before a head still
        arriving, or the one ahead of the request whose body is (queued behind it)."""
        if self.head_bytes is not None:
            return self.cycle is not None and not self.cycle.response_complete
        return bool(self.pipeline)

    def drop_behind_pending(self) -> None:
        """The request being read goes unanswered (queued, if its head was read: uvicorn
        queues on the left); nothing more is read, and the connection closes once the answers
        ahead of it are out, each bounded by the execution and send deadlines."""
        if self.head_bytes is None and self.pipeline:
            self.pipeline.popleft()
        self.reading_stopped = self.half_closed = True
        self.set_deadline(None)

    def send_400_response(self, msg: str) -> None:
        """A request httptools or `head_fault` refused: a JSON 400, then closed."""
        self.refuse(400, "BAD_REQUEST", msg)

    def refuse(self, status: int, code: str, message: str, headers: bytes = b"") -> None:
        """Answer `status` under a request id and close; where answers to earlier requests
        are still to go out, nothing is written (it would arrive as theirs): the refused
        request is dropped, and the connection closes once they are sent."""
        if self.lingering:  # answered, our side shut: nothing more can be written
            self.close()
            return
        if self.answers_pending():
            self.drop_behind_pending()
            return
        if self.request_open and self.head_bytes is None and self.cycle is not None:
            request_id = self.refuse_body(RequestError(status, code, message))
        else:  # the app never sees it: counted here
            count_refusals(code)
            request_id = request_id_for(self.headers or (), self.trusted_id)[0]
        response = _plain_response(status, code, message, self.server_state, request_id, headers)
        self.transport.write(response)
        self.reading_stopped = True
        self.close()

    def refuse_body(self, refusal: RequestError) -> str:
        """A request refused in its body: the app, reading it, records what the client got
        (and counts it), and reads it as uvicorn says a client left (the connection lingers
        meanwhile). The id of its record, begun here if the app has not begun it yet."""
        cycle = self.cycle
        state = cycle.scope["state"]
        state[EDGE_REFUSAL] = refusal
        cycle.disconnected = True
        cycle.waiting_for_100_continue = False  # (uvicorn would write `100 Continue`)
        cycle.message_event.set()
        return outcome_in(state, list(cycle.scope["headers"]), self.trusted_id).request_id

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown of this connection, closing our way: a request being
        answered (or its body still arriving) is the last; otherwise (or lingering already,
        as after a refused body) closed once the client has taken all that was written (at
        once, if it has), lingering until then where it may still be sending. uvicorn's
        plain close would reset a connection the client is still sending on, and what it
        had yet to take would be lost; waiting for a lingering close's deadline would hold
        the shutdown for nothing. uvicorn waits for them within IMPACT_GRAPH_SHUTDOWN_GRACE."""
        self.shutting_down = True
        self.keep_alive = False
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not self.lingering:
            cycle.keep_alive = False
        else:
            self.close_once_taken()

    def close_once_taken(self) -> None:
        """Shutting down: closed now if the client has taken all that was written (a plain
        close then loses nothing), else looked at again while the connection lingers."""
        if self.transport.is_closing():
            return  # closed already, the send deadline watching what is left
        if self.untaken() == 0:
            self.transport.close()
        elif self.lingering:
            self.loop.call_later(TAKEN_LOOK_SECONDS, self.close_once_taken)
        else:
            self.close()  # lingering (and looked at again), or closing as the client takes it

    # The parser's callbacks
    def on_message_begin(self) -> None:
        if self.lingering:  # a request behind one answered and closed: it is not served
            self.close()
        if self.reading_stopped or self.transport.is_closing():  # more in the same piece:
            # the parser stops (data_received)
            raise httptools.HttpParserError("nothing more is read on this connection")
        super().on_message_begin()
        self.head_bytes = 0
        self.body_bytes = self.framing_run = 0
        self.begun += 1
        self.request_open = True
        if self.idle or self.deadline is None:  # a new connection's head counts from its opening
            self.idle = False
            self.set_deadline(self.limits.head_timeout)

    def on_url(self, url: bytes) -> None:
        """uvicorn's, with the target's bound checked as it arrives: a long one is a 414
        however its bytes come (at the head's end, a slow one would have met the head's
        431 first), and is not built up past it."""
        super().on_url(url)
        if len(self.url) > MAX_TARGET_BYTES:  # (uvicorn's `parse_url` would refuse it)
            self.target_too_long = True
            raise httptools.HttpParserError("the request target is too long")

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        HttpToolsProtocol.on_body(self, body)  # (not super(): every body crosses it)

    def on_headers_complete(self) -> None:
        switching = self.parser.should_upgrade()
        version = self.parser.get_http_version()
        if len(self.headers) > MAX_HEAD_FIELDS:  # (a head in one piece: not counted as it came)
            self.too_many_fields = True
            raise httptools.HttpParserError("too many header fields")
        self.fault = head_fault(self.headers, version, switching)
        if self.fault is not None:  # httptools stops here; uvicorn answers send_400_response
            raise httptools.HttpParserError(self.fault)
        super().on_headers_complete()  # may refuse the target: the head is still the one read
        raw_path = self.scope.get("raw_path", b"")
        if b"%" in raw_path:  # a path is routed as sent, escapes and all: `/%6Detrics` is
            # no route, so a proxy that keeps `/metrics` off the public edge by its path
            # (matching the bytes, as most do) is not dodged by another spelling of it
            self.scope["path"] = raw_path.decode("ascii")
        # The fields of a trailer section (after a chunked body), which uvicorn would add to
        # the request's, go to a list of their own, dropped: RFC 9110 section 6.5.1 forbids
        # merging them into the head's, where the app (and anything that checked the head)
        # would take one for a field of the head. (The body's framing bound bounds them.)
        self.headers = []
        self.head_bytes = None
        self.set_deadline(self.limits.body_timeout)
        # An answer that starts before the body has arrived (a 413) says `Connection: close`,
        # so the client opens a new connection for its next request; uvicorn's close once it
        # is sent becomes a lingering one (the client reads the answer, not a reset).
        cycle = self.cycle
        # From a stop signal on, each request is the last of its connection (`STOP_SIGNAL`).
        self.keep_alive = cycle.keep_alive and not switching and not STOP_SIGNAL.seen
        cycle.keep_alive = False
        if version == "1.0":  # RFC 9110 10.1.1: an HTTP/1.0 client's `Expect` is ignored
            cycle.waiting_for_100_continue = False  # (and 15.2: it is sent no 1xx)
        # No protocol is switched to (RFC 9110 7.8: an Upgrade may be ignored), and what
        # follows the head is not HTTP/1.1 to httptools: nothing more is read from the client.
        if switching:
            self.reading_stopped = True
        cycle.transport = _ClosedOurWay(self.transport, self.close)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:  # answered once read, as asked
            cycle.keep_alive = self.keep_alive
        self.request_open = False
        self.set_deadline(None)  # the app's turn: IMPACT_GRAPH_EXECUTION_TIMEOUT bounds it
        if self.lingering:
            self.close()

    def on_response_complete(self) -> None:
        if self.lingering:  # closed after this answer: nothing queued behind it is answered
            self.pipeline.clear()
            self.drop_held()
        pipelined = bool(self.pipeline)
        super().on_response_complete()  # (the next queued starts)
        if self.unparsed:  # a place in the queue is free: queued behind the rest
            self.parse_held()
        if self.timeout_keep_alive_task is not None:  # uvicorn's idle timer, armed just now:
            self.timeout_keep_alive_task.cancel()  # ours runs (its close would be a plain one)
            self.timeout_keep_alive_task = None
        if self.transport.is_closing() or self.lingering:  # closed: the answer said `close`
            self.watch_unsent()
            return
        if self.half_closed:  # once the requests it sent before its end are all answered
            if not pipelined:
                self.close()
            return
        if not pipelined:
            if self.request_open:  # the next head is arriving: its deadline runs on
                return
            self.idle = True
            self.set_deadline(self.limits.keep_alive_timeout)
        elif self.request_open:  # the next request is read from now (it was not, meanwhile)
            in_head = self.head_bytes is not None
            self.set_deadline(self.limits.head_timeout if in_head else self.limits.body_timeout)


class _ClosedOurWay(asyncio.Transport):
    """The transport as a request's cycle sees it (uvicorn's cycle writes, closes and asks
    whether it is closing): the same, but its close is ours (`EdgeProtocol.close`: lingering
    while the request's body is still arriving, with the send deadline watching), also when
    uvicorn closes after an app failed mid-answer."""

    def __init__(self, transport: asyncio.Transport, close: Callable[[], None]) -> None:
        super().__init__()
        self._transport = transport
        self._close = close

    def write(self, data: bytes | bytearray | memoryview) -> None:
        # Closed, the client gone: uvicorn tells only the last request read that its client
        # left, and an answer to an earlier one (pipelined) may still be written, after its
        # wait for the client to take what was written ended with the connection.
        try:
            self._transport.write(data)
        except RuntimeError:  # (uvloop's "the handler is closed"; asyncio's drops it)
            if not self._transport.is_closing():
                raise

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._close()
