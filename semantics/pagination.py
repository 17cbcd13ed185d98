"""Cursor connection arguments: page-size limits and opaque, list-bound keyset cursors.

A cursor is base64 of `cursor:v2:<scope>:<parent>:<key>`. The scope (a hash of the list, its
filter and its order) and the parent (the slug of the object whose list it is; empty for a
root list) bind it to where it came from, so reusing it elsewhere is an error, not a wrong
page. The key is the row's place in the order (db/order.py writes it), so paging seeks to it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.errors import BadUserInput
from core.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from semantics.opaque import decode_token, encode_token

PREFIX = "cursor:v2"
# A key holds a slug (at most 120 characters) and a sort value, a name at worst.
MAX_CURSOR_LENGTH = 4_000


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class CursorScope:
    """Where cursors of one page come from: the list, filter and order, and the parent."""

    scope: str
    parent: str

    @property
    def prefix(self) -> str:
        return f"{PREFIX}:{self.scope}:{self.parent}:"


def encode_cursor(where: CursorScope, key: str) -> str:
    return encode_token(where.prefix + key)


def decode_cursor(cursor: str, where: CursorScope, argument: str) -> str:
    """The row key a cursor carries; refused when malformed or from another list."""
    problem = f"`{argument}` is not a valid cursor"
    raw = decode_token(cursor, max_length=MAX_CURSOR_LENGTH, problem=problem, argument=argument)
    parts = raw.split(":", 4)
    if len(parts) != 5 or f"{parts[0]}:{parts[1]}" != PREFIX or not parts[4]:
        raise BadUserInput(problem, argument=argument)
    if not raw.startswith(where.prefix):
        raise BadUserInput(
            f"`{argument}` is a cursor from another list, filter or order; "
            "restart paging without it",
            argument=argument,
        )
    return raw[len(where.prefix) :]


@dataclass(frozen=True)
class PageArguments:
    """The four Relay arguments, checked: a page size, a direction, and the cursors' keys."""

    size: int
    backwards: bool
    after: str | None
    before: str | None


def _page_size(value: int | None, argument: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
        raise BadUserInput(
            f"`{argument}` must be between 0 and {MAX_PAGE_SIZE} (got {value}); "
            "page through longer lists with cursors",
            argument=argument,
        )
    return value


def page_arguments(
    where: CursorScope,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> PageArguments:
    """Check the four Relay arguments and read the keys out of their cursors."""
    first = _page_size(first, "first")
    last = _page_size(last, "last")
    if first is not None and last is not None:
        raise BadUserInput("pass `first` or `last`, not both", argument="last")
    if first is None and last is None:
        # Paging backwards from `before` alone means the items just before it.
        if before is not None and after is None:
            last = DEFAULT_PAGE_SIZE
        else:
            first = DEFAULT_PAGE_SIZE
    backwards = last is not None
    size = last if last is not None else first
    assert size is not None
    return PageArguments(
        size=size,
        backwards=backwards,
        after=None if after is None else decode_cursor(after, where, "after"),
        before=None if before is None else decode_cursor(before, where, "before"),
    )
