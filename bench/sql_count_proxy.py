"""A loopback proxy in front of PostgreSQL that counts the statements clients execute.

It reads the frontend side of the wire protocol: each simple Query ('Q') and each extended
Execute ('E') is one statement, classified by its first keyword (a Parse names the text, a
Bind ties a portal to it). That counts every server alike, ours and PostGraphile's, and needs
no change to PostgreSQL's configuration (pg_stat_statements would need a preload and a restart
of a server other people use). SSL and GSS encryption requests are declined so the bytes stay
readable; clients fall back to plain TCP on loopback. Used only for counted runs, never timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections import Counter
from types import TracebackType

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104


def _cstring(data: bytes, start: int) -> tuple[str, int]:
    end = data.index(b"\0", start)
    return data[start:end].decode("utf-8", "replace"), end + 1


def keyword(text: str) -> str:
    words = text.split(None, 1)
    return (words[0].upper().strip(";") if words else "") or "(empty)"


class _Frontend:
    """Statement bookkeeping for one client connection."""

    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts
        self.statements: dict[str, str] = {}
        self.portals: dict[str, str] = {}

    def message(self, kind: bytes, payload: bytes) -> None:
        if kind == b"Q":
            self.counts[keyword(_cstring(payload, 0)[0])] += 1
        elif kind == b"P":
            name, at = _cstring(payload, 0)
            self.statements[name] = _cstring(payload, at)[0]
        elif kind == b"B":
            portal, at = _cstring(payload, 0)
            statement, _ = _cstring(payload, at)
            self.portals[portal] = self.statements.get(statement, "")
        elif kind == b"E":
            portal, _ = _cstring(payload, 0)
            self.counts[keyword(self.portals.get(portal, ""))] += 1


class CountingProxy:
    """`with CountingProxy(5432) as proxy:` point clients at proxy.port, read proxy.counts()."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._server: asyncio.Server | None = None

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the counting proxy did not start")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        backward = asyncio.create_task(self._pipe(up_reader, writer))
        try:
            await self._forward(reader, writer, up_writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            up_writer.close()
            backward.cancel()
            writer.close()

    async def _forward(
        self,
        reader: asyncio.StreamReader,
        client: asyncio.StreamWriter,
        upstream: asyncio.StreamWriter,
    ) -> None:
        while True:  # the untyped start-up messages; declined encryption requests repeat
            header = await reader.readexactly(8)
            length, code = struct.unpack("!ii", header)
            rest = await reader.readexactly(length - 8)
            if code in (SSL_REQUEST, GSS_REQUEST):
                client.write(b"N")
                await client.drain()
                continue
            upstream.write(header + rest)
            await upstream.drain()
            break
        local = Counter[str]()
        frontend = _Frontend(local)
        while True:
            kind = await reader.readexactly(1)
            size = await reader.readexactly(4)
            payload = await reader.readexactly(struct.unpack("!i", size)[0] - 4)
            frontend.message(kind, payload)
            if local:
                with self._lock:
                    self._counts.update(local)
                local.clear()
            upstream.write(kind + size + payload)
            await upstream.drain()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()
