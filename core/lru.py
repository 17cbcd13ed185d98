"""A small least-recently-used map, for the caches that keep what requests derive."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


def _one(_: object) -> int:
    return 1


def own_copy(data: bytes) -> bytes:
    """`data` in a buffer of its own size, to be kept: bytes orjson wrote keep the buffer they
    were written in (4 KiB for a 24-byte answer), which a bound by `len` would not see."""
    return bytes(memoryview(data))


class LRU(Generic[K, V]):
    """A least-recently-used map whose entries weigh at most `size` in all: one each by
    default, or what `weight` says (a string's length, say). An entry heavier than the
    whole map is not kept (nor is the one it would have replaced: `get` never answers a
    value older than the last `put` of its key)."""

    def __init__(self, size: int, weight: Callable[[V], int] = _one) -> None:
        self.size = size
        self._weight = weight
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._total = 0

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> V:
        weight = self._weight(value)
        replaced = self._entries.pop(key, None)
        if replaced is not None:
            self._total -= self._weight(replaced)
        if weight > self.size:
            return value
        self._entries[key] = value
        self._total += weight
        while self._total > self.size:
            _, dropped = self._entries.popitem(last=False)
            self._total -= self._weight(dropped)
        return value


# Header values up to this long are remembered (a client sends the same one again and again);
# longer ones are worked out each time and never kept (a client could make them megabytes).
REMEMBERED_HEADER_CHARS = 256
REMEMBERED_HEADERS = 256  # distinct values remembered per function


class PerHeaderValue(Generic[V]):
    """`function` of a header's value (None: not sent), its results remembered for values up
    to REMEMBERED_HEADER_CHARS long."""

    def __init__(self, function: Callable[[str | None], V]) -> None:
        self._function = function
        self._remembered = lru_cache(maxsize=REMEMBERED_HEADERS)(function)
        self.__doc__ = function.__doc__

    def __call__(self, value: str | None) -> V:
        if value is not None and len(value) > REMEMBERED_HEADER_CHARS:
            return self._function(value)
        return self._remembered(value)

    def remembered(self) -> int:
        """How many values are remembered now."""
        return self._remembered.cache_info().currsize
