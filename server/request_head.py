"""Whether a request's head is one this server answers: its framing and Host unambiguous
(RFC 9112), checked once httptools has parsed it (server/connections.py)."""

from __future__ import annotations

import re
from functools import lru_cache

# A Host's value (RFC 9112 section 3.2, RFC 3986 section 3.2.2): an IP literal or a
# registered name (letters, digits, `-._~`, sub-delims, percent-escapes), then an optional port.
HOST = re.compile(  # (an IPv6 literal may carry a zone, `%25eth0`: RFC 6874)
    rb"(?:\[[0-9A-Za-z:.\-_~!$&'()*+,;=%]*\]|[0-9A-Za-z\-._~!$&'()*+,;=%]*)(?::[0-9]*)?"
)
MAX_HOST_BYTES = 261  # a DNS name (253 at most) and a port, `:65535`: the Hosts remembered


def head_fault(
    headers: list[tuple[bytes, bytes]], http_version: str, switching: bool = False
) -> str | None:
    """Why the request's head is refused, or None: its body's length is ambiguous, or its Host
    or media type is. httptools already refuses Content-Length beside Transfer-Encoding, two
    Content-Lengths and bad chunks; it takes `gzip, chunked` (a coding we would not undo) and
    Transfer-Encoding on HTTP/1.0 (RFC 9112 section 6.1: faulty framing), and any HTTP/1.x or
    2.0 request line. RFC 9112 section 3.2 has a server answer 400 to an HTTP/1.1 request
    without a Host, and to any with two (a proxy in front may have routed by one, the app read
    the other); so with two Content-Types (one checked, the other read as the body's).

    `switching`: the request asks to switch protocols (`Connection: Upgrade` with `Upgrade`,
    or CONNECT). httptools then reads no body, whatever the head says: the bytes after the
    head would be parsed as the next request. So such a request may not declare a body (one
    that does not is answered as HTTP/1.1, and its connection closed: EdgeProtocol)."""
    if http_version not in ("1.0", "1.1"):
        return "this server speaks HTTP/1.1"
    codings: list[bytes] = []
    lengths: list[bytes] = []
    hosts = types = 0
    host = b""
    for name, value in headers:  # one pass: every request's head crosses it
        if name == b"host":
            hosts += 1
            host = value
        elif name == b"content-type":
            types += 1
        elif name == b"content-length":
            lengths.append(value)
        elif name == b"transfer-encoding":
            codings.append(value)
    if switching and (codings or any(int(value) != 0 for value in lengths)):  # (digits:
        # httptools refused any other Content-Length)
        return (
            "a request asking to switch protocols (Upgrade) may not carry a body here, "
            "where none is switched to: send it without the Upgrade header"
        )
    if codings and lengths:
        return "a request may not carry both Content-Length and Transfer-Encoding"
    if len(lengths) > 1:
        return "a request may carry one Content-Length"
    if codings:
        if http_version != "1.1":
            return "Transfer-Encoding needs HTTP/1.1"
        if len(codings) > 1 or codings[0].strip().lower() != b"chunked":
            return "the only Transfer-Encoding accepted is chunked"
    if hosts > 1:
        return "a request may carry one Host header"
    if hosts == 0 and http_version == "1.1":
        return "an HTTP/1.1 request must carry a Host header"
    if hosts and not _is_host(host.rstrip(b" \t")):  # (httptools keeps trailing space)
        return "the Host header is not a host name or address, with an optional port"
    if types > 1:
        return "a request may carry one Content-Type"
    return None


def _is_host(value: bytes) -> bool:
    if len(value) > MAX_HOST_BYTES:  # checked, not remembered
        return HOST.fullmatch(value) is not None
    return _is_short_host(value)


@lru_cache(maxsize=1024)
def _is_short_host(value: bytes) -> bool:
    """(Kept: a connection's requests, and most clients', name the same few hosts; at most
    1,024 of `MAX_HOST_BYTES`.)"""
    return HOST.fullmatch(value) is not None
