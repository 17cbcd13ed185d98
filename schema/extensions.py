"""Schema extensions: the spec's operation rule, and the limits every operation runs under."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from core.errors import ClientError, QueryTooDeep, QueryTooLarge
from resolvers.context import Context
from schema.measure import (
    DocumentShape,
    check_cost,
    check_shape,
    cost_inputs,
    estimate_cost,
    measure,
)

# Repeated queries (the common case for frontends, and persisted ones) are parsed, measured
# and validated once; bounded, so unique hostile texts cannot grow memory.
DOCUMENT_CACHE_SIZE = 512


class OperationNameRequired(SchemaExtension):
    """Refuse a document with several operations and no `operationName` (spec: GetOperation).

    Strawberry would otherwise run the first operation, so a client's typo silently runs the
    wrong query.
    """

    def on_parse(self) -> Iterator[None]:
        yield
        document = self.execution_context.graphql_document
        provided = getattr(self.execution_context, "_provided_operation_name", None)
        if document is None or provided is not None:
            return
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) > 1:
            raise GraphQLError(
                "The document has several operations; name the one to run in `operationName`."
            )


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def _measure(schema: GraphQLSchema, query: str, max_tokens: int) -> DocumentShape:
    return measure(schema, _parse(query, max_tokens))


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def _validate(
    schema: GraphQLSchema,
    query: str,
    max_tokens: int,
    rules: tuple[type[ASTValidationRule], ...],
) -> list[GraphQLError]:
    return validate_document(schema, _parse(query, max_tokens), rules)


@lru_cache(maxsize=2 * DOCUMENT_CACHE_SIZE)
def _estimate(
    schema: GraphQLSchema,
    query: str,
    max_tokens: int,
    operation_name: str | None,
    sizes: tuple[tuple[str, int | None], ...],
) -> int:
    return estimate_cost(schema, _parse(query, max_tokens), operation_name, dict(sizes))


def _refusal(error: ClientError) -> GraphQLError:
    return GraphQLError(error.message, original_error=error)


class QueryLimits(SchemaExtension):
    """Parse, measure and price the operation before graphql-core validates or runs it.

    Runs ahead of validation on purpose: a hostile document is refused by a linear pass
    over its syntax before any rule walks it. Reports the cost in the response's extensions.
    """

    def __init__(self) -> None:
        self.estimated: int | None = None
        self.executed = False

    @property
    def context(self) -> Context:
        context: Context = self.execution_context.context
        return context

    def on_parse(self) -> Iterator[None]:
        limits = self.context.limits
        query = self.execution_context.query or ""
        if len(query) > limits.max_query_length:
            raise _refusal(
                QueryTooLarge(
                    f"The query is {len(query):,} characters long; "
                    f"the limit is {limits.max_query_length:,}."
                )
            )
        try:
            self.execution_context.graphql_document = _parse(query, limits.max_tokens)
        except GraphQLSyntaxError as error:
            raise _parse_refusal(error, limits.max_tokens) from None
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        limits = self.context.limits
        schema = execution.schema._schema
        query = execution.query or ""
        try:
            shape = _measure(schema, query, limits.max_tokens)
            check_shape(shape, limits)
            sizes = cost_inputs(execution.variables, shape.page_variables)
            self.estimated = _estimate(
                schema, query, limits.max_tokens, execution.operation_name, sizes
            )
            check_cost(self.estimated, limits)
        except ClientError as error:
            execution.pre_execution_errors = [_refusal(error)]
        else:
            rules = tuple(execution.validation_rules)
            execution.pre_execution_errors = _validate(schema, query, limits.max_tokens, rules)
        yield

    def on_execute(self) -> Iterator[None]:
        self.executed = True
        yield

    def get_results(self) -> dict[str, Any]:
        if self.estimated is None:
            return {}
        cost = {"estimated": self.estimated, "budget": self.context.limits.max_cost}
        if self.executed:
            cost["actual"] = self.context.usage.objects
        return {"cost": cost}


def _parse_refusal(error: GraphQLSyntaxError, max_tokens: int) -> GraphQLError:
    """graphql-core's own guards, reworded as limits; other syntax errors stay as they are."""
    if "tokens. Parsing aborted" in error.message:
        return _refusal(
            QueryTooLarge(f"The query has more than {max_tokens:,} tokens; that is the limit.")
        )
    if "nested too deeply" in error.message:
        return _refusal(QueryTooDeep("The query nests too deeply to be parsed."))
    return error
