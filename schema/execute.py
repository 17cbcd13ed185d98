"""The reference executor: Strawberry runs a prepared operation through the resolvers.

operation/ has already parsed, measured, priced and validated the document; Strawberry is
handed that document through a schema extension, the documented hook its own ParserCache
and ValidationCache extensions use, so it neither parses nor validates again.

`ReferenceExecutor.run` is the executor's one entry point: it gives the request its context
(loaders over a reader of its own: one session, one snapshot of the store), runs the
operation, reads the data version in the same snapshot and closes the reader, or, stopped by
the deadline or cancelled, interrupts the reader and closes it later (`wind_down` waits for
those at shutdown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult
from strawberry.types.graphql import OperationType

from core.errors import ServiceUnavailable
from loaders import Loaders
from loaders.reader import Reader
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


class TimedOut(Exception):
    """The operation did not finish by its deadline and was stopped."""


class ReferenceExecutor:
    """Runs prepared operations with Strawberry, each with a fresh context over a reader of
    its own, made by `readers` (loaders/reader.py: `Reader`, over the app's sessions);
    built once per app."""

    def __init__(self, schema: strawberry.Schema, readers: Callable[[], Reader]) -> None:
        self.schema = schema
        self._readers = readers
        self._closing: set[asyncio.Task[None]] = set()  # readers of stopped requests

    async def run(
        self,
        operation: Operation,
        variables: dict[str, Any] | None,
        request_id: str,
        deadline: float,
        slots: asyncio.Semaphore,
        unavailable: ServiceUnavailable | None = None,
    ) -> tuple[ExecutionResult, int | None, int | None]:
        """Run `operation` by `deadline` (the event loop's time), holding one of `slots` (the
        executions in flight at once) while it runs: its result, its actual cost (the objects
        the resolvers fetched; None with errors) and the data version of the one snapshot of
        the store it read (None where it names none: `Reader.version`).

        With `unavailable` (the store was found so, as by a compiled statement), its reads fail
        at once with that error rather than ask the store again. Raises `TimedOut` when the
        deadline passes; stopped so, or cancelled (the server stopping), its reader's
        statements are interrupted and the reader closed once they end."""
        reader = self._readers()
        if unavailable is not None:  # its reads fail at once, with its own partial answer
            reader.fail(unavailable)
        context = Context(Loaders(reader), request_id, document=operation.document)
        finished = False
        try:
            async with asyncio.timeout_at(deadline), slots:
                result: ExecutionResult = await self.schema.execute(
                    operation.query,
                    variable_values=variables,
                    context_value=context,
                    operation_name=operation.name,
                    allowed_operation_types=ANY_OPERATION,  # operation/ decided what it allows
                )
                version = await reader.version()  # in the same snapshot
            finished = True
        except TimeoutError:
            raise TimedOut from None
        finally:
            if finished:
                await reader.close()
            else:  # timed out, or cancelled: its statements are stopped; closed when they end
                reader.interrupt()
                self._close_later(reader)
        # An error may cancel the fields still running beside it (graphql-core does, where a
        # non-null field's error nulls its parent): what they had fetched by then is timing's,
        # so an answer with errors reports no actual cost.
        return result, None if result.errors else context.usage.objects, version

    def _close_later(self, reader: Reader) -> None:
        task = asyncio.create_task(reader.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def wind_down(self, seconds: float) -> None:
        """Wait (`seconds` at most) for the readers of stopped requests to close, so that
        their connections are back in the pool before it is disposed of."""
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=seconds)
