"""A quote's context: how many characters of its document it shows on each side."""

from __future__ import annotations

from core.errors import BadUserInput
from db.mapping import MAX_CONTEXT


def context_width(characters: int) -> int:
    """A context's `characters`, 0 to MAX_CONTEXT, else BAD_USER_INPUT (of `characters`)."""
    if not 0 <= characters <= MAX_CONTEXT:
        raise BadUserInput(
            f"`characters` must be between 0 and {MAX_CONTEXT}", argument="characters"
        )
    return characters
