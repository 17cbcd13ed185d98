"""The pages' files (GraphiQL's bundle, the explorer's script and map) as Starlette serves
them, compressed once rather than for every request.

A client accepting br or gzip gets the copy kept in memory, made in a thread the first time
it was asked for (the files change only with a deploy, and a changed file is another key).
Compressed per request, GraphiQL's 1 MB bundle cost ~50 ms of brotli each time, a `HEAD` as
much as a `GET`: fifteen requests a second of a few hundred bytes each kept a core busy.
What these copies say is what `CompressionMiddleware` would say (server/compression.py): the
same codings, types, `Vary` and tag, the coding's suffix added there. A client that accepts
a coding gets the whole copy whatever `Range` it sends (RFC 9110 lets a server ignore it): a
range the file answers `200` (a stale `If-Range`, a hundred ranges) would be compressed anew.
A `Range` a server ignores is ignored (the whole file, `200`), a set of ranges is answered
with those the file can satisfy (`416` only when it can satisfy none), and every answer is
as sniff-proof as the file, a `416` too.

Every answer says `Cache-Control: no-cache`: a browser revalidates each file (a `304` by its
tag) rather than guess how long it stays fresh from its age (RFC 9111 4.2.2), which after a
deploy would pair a new page with the old script it guessed fresh.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import re
from pathlib import Path

import brotli  # type: ignore[import-untyped]
from starlette.datastructures import Headers
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import Message, Receive, Scope, Send

from core.lru import LRU
from server.compression import BROTLI_QUALITY, GZIP_LEVEL, MINIMUM_BYTES, accepted_coding
from server.negotiation import listed
from server.responses import NO_SNIFF, raw_header

KEPT_BYTES = 16 * 1024 * 1024  # every compressed copy of both folders is under 1 MiB

CopyKey = tuple[str, int, int, str]  # the file, its modification time and size, the coding


def _compress(data: bytes, coding: str) -> bytes:
    if coding == "br":
        compressed: bytes = brotli.compress(data, quality=BROTLI_QUALITY)
        return compressed
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


class AssetFiles(StaticFiles):
    """`StaticFiles`, each file's compressed copies kept."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory)
        self._copies: LRU[CopyKey, bytes] = LRU(KEPT_BYTES, weight=len)
        self._making: dict[CopyKey, asyncio.Future[bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Starlette's, a `Range` to ignore taken out of the request first (Starlette answered
        it a plain-text 400; one sent on two lines, no list, is ignored too), and each answer
        sent never to be sniffed as another type, nor kept unrevalidated."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        asked = [value for name, value in scope["headers"] if name == b"range"]
        if asked and (len(asked) > 1 or _ignored_range(asked[0].decode("latin-1"))):
            headers = [(name, value) for name, value in scope["headers"] if name != b"range"]
            scope = {**scope, "headers": headers}

        async def with_asset_head(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), *_ASSET_HEAD]
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, with_asset_head)

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """Starlette's own (`StaticFiles.file_response`), the file's answer a
        `_SatisfiableRanges`, which Starlette gives no hook to choose. (A `304` says the
        `Vary` its `200` says: CompressionMiddleware adds it to every tagged answer.)"""
        file = _SatisfiableRanges(full_path, status_code, stat_result=stat_result)
        if self.is_not_modified(file.headers, Headers(scope=scope)):
            return NotModifiedResponse(file.headers)
        return file

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if not isinstance(response, FileResponse) or response.status_code != 200:
            return response
        stat_result = response.stat_result
        if stat_result is None or not _compressible(stat_result, response):
            return response
        # every line of it, as the compression reads it: else a coding on a second line
        # made the middleware compress the file again, on every request
        coding = accepted_coding(listed(Headers(scope=scope), "accept-encoding"))
        if coding is None:
            return response
        key = (str(response.path), stat_result.st_mtime_ns, stat_result.st_size, coding)
        body = self._copies.get(key)
        if body is None:
            body = await self._made(key)
        kept = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-length", "accept-ranges")
        }
        kept.update({"content-encoding": coding, "vary": "Accept-Encoding"})
        return Response(body, 200, headers=kept)

    async def _made(self, key: CopyKey) -> bytes:
        """The copy, compressed in a thread (GraphiQL's bundle takes ~50 ms of brotli, which
        would hold every request on the event loop); one compression serves every request
        that asks while it runs, and one whose client leaves does not stop it."""
        making = self._making.get(key)
        if making is None:
            path, _, _, coding = key
            making = asyncio.ensure_future(asyncio.to_thread(_compressed_file, path, coding))
            self._making[key] = making
            making.add_done_callback(lambda made: self._keep(key, made))
        return await asyncio.shield(making)

    def _keep(self, key: CopyKey, made: asyncio.Future[bytes]) -> None:
        del self._making[key]
        if not made.cancelled() and made.exception() is None:  # (else each asker has it)
            self._copies.put(key, made.result())


class _SatisfiableRanges(FileResponse):
    """Starlette's answer of a file, a set of ranges holding one the file can satisfy answered
    with those it can (RFC 9110 14.1.1: `416` is for a set none of whose ranges is), where
    Starlette answered `416` to a set with any range past the end, or `-0`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """(A `Range` here is one line, and valid: `AssetFiles` took out any other.)"""
        asked = next((value for name, value in scope["headers"] if name == b"range"), None)
        if asked is not None and self.stat_result is not None:
            kept = _satisfiable(asked, self.stat_result.st_size)
            if kept is not asked:
                headers = [(n, kept if n == b"range" else v) for n, v in scope["headers"]]
                scope = {**scope, "headers": headers}
        await super().__call__(scope, receive, send)


def _satisfiable(asked: bytes, size: int) -> bytes:
    """A valid `Range` (not `_ignored_range`) without its ranges a file of `size` bytes
    cannot satisfy, where one it can is left; else as asked."""
    unit, _, ranges = asked.decode("latin-1").partition("=")
    parts = [part.strip(" \t") for part in ranges.split(",") if part.strip(" \t")]
    kept = [part for part in parts if _satisfies(part, size)]
    if not kept or len(kept) == len(parts):
        return asked
    return f"{unit}={','.join(kept)}".encode("latin-1")


def _satisfies(part: str, size: int) -> bool:
    """A range starting inside the file, or a suffix of at least one of its bytes (RFC 9110
    14.1.1)."""
    first, _, last = part.partition("-")
    return int(first) < size if first else size > 0 and int(last) > 0


def _ignored_range(value: str) -> bool:
    """Whether a `Range` is one to ignore, answered with the whole file as if not sent: in a
    unit other than `bytes`, which a server must ignore (RFC 9110 14.2), or no valid
    ranges-specifier (`bytes=5-1`, `bytes=abc`, `bytes=`; RFC 9110 lets a server ignore it),
    or past what Starlette reads: a position of over 19 digits (past any file; its `int`
    refuses 4,300) or more ranges than it serves (it answers those the whole file too)."""
    unit, equals, ranges = value.partition("=")
    if not equals or unit.strip(" \t").lower() != "bytes":
        return True
    if ranges.count(",") >= FileResponse.max_ranges:
        return True
    parts = (part.strip(" \t") for part in ranges.split(","))
    specs = [_BYTE_RANGE.fullmatch(part) for part in parts if part]  # (empty ones are none)
    return not specs or not all(spec is not None and _in_order(spec) for spec in specs)


# a byte range (RFC 9110 14.1.2): first-last, first- or -suffix, in ASCII digits
_BYTE_RANGE = re.compile(r"([0-9]{1,19})-([0-9]{0,19})|-[0-9]{1,19}")
_ASSET_HEAD = [
    raw_header(name, value) for name, value in {**NO_SNIFF, "Cache-Control": "no-cache"}.items()
]


def _in_order(spec: re.Match[str]) -> bool:
    """Whether a byte range ends no sooner than it starts (`5-1` is no range)."""
    first, last = spec.groups()
    return not first or not last or int(first) <= int(last)


def _compressible(stat_result: os.stat_result, response: Response) -> bool:
    """As the compression middleware would have it (server/compression.py)."""
    kind = response.headers.get("content-type", "")
    return stat_result.st_size >= MINIMUM_BYTES and not kind.startswith(
        DEFAULT_EXCLUDED_CONTENT_TYPES
    )


def _compressed_file(path: str, coding: str) -> bytes:
    return _compress(Path(path).read_bytes(), coding)
