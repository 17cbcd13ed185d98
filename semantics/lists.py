"""What a list's arguments mean, whichever executor answers: its filter read into the
store's (with the checks types cannot make), its order, and its cursors as places in that
order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.errors import BadUserInput
from db.mapping import LISTS, MAX_SEARCH_LENGTH, TYPES
from db.order import Ordering, Seek, parse_key
from db.queries import ListFilter, Window
from semantics.pagination import PageArguments

_COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")


def _enum_names(values: Any) -> tuple[str, ...] | None:
    """Members as a resolver gets them, or their names as the compiled path reads them."""
    if values is None:
        return None
    return tuple(sorted({getattr(v, "name", str(v)) for v in values}))


def list_filter(key: str, given: Mapping[str, Any] | None) -> ListFilter:
    """Read the `filter` of the list `key` (its fields by the API's names, as the type map
    states them) into the store's, checking values types cannot."""
    if given is None:
        return ListFilter()
    names = TYPES[LISTS[key].target].filter_arguments

    def value(name: str | None) -> Any:
        """The field the map names, as given; None where the list offers no such filter."""
        return None if name is None else given.get(name)

    search = value(names.search)
    named = f"filter.{names.search}"
    if search is not None and len(search) > MAX_SEARCH_LENGTH:
        raise BadUserInput(
            f"`{named}` is longer than {MAX_SEARCH_LENGTH} characters", argument=named
        )
    if search is not None and any(ord(character) < 0x20 for character in search):
        raise BadUserInput(
            f"`{named}` must not contain control characters such as NUL", argument=named
        )
    country = value(names.country)
    if country is not None and not _COUNTRY_CODE.fullmatch(country):
        raise BadUserInput(
            f"`{names.country}` must be an ISO 3166-1 alpha-2 code such as 'US' "
            f"(got {country[:20]!r})",
            argument=f"filter.{names.country}",
        )
    return ListFilter(
        name_contains=search or None,
        kinds=_enum_names(value(names.kind)),
        country_code=None if country is None else country.upper(),
        stated_only=bool(value(names.stated_only)),
    )


def ordering_of(key: str, field: str | None, direction: str | None) -> Ordering:
    """The list's order: `orderBy`'s field and direction by their names, or the list's
    default."""
    return Ordering(
        field=LISTS[key].default_order if field is None else field,
        descending=direction == "DESC",
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
