"""Cursor connection arguments: page-size limits and opaque, list-bound cursors.

A cursor is base64 of `cursor:v1:<list fingerprint>:<position>`; the fingerprint binds it to
the list (and its parent), filter and order it came from, so reusing it elsewhere is an error,
not a wrong page.
"""

from __future__ import annotations

import hashlib

from core.errors import BadUserInput
from core.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from db.queries import Window
from resolvers.opaque import decode_token, encode_token

MAX_POSITION = 2**31 - 1  # no list is longer; bigger forged positions would overflow SQL integers
_PREFIX = "cursor:v1"
_MAX_CURSOR_LENGTH = 200


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def encode_cursor(scope: str, position: int) -> str:
    return encode_token(f"{_PREFIX}:{scope}:{position}")


def decode_cursor(cursor: str, scope: str, argument: str) -> int:
    """The 1-based position a cursor stands for in the list `scope` names."""
    problem = f"`{argument}` is not a valid cursor"
    raw = decode_token(cursor, max_length=_MAX_CURSOR_LENGTH, problem=problem)
    prefix, _, rest = raw.rpartition(":")
    cursor_scope_prefix, _, cursor_scope = prefix.rpartition(":")
    if cursor_scope_prefix != _PREFIX or not (rest.isascii() and rest.isdigit()):
        raise BadUserInput(problem)
    if not 1 <= int(rest) <= MAX_POSITION:
        raise BadUserInput(problem)
    if cursor_scope != scope:
        raise BadUserInput(
            f"`{argument}` is a cursor from another list, filter or order; "
            "restart paging without it"
        )
    return int(rest)


def _page_size(value: int | None, argument: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
        raise BadUserInput(
            f"`{argument}` must be between 0 and {MAX_PAGE_SIZE} (got {value}); "
            "page through longer lists with cursors"
        )
    return value


def window(
    scope: str,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Window:
    """Check the four Relay arguments and turn them into positions."""
    first = _page_size(first, "first")
    last = _page_size(last, "last")
    if first is not None and last is not None:
        raise BadUserInput("pass `first` or `last`, not both")
    if first is None and last is None:
        # Paging backwards from `before` alone means the items just before it.
        if before is not None and after is None:
            last = DEFAULT_PAGE_SIZE
        else:
            first = DEFAULT_PAGE_SIZE
    return Window(
        after=0 if after is None else decode_cursor(after, scope, "after"),
        before=None if before is None else decode_cursor(before, scope, "before"),
        first=first,
        last=last,
    )
