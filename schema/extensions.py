"""Schema extensions: the spec's operation rule, and the limits every operation runs under."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from core.errors import ClientError, QueryTooComplex, QueryTooDeep, QueryTooLarge
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


@dataclass
class Prepared:
    """Everything derived from one query text, each part computed at most once."""

    document: DocumentNode
    shape: DocumentShape | None = None
    errors: dict[tuple[type[ASTValidationRule], ...], list[GraphQLError]] = field(
        default_factory=dict
    )
    costs: dict[tuple[str | None, tuple[tuple[str, int | None], ...]], int] = field(
        default_factory=dict
    )


class DocumentCache:
    """Least-recently-used prepared documents, bounded by their query texts' total length.

    A parsed document holds ~300 bytes per character of query (tokens and locations), so a
    bound in entries alone would let a few hundred large unique queries hold gigabytes.
    """

    def __init__(self, max_characters: int, max_entries: int) -> None:
        self.max_characters = max_characters
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[GraphQLSchema, str, int], Prepared] = OrderedDict()
        self._characters = 0
        self.hits = self.misses = 0

    def prepare(self, schema: GraphQLSchema, query: str, max_tokens: int) -> Prepared:
        key = (schema, query, max_tokens)
        found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return found
        self.misses += 1
        prepared = Prepared(parse(query, max_tokens=max_tokens))  # raises before caching
        if len(query) <= self.max_characters:
            self._entries[key] = prepared
            self._characters += len(query)
            while self._characters > self.max_characters or len(self._entries) > self.max_entries:
                (_, old_query, _), _ = self._entries.popitem(last=False)
                self._characters -= len(old_query)
        return prepared


DOCUMENTS = DocumentCache(max_characters=250_000, max_entries=DOCUMENT_CACHE_SIZE)
MAX_COSTS_PER_DOCUMENT = 64


def _refusal(error: ClientError) -> GraphQLError:
    return GraphQLError(error.message, original_error=error)


class QueryLimits(SchemaExtension):
    """Parse, measure and price the operation before graphql-core validates or runs it.

    Runs ahead of validation on purpose: a hostile document is refused by a linear pass
    over its syntax before any rule walks it. Reports the cost in the response's extensions.
    """

    def __init__(self) -> None:
        self.prepared: Prepared | None = None
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
        schema = self.execution_context.schema._schema
        try:
            self.prepared = DOCUMENTS.prepare(schema, query, limits.max_tokens)
        except GraphQLSyntaxError as error:
            raise _parse_refusal(error, limits.max_tokens) from None
        self.execution_context.graphql_document = self.prepared.document
        yield

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        limits = self.context.limits
        schema = execution.schema._schema
        prepared = self.prepared
        assert prepared is not None  # on_parse ran
        try:
            if prepared.shape is None:
                prepared.shape = measure(schema, prepared.document)
            check_shape(prepared.shape, limits)
            key = (
                execution.operation_name,
                cost_inputs(execution.variables, prepared.shape.page_variables),
            )
            if key not in prepared.costs:
                if len(prepared.costs) >= MAX_COSTS_PER_DOCUMENT:
                    prepared.costs.clear()
                prepared.costs[key] = estimate_cost(schema, prepared.document, key[0], dict(key[1]))
            self.estimated = prepared.costs[key]
            check_cost(self.estimated, limits)
        except ClientError as error:
            execution.pre_execution_errors = [_refusal(error)]
        else:
            rules = tuple(execution.validation_rules)
            if rules not in prepared.errors:
                errors = validate_document(schema, prepared.document, rules)
                prepared.errors[rules] = [_reworded(e) for e in errors]
            execution.pre_execution_errors = prepared.errors[rules]
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


def _reworded(error: GraphQLError) -> GraphQLError:
    """graphql-core's bare "Validation aborted." (its own work budget ran out) as a limit."""
    if isinstance(error, ValidationAbortedError):
        return _refusal(
            QueryTooComplex(
                "The query is too complex to validate; select fewer repeated fields or fragments."
            )
        )
    return error


def _parse_refusal(error: GraphQLSyntaxError, max_tokens: int) -> GraphQLError:
    """graphql-core's own guards, reworded as limits; other syntax errors stay as they are."""
    if "tokens. Parsing aborted" in error.message:
        return _refusal(
            QueryTooLarge(f"The query has more than {max_tokens:,} tokens; that is the limit.")
        )
    if "nested too deeply" in error.message:
        return _refusal(QueryTooDeep("The query nests too deeply to be parsed."))
    return error
