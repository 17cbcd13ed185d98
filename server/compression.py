"""Responses compressed with br or gzip, whichever the client prefers, above a size.

Starlette's responders do the streaming and the headers (`Content-Encoding`, `Vary`,
`Content-Length`); brotli gets a responder of the same shape. A strong `ETag` names one
representation, so a compressed answer's tag gets the coding as a suffix (`"v1796…-ab12-br"`,
RFC 9110 8.8.3); the middleware takes the suffix off again when a client revalidates.
"""

from __future__ import annotations

import brotli  # type: ignore[import-untyped]
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.lru import PerHeaderValue
from server.negotiation import listed, weighted

# Answers past this size are compressed for clients that accept it (11.6 KB: 2.9 KB gzipped).
MINIMUM_BYTES = 1024
GZIP_LEVEL = 5  # most of level 9's saving for a fraction of its CPU
BROTLI_QUALITY = 5  # smaller than gzip at about its speed; 11 is for files compressed once
CODINGS = ("br", "gzip")  # preferred first when a client weighs them alike


class BrotliResponder(IdentityResponder):
    content_encoding = "br"

    def __init__(self, app: ASGIApp, minimum_size: int, quality: int) -> None:
        super().__init__(app, minimum_size)
        self.compressor = brotli.Compressor(quality=quality)

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        out: bytes = self.compressor.process(body)
        tail: bytes = self.compressor.flush() if more_body else self.compressor.finish()
        return out + tail


def _accepted_coding(header: str | None) -> str | None:
    """The coding of CODINGS the `Accept-Encoding` header weighs highest (q > 0), or None."""
    if not header:
        return None
    weights = dict(weighted(header))  # (named twice: the last says)
    wildcard = weights.get("*", 0.0)
    ranked = [(weights.get(coding, wildcard), -i, coding) for i, coding in enumerate(CODINGS)]
    weight, _, coding = max(ranked)
    return coding if weight > 0 else None


accepted_coding = PerHeaderValue(_accepted_coding)


def matching_etag(etag: str, if_none_match: str | None, *, star: bool = True) -> str | None:
    """The tag of `If-None-Match` that names `etag` (compared weakly, as RFC 9110 13.1.2
    asks), or None; `*` names any unless `star` is False. (The middleware has taken a
    compressed answer's suffix off already.)"""
    opaque = etag.removeprefix("W/")
    for named in (if_none_match or "").split(","):
        tag = named.strip()
        if (tag == "*" and star) or tag.removeprefix("W/") == opaque:
            return tag
    return None


def _without_coding(tag: str) -> tuple[str, str | None]:
    """A listed tag without the suffix this middleware gave it, and that coding (its weak
    form too: a proxy may weaken a tag, and `If-None-Match` compares weakly)."""
    for coding in CODINGS:
        suffix = f'-{coding}"'
        if tag.endswith(suffix):
            return tag[: -len(suffix)] + '"', coding
    return tag, None


class CompressionMiddleware:
    """Compresses what the app answers; tags the compressed representation apart.

    Whatever route answers (the GraphQL endpoint, static files), it sees `If-None-Match` with
    the suffix of the coding this request gets taken off, so it compares its own tags; a 304
    to a client that listed that compressed tag repeats it. A tag of another coding is left
    as it is, matching nothing (a cache serves the representation a 304 names, RFC 9111
    section 4.3.4). The uncompressed one's tag still matches for a client that takes a
    coding: whether an answer is compressed depends on its size, known once it is built, and
    the uncompressed representation is one any client takes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        coding = accepted_coding(listed(request_headers, "accept-encoding"))
        held: set[str] = set()  # the app's tags the client listed with this coding's suffix
        if_none_match = listed(request_headers, "if-none-match") or ""
        if if_none_match:
            plain = []
            for named in if_none_match.split(","):
                tag, suffix = _without_coding(named.strip())
                if suffix is not None and suffix != coding:  # not what this request would get
                    tag, suffix = named.strip(), None  # (so it names none of the app's tags)
                plain.append(tag)
                if suffix is not None:
                    held.add(tag.removeprefix("W/"))
            raw = [(k, v) for k, v in scope["headers"] if k.lower() != b"if-none-match"]
            raw.append((b"if-none-match", ", ".join(plain).encode("latin-1")))
            scope = {**scope, "headers": raw}
        responder: ASGIApp
        if coding == "br":
            responder = BrotliResponder(self.app, MINIMUM_BYTES, BROTLI_QUALITY)
        elif coding == "gzip":
            responder = GZipResponder(self.app, MINIMUM_BYTES, compresslevel=GZIP_LEVEL)
        else:
            responder = IdentityResponder(self.app, MINIMUM_BYTES)

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message["headers"])
                etag = headers.get("etag") or ""
                strong = etag.startswith('"') and etag.endswith('"')
                # a 304 to a tag listed with this coding's suffix names that representation
                revalidated = message["status"] == 304 and etag in held
                encoded = coding is not None and headers.get("content-encoding") == coding
                if revalidated or (strong and encoded):
                    headers["etag"] = etag[:-1] + f'-{coding}"'
                if etag and "accept-encoding" not in headers.get("vary", "").lower():
                    # a tagged answer's coding is chosen here, whatever its size, and a 304
                    # says the `Vary` its 200 says (RFC 9110 15.4.5), neither knowing the size
                    headers.add_vary_header("Accept-Encoding")
            await send(message)

        await responder(scope, receive, tagged)
