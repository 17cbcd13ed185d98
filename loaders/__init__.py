"""Per-request DataLoaders: every edge and lookup batches its keys into one statement, read
through the request's one session (loaders/reader.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from db.mapping import LISTS, NodeType
from db.order import Ordering
from db.queries import (
    ListFilter,
    Page,
    Window,
    fetch_by_keys,
    fetch_citations,
    fetch_pages,
)
from db.search import HitPage, Place, SearchQuery, fetch_hits
from loaders.reader import Reader, log_failure

K = TypeVar("K")
T = TypeVar("T")
Subject = tuple[str, int]
PageKey = tuple[str, ListFilter, Ordering, Window]


class SharedLoader(DataLoader[K, T]):
    """A DataLoader whose callers each wait on a future of their own. graphql-core cancels
    the siblings of a field whose error nulls their parent, and Strawberry's loader hands
    every caller of a key the one future it keeps: a cancelled sibling cancelled it for an
    alias elsewhere in the query too, whose `CancelledError` then passed every handler (a
    plain-text 500). A batch that fails once every caller has left is logged once, as a
    read whose field was cancelled is (`log_failure`), not left unretrieved."""

    def __init__(self, load_fn: Callable[[list[K]], Awaitable[Sequence[T | BaseException]]]):
        super().__init__(load_fn)
        self._callers: dict[asyncio.Future[T], list[asyncio.Future[T]]] = {}
        self._told: BaseException | None = None  # the failure last logged

    def load(self, key: K) -> Awaitable[T]:
        shared = super().load(key)
        assert isinstance(shared, asyncio.Future)
        if shared.done():
            return shared
        own = asyncio.shield(shared)
        callers = self._callers.get(shared)
        if callers is None:
            callers = self._callers[shared] = []
            shared.add_done_callback(self._settled)
        callers.append(own)
        return own

    def _settled(self, shared: asyncio.Future[T]) -> None:
        callers = self._callers.pop(shared, [])
        if shared.cancelled():
            return
        error = shared.exception()  # retrieved here: its callers may all have left
        if error is None or error is self._told or not all(c.cancelled() for c in callers):
            return  # (a caller still waiting has it)
        self._told = error  # one line for the batch, not one for each of its keys
        log_failure(shared)


class Loaders:
    """Creates each loader on first use; one instance per request, never shared."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._by_column: dict[tuple[str, str], DataLoader[Any, Any]] = {}
        self._pages: dict[PageKey, DataLoader[int | None, Page]] = {}
        self.citations: DataLoader[Subject, list[Any]] = SharedLoader(self._load_citations)

    def by_id(self, node: NodeType) -> DataLoader[int, Any]:
        """Rows of `node`'s table by primary key (None where absent)."""
        return self._by(node, "id")

    def by_slug(self, node: NodeType) -> DataLoader[str, Any]:
        """Rows of `node`'s table by slug (None where absent)."""
        return self._by(node, "slug")

    def _by(self, node: NodeType, column: str) -> DataLoader[Any, Any]:
        key = (node.name, column)
        if key not in self._by_column:

            async def load(keys: Sequence[Any]) -> list[Any]:
                found = await self.reader.run(
                    lambda s: fetch_by_keys(s, node, column, list(set(keys)))
                )
                return [found.get(k) for k in keys]

            self._by_column[key] = SharedLoader(load)
        return self._by_column[key]

    def pages(
        self, list_key: str, list_filter: ListFilter, ordering: Ordering, window: Window
    ) -> DataLoader[int | None, Page]:
        """Pages of a list of db/mapping.py (`Program.partners`, `Query.programs`) by parent
        id (None for a root list); one loader per argument set."""
        key = (list_key, list_filter, ordering, window)
        if key not in self._pages:
            is_root = LISTS[list_key].is_root

            async def load(parent_ids: Sequence[int | None]) -> list[Page]:
                ids = None if is_root else [i for i in parent_ids if i is not None]
                pages = await self.reader.run(
                    lambda s: fetch_pages(
                        s,
                        list_key,
                        parent_ids=ids,
                        list_filter=list_filter,
                        ordering=ordering,
                        window=window,
                    )
                )
                return [pages[i] for i in parent_ids]

            self._pages[key] = SharedLoader(load)
        return self._pages[key]

    async def search(
        self, query: SearchQuery, types: tuple[str, ...], size: int, after: Place | None
    ) -> HitPage:
        """A page of search hits (a root field: nothing to batch)."""
        return await self.reader.run(lambda s: fetch_hits(s, query, types, size, after))

    async def _load_citations(self, subjects: Sequence[Subject]) -> list[list[Any]]:
        found = await self.reader.run(lambda s: fetch_citations(s, list(set(subjects))))
        return [found.get(subject, []) for subject in subjects]
