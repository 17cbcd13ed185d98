"""The reference executor: Strawberry runs a prepared operation through the resolvers.

operation/ has already parsed, measured, priced and validated the document; Strawberry is
handed that document through a schema extension, the documented hook its own ParserCache
and ValidationCache extensions use, so it neither parses nor validates again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult
from strawberry.types.graphql import OperationType

from operation.prepare import Operation
from resolvers.context import Context

ANY_OPERATION = frozenset(OperationType)


class PreparedDocument(SchemaExtension):
    """Use the request's prepared document; its validation has already passed."""

    def on_parse(self) -> Iterator[None]:
        context: Context = self.execution_context.context
        self.execution_context.graphql_document = context.document
        yield

    def on_validate(self) -> Iterator[None]:
        self.execution_context.pre_execution_errors = []  # validated by operation/prepare.py
        yield


async def execute(
    schema: Any, operation: Operation, variables: dict[str, Any] | None, context: Context
) -> ExecutionResult:
    """Run `operation` with Strawberry; `schema` is the project's strawberry.Schema."""
    context.document = operation.document
    result: ExecutionResult = await schema.execute(
        operation.query,
        variable_values=variables,
        context_value=context,
        operation_name=operation.name,
        allowed_operation_types=ANY_OPERATION,  # operation/ decided what the method allows
    )
    return result
