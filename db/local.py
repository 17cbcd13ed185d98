"""The data version of an SQLite store, read by the stdlib driver in the calling thread.

Every cached answer waits for a read of the data version that started after its request
arrived. Through aiosqlite that read is a hop to the driver's thread and back (~40 us of CPU a
request, most of a cached answer's cost); read here it takes ~5 us alone and ~20 us between
requests under load. An SQLite file in WAL mode (db/migrate.py sets it) lets a reader read
without waiting for a writer, and this connection never waits for a lock (`timeout=0`): where
it cannot read at once, `read` says None and the caller reads through the pool as before.

Most reads need no statement at all. In WAL mode every commit rewrites the header SQLite keeps
at the start of the `-shm` file (the wal-index, sqlite.org/walformat.html: its change counter
and last frame move with each transaction). A read of the version remembers the header as it
was just before the statement ran; while the header reads the same, no transaction has
committed since, so the version read then is the version now. The header is read from the
file mapped into memory, as SQLite's own readers read it: no system call (~50 ns; a `pread`
took ~0.5 us alone and 2-3 us of a cached answer's ~48 under load).
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import sqlite3
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from db import state
from db.raw import SqlText, precompile

logger = logging.getLogger("impact_graph.db")
RETRY_SECONDS = 1.0  # after a failed read, how long the pool reads instead
WAL_INDEX_HEADER = 48  # bytes in each of the header's two copies, at the start of `-shm`
IS_INIT = 12  # the offset of its `isInit` byte (1 once the wal-index is built)


# The `-shm` files read, by (device, inode): each opened and mapped once, neither closed nor
# unmapped while the process runs (one descriptor and one page per store file the process
# reads, and per time that file is made anew, which SQLite does only when no connection has the
# store open). Closing any descriptor of a file drops every POSIX lock the process holds on
# it, SQLite's own included (sqlite.org/howtocorrupt.html, 2.2): the next process to open the
# store would take itself for the first and rebuild the wal-index under this one, and a write
# lock held by another connection here would be lost. So the page is mapped by libc's `mmap`
# on our own descriptor: Python's `mmap.mmap` maps a duplicate it closes when mapping fails
# (and when the object goes), which would drop them.
_SHM_DESCRIPTORS: dict[tuple[int, int], int] = {}
_SHM_MAPPINGS: dict[tuple[int, int], ctypes.Array[ctypes.c_char]] = {}
HEADER_BYTES = 2 * WAL_INDEX_HEADER
_LIBC = ctypes.CDLL(None, use_errno=True)
_map = _LIBC.mmap
_map.restype = ctypes.c_void_p
_map.argtypes = (
    ctypes.c_void_p,  # where: anywhere (None)
    ctypes.c_size_t,  # length
    ctypes.c_int,  # protection
    ctypes.c_int,  # flags
    ctypes.c_int,  # descriptor
    ctypes.c_long,  # offset (off_t; 0)
)
MAP_FAILED = ctypes.c_void_p(-1).value


def _mapped_header(descriptor: int) -> ctypes.Array[ctypes.c_char]:
    address = _map(None, HEADER_BYTES, mmap.PROT_READ, mmap.MAP_SHARED, descriptor, 0)
    if address is None or address == MAP_FAILED:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return (ctypes.c_char * HEADER_BYTES).from_address(address)


def _shm_header(path: Path) -> ctypes.Array[ctypes.c_char]:
    """The header's bytes in the file, mapped. Reading past a mapped file's end kills the
    process (SIGBUS), so it is read only while a connection of ours holds the store open:
    SQLite truncates the file only for the first connection to open the store, and maps the
    same pages for its own readers in this process."""
    found = os.stat(path)
    key = (found.st_dev, found.st_ino)
    if key not in _SHM_DESCRIPTORS:
        descriptor = os.open(path, os.O_RDONLY)
        opened = os.fstat(descriptor)  # (replaced meanwhile: the one opened is the one read)
        key = (opened.st_dev, opened.st_ino)
        _SHM_DESCRIPTORS.setdefault(key, descriptor)  # (another of the same file: left open)
    mapping = _SHM_MAPPINGS.get(key)
    if mapping is None:
        mapping = _SHM_MAPPINGS[key] = _mapped_header(_SHM_DESCRIPTORS[key])
    return mapping


class WalIndex:
    """The wal-index header of an SQLite store in WAL mode.

    SQLite writes the header's second copy, then the first; a reader that finds the two alike
    read one whole header (SQLite's own readers check the same way), else nothing is known.
    Read only while a connection of ours has the store open: SQLite neither deletes nor
    rebuilds the `-shm` file while any connection holds it.
    """

    def __init__(self, path: Path) -> None:
        self._mapping = _shm_header(path)

    def header(self) -> bytes | None:
        """The header as it is now; None while it is being written (or not yet built)."""
        both = self._mapping.raw
        first, second = both[:WAL_INDEX_HEADER], both[WAL_INDEX_HEADER:]
        return first if first == second and first[IS_INIT : IS_INIT + 1] == b"\x01" else None


class LocalVersion:
    """A read-only connection of its own to the store's file, for its data version only."""

    def __init__(self, path: Path, sql: SqlText) -> None:
        self._path = path
        self._sql = sql
        self._connection: sqlite3.Connection | None = None
        self._wal_index: WalIndex | None = None  # in WAL mode, once the connection has read
        self._mode_known = False  # whether this connection's journal mode was asked
        self._known: tuple[bytes, int] | None = None  # the header before a read, its version
        self._retry_at = 0.0  # after a failure, not tried again (in the loop's thread) until

    def read(self) -> int | None:
        """The data version now (0: never seeded), or None where it cannot be read at once."""
        header = None if self._wal_index is None else self._wal_index.header()
        if header is not None and self._known is not None and self._known[0] == header:
            return self._known[1]  # nothing has committed since it was read
        if self._connection is None and time.monotonic() < self._retry_at:
            return None
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    f"{self._path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=0,
                    isolation_level=None,  # each statement its own read transaction
                    check_same_thread=False,  # used from the event loop's thread only
                )
            row = self._connection.execute(self._sql.text, self._sql.arguments({})).fetchone()
            if not self._mode_known:
                self._wal_index = self._wal_index_of(self._connection)
                self._mode_known = True
        except (sqlite3.Error, OSError) as error:
            logger.debug("the data version could not be read at once: %s", error)
            self.close()
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return None
        version = 0 if row is None else int(row[0])
        # the header read before the statement: any commit since then changes it
        self._known = None if header is None else (header, version)
        return version

    def _wal_index_of(self, connection: sqlite3.Connection) -> WalIndex | None:
        """The wal-index of a store in WAL mode, which this connection holds open; None in
        any other mode (then every read runs the statement)."""
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() != "wal":
            return None
        try:
            return WalIndex(Path(f"{self._path.resolve()}-shm"))
        except OSError:  # (not mapped: each read runs the statement)
            return None

    def close(self) -> None:
        self._known = None
        self._wal_index = None  # (its file stays open: see _SHM_DESCRIPTORS)
        self._mode_known = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def local_version_reader(engine: AsyncEngine) -> LocalVersion | None:
    """A `LocalVersion` for an engine on an SQLite file; None for any other store."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename: left to the pool
        return None
    return LocalVersion(Path(database), precompile(state.version_query(), engine.dialect))
