"""HTTP caching of GET answers: a strong ETag from the store's data version and the request.

The store changes only by seeding, and a seed that changes rows bumps the data version
(db/state.py). The same request, under the same data version and the same build, gets the same
bytes: a client revalidating with its tag gets 304 without the query running. Every GET (and
every request the response cache may answer) learns the version current at its arrival
(db/watch.py). An answer's own tag names the version its executor read in the answer's
snapshot (a seed may commit between the two reads), so a client never keeps a stale answer
under a current tag.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import distributions
from pathlib import Path

# The packages whose code writes answers: a fix that changes an answer changes every tag.
ANSWERING_PACKAGES = (
    "compiled",
    "core",
    "db",
    "loaders",
    "operation",
    "resolvers",
    "schema",
    "semantics",
    "server",
)


@cache
def _source_digest() -> str:
    digest = hashlib.sha256()
    for package in ANSWERING_PACKAGES:
        root = Path(importlib.import_module(package).__path__[0])
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root.parent).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def _installed() -> str:
    """Every package installed beside ours, with its version: an upgrade of one that writes
    answers (Strawberry, graphql-core, orjson; brotli for a compressed one's bytes) may
    change them, so a rolling upgrade must not share tags or Redis entries across it (~60 ms,
    once per process)."""
    found = {f"{d.metadata['Name'] or ''}=={d.version}".lower() for d in distributions()}
    return ",".join(sorted(found))


def build_identity(*parts: object) -> str:
    """What else an answer's bytes depend on: the code that writes it (its source, hashed once
    per process, and the packages installed) and `parts` (the settings an answer shows, such
    as the cost budget)."""
    made_by = f"{_source_digest()}:{_installed()}:{parts!r}"
    return hashlib.sha256(made_by.encode()).hexdigest()


@dataclass(slots=True)
class AnswerKey:
    """What an answer is a function of: the request (its document's SHA-256, the operation
    name sent, the canonical variables, the media type) and the build, hashed into `digest`;
    and the data version it was read under. The response cache and the ETag share it.
    `current`: the version was read after the request arrived (else it is the last one this
    process read, to be checked before an answer is served under it). Only a lookup reads
    it: the key an answer is kept or tagged under (`_exact_key` in server/endpoint.py) names
    the version its executor read, whatever `current` says.

    Never changed (`at` gives another), though not frozen: a frozen dataclass is made through
    `object.__setattr__`, three times the cost (measured: 460 against 150 ns)."""

    digest: str
    version: int
    current: bool = False

    def at(self, version: int, *, current: bool = False) -> AnswerKey:
        """This key under `version`: itself where it already is (as a remembered POST's key
        is, until a seed), not a new one on every request."""
        if version == self.version and current == self.current:
            return self
        return AnswerKey(self.digest, version, current)

    @property
    def etag(self) -> str:
        """A strong tag for the answer to this request under this data version and build."""
        return f'"v{self.version}-{self.digest[:32]}"'

    @property
    def name(self) -> str:
        """The key of a shared cache's entry (server/answers.py)."""
        return f"{self.version}:{self.digest}"


def answer_key(
    build: str,
    version: int,
    document_hash: str,
    operation_name: str | None,
    variables: bytes,
    media_type: str,
) -> AnswerKey:
    """The key of the answer to this request under this data version and build. The
    document is keyed by its hash (a persisted query's hash is the same) and the operation
    name as sent, so a cached answer is found before the document is parsed."""
    digest = hashlib.sha256()
    for part in (build, document_hash, operation_name or "", media_type):
        digest.update(part.encode())
        digest.update(b"\x00")
    digest.update(variables)
    return AnswerKey(digest.hexdigest(), version)
