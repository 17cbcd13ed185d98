"""Every list field: a root collection or an edge of `db.mapping`, sliced into one page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import BadUserInput
from db.mapping import LISTS, MAX_SEARCH_LENGTH, TYPES, list_key
from db.order import Ordering, Seek, parse_key
from db.queries import ListFilter, Window, relation_source
from resolvers.context import Info
from resolvers.pagination import (
    CursorScope,
    PageArguments,
    encode_cursor,
    fingerprint,
    page_arguments,
)

_COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")


class FilterInput(Protocol):
    """Any schema filter input; fields a list does not offer are simply absent."""


class OrderInput(Protocol):
    field: Any
    direction: Any


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


def _enum_names(values: Any) -> tuple[str, ...] | None:
    if values is None:
        return None
    return tuple(sorted({getattr(v, "name", str(v)) for v in values}))


def _first_given(filter_input: FilterInput, *names: str) -> Any:
    """The value of whichever of these filter fields the input has and the client set."""
    values = (getattr(filter_input, name, None) for name in names)
    return next((value for value in values if value is not None), None)


def list_filter(filter_input: FilterInput | None) -> ListFilter:
    """Read a schema filter input into the store's filter, checking values types cannot."""
    if filter_input is None:
        return ListFilter()
    search = _first_given(filter_input, "name_contains", "title_contains")
    named = (
        "filter.titleContains" if hasattr(filter_input, "title_contains") else "filter.nameContains"
    )
    if search is not None and len(search) > MAX_SEARCH_LENGTH:
        raise BadUserInput(
            f"`{named}` is longer than {MAX_SEARCH_LENGTH} characters", argument=named
        )
    if search is not None and any(ord(character) < 0x20 for character in search):
        raise BadUserInput(
            f"`{named}` must not contain control characters such as NUL", argument=named
        )
    kinds = _first_given(filter_input, "kind", "program_kind")
    country = getattr(filter_input, "country_code", None)
    if country is not None and not _COUNTRY_CODE.fullmatch(country):
        raise BadUserInput(
            f"`countryCode` must be an ISO 3166-1 alpha-2 code such as 'US' (got {country[:20]!r})",
            argument="filter.countryCode",
        )
    return ListFilter(
        name_contains=search or None,
        kinds=_enum_names(kinds),
        country_code=None if country is None else country.upper(),
        stated_only=bool(getattr(filter_input, "stated_only", None)),
    )


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


def ordering_of(key: str, order_input: OrderInput | None) -> Ordering:
    return Ordering(
        field=order_input.field.name if order_input else LISTS[key].default_order,
        descending=bool(order_input and order_input.direction.name == "DESC"),
    )


def page_window(
    key: str, ordering: Ordering, arguments: PageArguments, argument_names: tuple[str, str]
) -> Window:
    """The cursors' keys read as places in the list's order; a key that names no place the
    order could hold is a bad cursor."""
    node = TYPES[LISTS[key].target]
    places: list[Seek | None] = []
    for row_key, name in zip((arguments.after, arguments.before), argument_names, strict=True):
        try:
            places.append(None if row_key is None else parse_key(node, ordering, row_key))
        except ValueError:
            raise BadUserInput(f"`{name}` is not a valid cursor", argument=name) from None
    return Window(arguments.size, arguments.backwards, places[0], places[1])


async def resolve_list(
    info: Info,
    key: str,
    parent: Any,
    *,
    filter_input: FilterInput | None,
    order_input: OrderInput | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Slice:
    """`key` names a list of the type map: `Program.partners`, or `Query.programs` (whose
    `parent` is None); `parent` is the row whose list it is."""
    spec = LISTS[key]
    filters = list_filter(filter_input)
    ordering = ordering_of(key, order_input)
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
