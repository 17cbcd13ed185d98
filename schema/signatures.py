"""Resolvers whose arguments and return type are known only when the schema is built (a
list's filter type, a link's target): their signatures are written here, as Strawberry reads
them.

A return type named as a string (`"Connection[Program]"`) is looked up by Strawberry in the
resolver's module: `module=NODE_TYPES_MODULE` has it found among the node types once
schema.types is loaded, so types can refer to each other in both directions without import
cycles.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from resolvers.context import Info

NODE_TYPES_MODULE = "schema.types"

ROOT = inspect.Parameter("root", inspect.Parameter.POSITIONAL_OR_KEYWORD)
INFO = inspect.Parameter("info", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Info)

F = TypeVar("F", bound=Callable[..., Any])


def typed_resolver(
    resolve: F, parameters: Sequence[inspect.Parameter], returns: Any, *, module: str | None = None
) -> F:
    """`resolve`, declared to Strawberry as taking `parameters` and returning `returns`; its
    string annotations read in `module` where given (else in its own)."""
    if module is not None:
        resolve.__module__ = module
    resolve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        parameters, return_annotation=returns
    )
    resolve.__annotations__ = {
        p.name: p.annotation for p in parameters if p.annotation is not inspect.Parameter.empty
    } | {"return": returns}
    return resolve
