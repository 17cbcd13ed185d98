"""What a list's arguments mean, whichever executor answers: its filter read into the
store's (with the checks types cannot make), its order, and its cursors as places in that
order."""

from __future__ import annotations

import re
from typing import Any, Protocol

from core.errors import BadUserInput
from db.mapping import LISTS, MAX_SEARCH_LENGTH, TYPES
from db.order import Ordering, Seek, parse_key
from db.queries import ListFilter, Window
from semantics.pagination import PageArguments

_COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")


class FilterInput(Protocol):
    """Any schema filter input; fields a list does not offer are simply absent."""


class OrderInput(Protocol):
    field: Any
    direction: Any


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
