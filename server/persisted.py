"""Persisted documents.

Automatic persisted queries, as Apollo Client and urql speak them: a client sends a
document's SHA-256 alone; an unknown hash is answered `PERSISTED_QUERY_NOT_FOUND`, and the
client sends the document with its hash, which registers it. Documents are kept in memory,
bounded in bytes, least recently used first out.

Trusted documents: with a manifest (the JSON client build tools emit), only its documents
run, sent whole or by hash; nothing registers.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from core.lru import LRU

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class ManifestError(ValueError):
    """The trusted documents' manifest cannot be used."""


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """hash -> document, from `{hash: document}` (GraphQL Code Generator's persisted
    documents) or Apollo's `{"format": "apollo-persisted-query-manifest", "operations": [...]}`.
    Every hash must be its document's SHA-256."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ManifestError(f"cannot read the trusted documents' manifest: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("operations"), list):
        pairs = [
            (item.get("id"), item.get("body"))
            for item in data["operations"]
            if isinstance(item, dict)
        ]
    elif isinstance(data, dict):
        pairs = list(data.items())
    else:
        raise ManifestError("the trusted documents' manifest is not a JSON object")
    documents: dict[str, str] = {}
    for digest, document in pairs:
        if not isinstance(digest, str) or not isinstance(document, str):
            raise ManifestError("each trusted document needs a string hash and a string body")
        if not SHA256_HEX.fullmatch(digest):  # as clients must send it (server/reading.py)
            raise ManifestError(
                f"the trusted document {digest[:12]!r}... has an id that is not 64 lowercase "
                "hexadecimal digits (its SHA-256)"
            )
        try:
            document.encode()
        except UnicodeEncodeError:  # JSON reads a lone surrogate (`\ud800`): no client sends it
            raise ManifestError(
                f"the trusted document {digest[:12]}... holds a lone surrogate, which is no text"
            ) from None
        if sha256_hex(document) != digest:
            raise ManifestError(f"the trusted document {digest[:12]}... does not hash to its id")
        documents[digest] = document
    if not documents:
        raise ManifestError("the trusted documents' manifest lists no document")
    return documents


MAX_BYTES = 8 * 1024 * 1024
# What an entry costs besides its document: its 64-character key and the LRU's slot for it
# (~180 bytes measured with tracemalloc on CPython 3.11).
ENTRY_BYTES = 200


def _entry_bytes(document: str) -> int:
    return sys.getsizeof(document) + ENTRY_BYTES


def persisted_queries(max_bytes: int = MAX_BYTES) -> LRU[str, str]:
    """Registered documents by their SHA-256, bounded by the memory they take: anyone may
    register documents, so many tiny ones must not outgrow the bound either."""
    return LRU(max_bytes, weight=_entry_bytes)
