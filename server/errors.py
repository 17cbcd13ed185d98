"""Errors as clients see them: refusals of the HTTP request, and GraphQL errors made safe:
our refusals as they are, graphql-core's own, anything else masked with the request id."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from core.errors import ClientError, ServiceUnavailable, SnapshotEnded

logger = logging.getLogger("impact_graph.graphql")


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
    return "BAD_USER_INPUT"  # raised by graphql-core before any field: variable coercion


def _is_server_fault(error: GraphQLError) -> bool:
    """An exception of ours, or graphql-core refusing a value we produced (it has a path)."""
    original = error.original_error
    if isinstance(original, ClientError):
        return False
    if original is not None and not isinstance(original, GraphQLError):
        return True
    return error.path is not None


def format_error(error: GraphQLError, *, before_execution: bool, request_id: str) -> dict[str, Any]:
    """A client-safe error: our refusals as they are, graphql-core's own, anything else masked."""
    original = error.original_error
    formatted: dict[str, Any] = {}
    if isinstance(original, ServiceUnavailable):
        logger.warning(
            "request %s at %s: %s (%r)",
            request_id,
            error.path,
            original.message,
            original.__cause__,
        )
        formatted["message"] = original.message
        extensions: dict[str, Any] = {**original.extensions(), "requestId": request_id}
    elif isinstance(original, ClientError):
        formatted["message"] = original.message
        extensions = original.extensions()
    elif _is_server_fault(error):
        if not isinstance(original, SnapshotEnded):  # (what ended it was logged, stack and all)
            trace = None if original is None else (type(original), original, original.__traceback__)
            logger.error(
                "unexpected error (request %s) at %s: %s",
                request_id,
                error.path,
                error.message,
                exc_info=trace,
            )
        formatted["message"] = "Internal server error"
        extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    else:
        formatted["message"] = error.message
        extensions = {"code": _error_code(error, before_execution)}
    if error.locations:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    if error.path:
        formatted["path"] = list(error.path)
    formatted["extensions"] = extensions
    return formatted
