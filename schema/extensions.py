"""Schema extensions that bring execution in line with the GraphQL specification."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension


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
