"""Every list field: a root collection or an edge of `db.mapping`, sliced into one page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from db.mapping import LISTS, list_key
from db.provenance import relation_source
from resolvers.context import Info
from semantics.lists import list_filter, ordering_of, page_window
from semantics.pagination import CursorScope, encode_cursor, fingerprint, page_arguments


@dataclass(frozen=True)
class SliceEdge:
    cursor: str
    row: Any
    link: tuple[str, int] | None
    relation: dict[str, Any] | None  # what the relation rests on; None in a root list


@dataclass(frozen=True)
class Slice:
    edges: list[SliceEdge]
    total: int
    has_next: bool
    has_previous: bool


@dataclass(frozen=True)
class ListInfo:
    """A list of the type map as the schema declares it: its key, item type, order and
    whether it is nullable."""

    key: str
    target: str
    default_order: str
    nullable: bool


def list_info(type_name: str, field_name: str) -> ListInfo:
    """The list `type_name.field_name` (`Query` for root lists); unknown names fail at once."""
    key = list_key(type_name, field_name)
    if key not in LISTS:
        raise LookupError(f"the type map has no list {key}")
    return ListInfo(key, LISTS[key].target, LISTS[key].default_order, LISTS[key].nullable)


async def resolve_list(
    info: Info,
    key: str,
    parent: Any,
    *,
    filter_values: Mapping[str, Any] | None,
    order_field: str | None,
    order_direction: str | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Slice:
    """`key` names a list of the type map: `Program.partners`, or `Query.programs` (whose
    `parent` is None); `parent` is the row whose list it is."""
    spec = LISTS[key]
    filters = list_filter(key, filter_values)
    ordering = ordering_of(key, order_field, order_direction)
    where = CursorScope(fingerprint(key, filters, ordering), "" if parent is None else parent.slug)
    arguments = page_arguments(where, first=first, after=after, last=last, before=before)
    window = page_window(key, ordering, arguments, ("after", "before"))
    loader = info.context.loaders.pages(key, filters, ordering, window)
    page = await loader.load(None if parent is None else parent.id)
    info.context.usage.fetched(len(page.rows))
    link_table = None if spec.link is None else spec.link.subject
    relation = relation_source(spec)
    return Slice(
        edges=[
            SliceEdge(
                cursor=encode_cursor(where, item.key),
                row=item.row,
                link=None
                if link_table is None or item.link_id is None
                else (link_table, item.link_id),
                relation=None if relation is None else relation.of(item),
            )
            for item in page.rows
        ],
        total=page.total,
        has_next=page.has_next,
        has_previous=page.has_previous,
    )
