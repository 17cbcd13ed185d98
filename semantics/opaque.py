"""Opaque tokens (global IDs, cursors): base64 text that clients must not take apart."""

from __future__ import annotations

import base64
import binascii

from core.errors import BadUserInput


def encode_token(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode_token(token: str, *, max_length: int, problem: str, argument: str) -> str:
    """The text inside a token; a token too long or not ours is BAD_USER_INPUT `problem`
    (of `argument`)."""
    if len(token) > max_length:
        raise BadUserInput(problem, argument=argument)
    try:
        text = base64.b64decode(token.encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        raise BadUserInput(problem, argument=argument) from None
    if encode_token(text) != token:  # the same text spelled again (its padding bits set):
        raise BadUserInput(problem, argument=argument)  # one token per node or place
    return text
