"""Errors a client may see. Anything else raised while serving is masked as an internal error."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """A refusal whose message is safe to show, with a machine-readable `extensions.code`.

    `details` become further `extensions` entries (a cost and its budget, say), so a client
    can act on the numbers without parsing the message.
    """

    code = "BAD_REQUEST"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, **self.details}


class BadUserInput(ClientError):
    """An argument the schema accepts by type but not by value (a bad cursor, page size, ID),
    named in `extensions.argument` (`after`, `filter.countryCode`) so a client can tell which
    without reading the message (a stale cursor: page again from the start)."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, argument: str, **details: Any) -> None:
        super().__init__(message, argument=argument, **details)


class InvalidDocument(ClientError):
    """A document graphql-core's validation would refuse, caught before it is converted."""

    code = "GRAPHQL_VALIDATION_FAILED"


class QueryTooLarge(ClientError):
    """Too many characters, tokens or (fragments inlined) field selections."""

    code = "QUERY_TOO_LARGE"


class QueryTooDeep(ClientError):
    code = "QUERY_TOO_DEEP"


class TooManyAliases(ClientError):
    code = "TOO_MANY_ALIASES"


class TooManyRootFields(ClientError):
    code = "TOO_MANY_ROOT_FIELDS"


class TooManyDirectives(ClientError):
    code = "TOO_MANY_DIRECTIVES"


class QueryTooComplex(ClientError):
    """The estimated cost is over budget, or introspection asks for more than one pass."""

    code = "QUERY_TOO_COMPLEX"


class ResponseTooLarge(ClientError):
    """The answer may be, or was, larger than the limit: refused before it runs, or cut off."""

    code = "RESPONSE_TOO_LARGE"


class IntrospectionDisabled(ClientError):
    code = "INTROSPECTION_DISABLED"


class ServiceUnavailable(ClientError):
    """The request was fine but could not be answered now; HTTP 503, worth retrying later."""

    code = "SERVICE_UNAVAILABLE"


class DatabaseUnavailable(ServiceUnavailable):
    code = "DATABASE_UNAVAILABLE"


class QueryTimeout(ServiceUnavailable):
    code = "QUERY_TIMEOUT"


# The codes of the store's trouble (503): an answer carrying one is counted by it.
UNAVAILABLE_CODES = frozenset(
    {ServiceUnavailable.code, DatabaseUnavailable.code, QueryTimeout.code}
)


class SnapshotEnded(RuntimeError):
    """A read arrived after a statement of its request failed or was interrupted: the
    request's snapshot is over, and it reads no other (its answer would mix two stores).
    A consequence: what ended the snapshot was logged already."""
