"""Opaque global IDs: base64 of `Type:slug`, so an ID survives reseeding and store moves.

>>> decode_global_id(encode_global_id("Program", "impact-fellows-program"))
('Program', 'impact-fellows-program')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from core.errors import BadUserInput
from db.mapping import MAX_NODES, REFETCHABLE
from db.models import MAX_SLUG_LENGTH, SLUG_PATTERN
from semantics.opaque import decode_token, encode_token

_SLUG = re.compile(SLUG_PATTERN)
MAX_ID_LENGTH = 400


def is_slug(text: str) -> bool:
    return len(text) <= MAX_SLUG_LENGTH and _SLUG.fullmatch(text) is not None


@lru_cache(maxsize=65_536)  # IDs never change, and a page shows the same ones again and again
def encode_global_id(type_name: str, slug: str) -> str:
    return encode_token(f"{type_name}:{slug}")


CONTEXT_TYPE = "QuoteContext"


def context_id(citation_slug: str, characters: int, type_name: str = CONTEXT_TYPE) -> str:
    """A quote context's key for client caches (or a TextQuoteSelector's, a context of fixed
    width): its quote's span and its width. It names a value, not a node: `node(id:)` does
    not refetch it."""
    return encode_global_id(type_name, f"{citation_slug}-{characters}")


def decode_global_id(global_id: str, argument: str = "id") -> tuple[str, str]:
    """Split an ID into (type name, slug); anything malformed is a BAD_USER_INPUT error (of
    `argument`)."""
    problem = _not_an_id(global_id)
    raw = decode_token(global_id, max_length=MAX_ID_LENGTH, problem=problem, argument=argument)
    type_name, _, slug = raw.partition(":")
    if not type_name.isidentifier() or not is_slug(slug):
        raise BadUserInput(problem, argument=argument)
    return type_name, slug


def decode_node_id(global_id: str, argument: str = "id") -> tuple[str, str]:
    """A node's ID split: one of a type `node(id:)` refetches, else BAD_USER_INPUT."""
    type_name, slug = decode_global_id(global_id, argument)
    if type_name not in REFETCHABLE:
        raise BadUserInput(_not_an_id(global_id), argument=argument)
    return type_name, slug


def ids_in_range(global_ids: Sequence[str]) -> Sequence[str]:
    """`nodes(ids:)`'s IDs, at most MAX_NODES of them, else BAD_USER_INPUT (of `ids`)."""
    if len(global_ids) > MAX_NODES:
        raise BadUserInput(
            f"`ids` takes at most {MAX_NODES} IDs (got {len(global_ids)})", argument="ids"
        )
    return global_ids


def _not_an_id(global_id: str) -> str:
    return f"{global_id[:60]!r} is not a valid ID"
