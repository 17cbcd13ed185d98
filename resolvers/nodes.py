"""Lookups by global ID, by slug, and single-object links (`Program.company`)."""

from __future__ import annotations

import asyncio
from typing import Any

from core.errors import BadUserInput
from db.mapping import REFETCHABLE, TYPES, Reference
from resolvers.context import Info
from semantics.ids import decode_node_id, ids_in_range, is_slug


async def resolve_by_slug(info: Info, type_name: str, slug: str) -> Any:
    """The row with this slug; None without asking the store when it cannot be a slug."""
    if not is_slug(slug):
        return None
    return _counted(info, await info.context.loaders.by_slug(REFETCHABLE[type_name]).load(slug))


def _counted(info: Info, row: Any) -> Any:
    if row is not None:
        info.context.usage.fetched(1)
    return row


async def _load(info: Info, type_name: str, slug: str) -> tuple[str, Any] | None:
    row = await resolve_by_slug(info, type_name, slug)
    return None if row is None else (type_name, row)


async def resolve_node(info: Info, global_id: str) -> tuple[str, Any] | None:
    """The (type name, row) an ID stands for; None when it names nothing (any more)."""
    return await _load(info, *decode_node_id(global_id, "id"))


NodeOrError = tuple[str, Any] | None | BadUserInput


async def resolve_nodes(info: Info, global_ids: list[str]) -> list[NodeOrError]:
    """Each ID's (type name, row), None where it names nothing, and the error refusing an ID
    that is none at its own place: the list's other IDs are answered (an item of a list
    completes its own error, and is null)."""
    checked = ids_in_range(global_ids)
    return list(await asyncio.gather(*(_found(info, global_id) for global_id in checked)))


async def _found(info: Info, global_id: str) -> NodeOrError:
    try:
        key = decode_node_id(global_id, "ids")
    except BadUserInput as refused:
        return refused
    return await _load(info, *key)


async def resolve_reference(info: Info, link: Reference, row: Any) -> Any:
    """The row a foreign key points at, e.g. `Program.company`; None when the key is empty."""
    key = getattr(row, link.attribute)
    if key is None:
        return None
    return _counted(info, await info.context.loaders.by_id(TYPES[link.target]).load(key))
