"""Errors as clients see them: refusals of the HTTP request, and GraphQL errors made safe:
our refusals as they are, graphql-core's own, anything else masked with the request id."""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, ValueNode

from core.errors import ClientError, QueryTimeout, ServiceUnavailable, SnapshotEnded
from core.logs import once_a_window, one_line

logger = logging.getLogger("impact_graph.graphql")
# While the database is away every request fails alike: a line every OUTAGE_LOG_SECONDS says
# so (a request's id, the database's own words, how many such lines were left out since);
# each request's access line and metrics still count it.
OUTAGE_LOG_SECONDS = 10.0
outage = once_a_window("impact_graph.outage", OUTAGE_LOG_SECONDS)
timeouts = once_a_window("impact_graph.timeouts", OUTAGE_LOG_SECONDS)  # statements stopped


class RequestError(Exception):
    """The HTTP request itself is unusable; answered before anything executes."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _error_code(error: GraphQLError, before_execution: bool) -> str:
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if before_execution:
        return "GRAPHQL_VALIDATION_FAILED"
    return "BAD_USER_INPUT"  # graphql-core coercing variables, or an argument's value


def _is_server_fault(error: GraphQLError) -> bool:
    """An exception of ours, or graphql-core refusing a value we produced (it has a path and
    names the field). Not graphql-core refusing an argument's value the client sent (a
    variable with a default, sent null where the argument or `@skip`/`@include` takes no
    null): that error names the value, not the field."""
    original = error.original_error
    if isinstance(original, ClientError):
        return False
    if original is not None and not isinstance(original, GraphQLError):
        return True
    return error.path is not None and not any(isinstance(n, ValueNode) for n in error.nodes or ())


def format_errors(
    errors: list[GraphQLError], *, before_execution: bool, request_id: str
) -> list[dict[str, Any]]:
    """The errors made client-safe, and logged: one line per request for the fields the
    database failed, one (with its stack) for our own faults, however many fields failed
    (a query of many aliased fields would otherwise write a line, its alias and all, each)."""
    unavailable = [e for e in errors if isinstance(e.original_error, ServiceUnavailable)]
    if unavailable:
        first = unavailable[0]
        cause = first.original_error
        assert isinstance(cause, ServiceUnavailable)
        said = "" if cause.__cause__ is None else f" ({one_line(cause.__cause__)})"
        # a statement stopped by its timeout (a slow query, maybe ours) hides no outage's line
        told = timeouts if isinstance(cause, QueryTimeout) else outage
        told.warning(
            "request %s at %s%s: %s%s",
            request_id,
            first.path,
            _more(unavailable),
            cause.message,
            said,
        )
    faults = [
        e
        for e in errors
        if not isinstance(e.original_error, (ClientError, SnapshotEnded))
        and _is_server_fault(e)  # (what ended a snapshot was logged, stack and all)
    ]
    if faults:
        first = faults[0]
        original = first.original_error
        trace = None if original is None else (type(original), original, original.__traceback__)
        logger.error(
            "unexpected error (request %s) at %s%s: %s",
            request_id,
            first.path,
            _more(faults),
            first.message,
            exc_info=trace,
        )
    return [
        format_error(e, before_execution=before_execution, request_id=request_id) for e in errors
    ]


def _more(errors: list[GraphQLError]) -> str:
    return "" if len(errors) == 1 else f" and {len(errors) - 1} more field(s)"


def masked(request_id: str) -> tuple[str, dict[str, Any]]:
    """What a client is told of a fault of ours (logged with its stack): its message and
    extensions, the request's id among them."""
    return "Internal server error", {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}


def format_error(error: GraphQLError, *, before_execution: bool, request_id: str) -> dict[str, Any]:
    """A client-safe error: our refusals as they are, graphql-core's own, anything else masked
    (logged by `format_errors`)."""
    original = error.original_error
    formatted: dict[str, Any] = {}
    if isinstance(original, ServiceUnavailable):
        formatted["message"] = original.message
        extensions: dict[str, Any] = {**original.extensions(), "requestId": request_id}
    elif isinstance(original, ClientError):
        formatted["message"] = original.message
        extensions = original.extensions()
    elif _is_server_fault(error):
        formatted["message"], extensions = masked(request_id)
    else:
        formatted["message"] = PYTHON_NONE.sub(" not to be null.", error.message)
        extensions = {"code": _error_code(error, before_execution)}
    if error.locations:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    if error.path:
        formatted["path"] = list(error.path)
    formatted["extensions"] = extensions
    return formatted


# graphql-core words a null as Python's None ("Expected value of non-null type 'Int!' not to be
# None."): a client sent JSON's null
PYTHON_NONE = re.compile(r" not to be None\.$")

# graphql-core's "Did you mean 'company'?" (pyutils/did_you_mean.py): names only, so text a
# client sent inside a message is left as it is
NAME = r"'[_A-Za-z]\w*'"
SUGGESTION = re.compile(
    rf" Did you mean (?:the enum value |to use an inline fragment on )?{NAME}"
    rf"(?:,? (?:or )?{NAME})*\?(?!\")"  # (not inside a quoted value)
)


def without_suggestions(body: dict[str, Any]) -> None:
    """The errors' messages without graphql-core's suggestions, where introspection is off:
    a typo's "Did you mean" would tell the schema's names one guess at a time. (Validation
    hides them itself; Strawberry's execution, coercing variables, cannot be told to.)"""
    for error in body.get("errors", ()):
        error["message"] = SUGGESTION.sub("", error["message"])
