"""Preparing an operation: everything decided about a request before an executor runs it.

In the order a client would expect its mistakes reported: the query's length and tokens
(parsing), which operation to run and whether the method allows it, the document's shape,
its cost, then graphql-core's validation. Everything derived from a query text is computed
once and cached, so a repeated or persisted query pays for none of it again. Refusals are
request errors: nothing runs and the response has no `data`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from graphql.validation.validate import ValidationAbortedError

from core.errors import ClientError, QueryTooComplex, QueryTooDeep, QueryTooLarge
from core.limits import Limits
from db.state import StoreSnapshot
from operation.cost import NOTHING_RECORDED, Estimate, check_cost, cost_inputs, estimate_cost
from operation.measure import DocumentShape, check_shape, measure
from operation.size import check_size
from operation.source import LinedSource

# Repeated queries (the common case for frontends, and persisted ones) are parsed, measured
# and validated once; bounded, so unique hostile texts cannot grow memory.
DOCUMENT_CACHE_SIZE = 512
DOCUMENT_CACHE_CHARACTERS = 250_000
MAX_COSTS_PER_DOCUMENT = 64

# Operation, page-size variables and the store's data version: a reseed prices anew.
CostKey = tuple[str | None, tuple[tuple[str, int | None], ...], int]


@dataclass(frozen=True)
class Operation:
    """A parsed, measured, priced and validated operation, ready for either executor.

    `memo` lives as long as the document stays in the document cache: an executor keeps
    what it derives from the document there, so it is bounded by the same measure.
    """

    query: str
    document: DocumentNode
    definition: OperationDefinitionNode
    name: str | None
    estimate: Estimate
    memo: dict[Any, Any] = field(compare=False, repr=False)

    @property
    def estimated(self) -> int:
        """Its cost: the objects it may fetch."""
        return self.estimate.objects

    @property
    def own_name(self) -> str | None:
        """The operation's name as its document defines it (None: anonymous), whether or not
        the request named it in `operationName` (`name`): what operators see it as."""
        return None if self.definition.name is None else self.definition.name.value

    @property
    def reads_only_the_schema(self) -> bool:
        """Whether every root field is `__schema`, `__type` or `__typename`: the answer
        depends on the schema and the variables alone, never on the store."""
        key = ("schema only", self.name)  # the memo is the document's, of all its operations
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = all(
                isinstance(selection, FieldNode) and selection.name.value in SCHEMA_FIELDS
                for selection in self.definition.selection_set.selections
            )
        return bool(found)


SCHEMA_FIELDS = frozenset({"__schema", "__type", "__typename"})
MAX_KEPT_VARIABLES = 4096  # bytes of variables a kept plan or answer may be keyed by


def variables_key(variables: dict[str, Any] | None) -> bytes | None:
    """The variables as one canonical key (keys sorted), or None where nothing should be kept
    under them: past `MAX_KEPT_VARIABLES`, or a value orjson cannot write (an integer past
    64 bits)."""
    try:
        key = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return key if len(key) <= MAX_KEPT_VARIABLES else None


class Refused(Exception):
    """The operation cannot run: its errors, and its estimated cost if it got that far."""

    def __init__(self, errors: list[GraphQLError], estimate: Estimate | None = None) -> None:
        super().__init__(errors[0].message if errors else "refused")
        self.errors = errors
        self.estimate = estimate

    @property
    def estimated(self) -> int | None:
        return None if self.estimate is None else self.estimate.objects


class MethodNotAllowed(Exception):
    """The operation's type cannot be sent with this HTTP method (a mutation over GET)."""

    def __init__(self, kind: OperationType) -> None:
        super().__init__(kind.value)
        self.kind = kind


@dataclass
class Prepared:
    """Everything derived from one query text, each part computed at most once."""

    document: DocumentNode
    shape: DocumentShape | None = None
    errors: list[GraphQLError] | None = None
    costs: dict[CostKey, Estimate] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)


class DocumentCache:
    """Least-recently-used prepared documents, bounded by their query texts' total length.

    A parsed document holds ~300 bytes per character of query (tokens and locations), so a
    bound in entries alone would let a few hundred large unique queries hold gigabytes.
    """

    def __init__(
        self,
        max_characters: int = DOCUMENT_CACHE_CHARACTERS,
        max_entries: int = DOCUMENT_CACHE_SIZE,
    ) -> None:
        self.max_characters = max_characters
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, int], Prepared] = OrderedDict()
        self._characters = 0
        self.hits = self.misses = 0

    def prepare(self, query: str, max_tokens: int) -> Prepared:
        key = (query, max_tokens)
        found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return found
        self.misses += 1
        # Line breaks are bounded as tokens are (on a parse only: a kept text passed):
        # graphql-core locates an error of several places (a response key selected twice)
        # by scanning the text up to it, once per error.
        breaks = query.count("\n") + query.count("\r") - query.count("\r\n")  # (CRLF is one)
        if breaks > max_tokens:
            raise QueryTooLarge(
                f"The query has {breaks:,} line breaks; the limit is {max_tokens:,}, "
                "as for its tokens."
            )
        prepared = Prepared(parse(LinedSource(query), max_tokens=max_tokens))  # raises first
        if len(query) <= self.max_characters:
            self._entries[key] = prepared
            self._characters += len(query)
            while self._characters > self.max_characters or len(self._entries) > self.max_entries:
                (old_query, _), _ = self._entries.popitem(last=False)
                self._characters -= len(old_query)
        return prepared


@dataclass(frozen=True)
class OperationRequest:
    """What a client asked to run; `allowed` are the operation types its method may carry."""

    query: str
    operation_name: str | None
    variables: dict[str, Any] | None
    allowed: frozenset[OperationType]


def prepare(
    contract: GraphQLSchema,
    documents: DocumentCache,
    request: OperationRequest,
    limits: Limits,
    *,
    snapshot: StoreSnapshot = NOTHING_RECORDED,
) -> Operation:
    """The operation to run, or `Refused` (a request error) / `MethodNotAllowed`.

    `snapshot` is what the last seed recorded about the store (db/state.py): the cost counts
    no list longer than it holds. Costs are kept per data version, so a reseed prices anew.
    """
    query = request.query
    if len(query) > limits.max_query_length:
        raise _refused(
            QueryTooLarge(
                f"The query is {len(query):,} characters long; "
                f"the limit is {limits.max_query_length:,}."
            )
        )
    try:
        prepared = documents.prepare(query, limits.max_tokens)
    except GraphQLSyntaxError as error:
        raise Refused([_parse_refusal(error, limits.max_tokens)]) from None
    except QueryTooLarge as error:
        raise _refused(error) from None
    definition = _operation(prepared.document, request.operation_name)
    if definition.operation not in request.allowed:
        raise MethodNotAllowed(definition.operation)
    estimate = None
    try:
        if prepared.shape is None:
            prepared.shape = measure(contract, prepared.document)
        check_shape(prepared.shape, limits)
        key = (
            request.operation_name,
            cost_inputs(request.variables, prepared.shape.page_variables),
            snapshot.version,
        )
        if key not in prepared.costs:
            if len(prepared.costs) >= MAX_COSTS_PER_DOCUMENT:
                prepared.costs.clear()
            prepared.costs[key] = estimate_cost(
                contract, prepared.document, key[0], dict(key[1]), snapshot
            )
        estimate = prepared.costs[key]
        check_cost(estimate.objects, limits)
        check_size(estimate.bytes, limits)
    except ClientError as error:
        raise Refused([_refusal(error)], estimate) from None
    if prepared.errors is None:
        prepared.errors = [
            _reworded(e)
            for e in validate(
                contract,
                prepared.document,
                specified_rules,
                hide_suggestions=not limits.introspection,  # they would tell the schema
            )
        ]
    if prepared.errors:
        raise Refused(prepared.errors, estimate)
    return Operation(
        query, prepared.document, definition, request.operation_name, estimate, prepared.memo
    )


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    """The operation to run, as the spec's GetOperation picks it."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) > 1:
            raise Refused(
                [
                    GraphQLError(
                        "The document has several operations; "
                        "name the one to run in `operationName`."
                    )
                ]
            )
        if operations:
            return operations[0]
        raise Refused(
            [
                GraphQLError(
                    "The document has no operation to run (only fragments or type definitions)."
                )
            ]
        )
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    raise Refused([GraphQLError(f"The document has no operation named {name[:60]!r}.")])


def _refusal(error: ClientError) -> GraphQLError:
    return GraphQLError(error.message, original_error=error)


def _refused(error: ClientError) -> Refused:
    return Refused([_refusal(error)])


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
