"""Automatic persisted queries, as Apollo Client and urql speak them: a client sends a
document's SHA-256 alone; an unknown hash is answered `PERSISTED_QUERY_NOT_FOUND`, and the
client sends the document with its hash, which registers it. Documents are kept in memory,
bounded in bytes, least recently used first out."""

from __future__ import annotations

from collections import OrderedDict

MAX_BYTES = 8 * 1024 * 1024


class PersistedQueries:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0

    def get(self, digest: str) -> str | None:
        found = self._documents.get(digest)
        if found is not None:
            self._documents.move_to_end(digest)
        return found

    def put(self, digest: str, query: str) -> None:
        """Keep `query` (already checked to hash to `digest`)."""
        if digest in self._documents:
            self._documents.move_to_end(digest)
            return
        size = len(query)
        if size > self.max_bytes:
            return
        self._documents[digest] = query
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, dropped = self._documents.popitem(last=False)
            self._bytes -= len(dropped)
