"""Errors a client may see. Anything else raised while serving is masked as an internal error."""

from __future__ import annotations


class ClientError(Exception):
    """A refusal whose message is safe to show, with a machine-readable `extensions.code`."""

    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadUserInput(ClientError):
    """An argument the schema accepts by type but not by value (a bad cursor, page size, ID)."""

    code = "BAD_USER_INPUT"
