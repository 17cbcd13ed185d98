"""Opaque global IDs: base64 of `Type:slug`, so an ID survives reseeding and store moves.

>>> decode_global_id(encode_global_id("Program", "impact-fellows-program"))
('Program', 'impact-fellows-program')
"""

from __future__ import annotations

import base64
import binascii
import re

from core.errors import BadUserInput

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_ID_LENGTH = 400


def encode_global_id(type_name: str, slug: str) -> str:
    return base64.b64encode(f"{type_name}:{slug}".encode()).decode("ascii")


def decode_global_id(global_id: str) -> tuple[str, str]:
    """Split an ID into (type name, slug); anything malformed is a BAD_USER_INPUT error."""
    problem = f"{global_id[:60]!r} is not a valid ID"
    if len(global_id) > MAX_ID_LENGTH:
        raise BadUserInput(problem)
    try:
        raw = base64.b64decode(global_id.encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        raise BadUserInput(problem) from None
    type_name, _, slug = raw.partition(":")
    if not type_name.isidentifier() or not _SLUG.match(slug):
        raise BadUserInput(problem)
    return type_name, slug
