"""Schema objects built from rows, and single links: both read the type map.

A type's `from_row` fills the fields the map reads from columns (its enum members by name)
and its global ID; `link_field("Program", "company", ...)` declares the map's single link with
the nullability of its foreign key. Unknown names fail when the schema is imported.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Optional, Self

import orjson
import strawberry
from strawberry.types import get_object_definition

from db.mapping import reference
from resolvers.context import Info
from resolvers.nodes import resolve_reference
from resolvers.rows import global_id, has_global_id, stored_fields, stored_lists
from schema.signatures import INFO, NODE_TYPES_MODULE, ROOT, typed_resolver
from semantics.names import API_NAMES


class FromRow:
    """A type whose plain fields come from its row; it declares `pk` and `row` as private
    fields (strawberry.Private), which resolvers of its lists and links read."""

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(**_reader(cls)(row))


def _plan_reader(cls: type) -> Callable[[Any], dict[str, Any]]:
    """The values of `cls`'s fields for a row, planned from the map (once per type: `_reader`)."""
    type_name = cls.__name__
    python_name = {
        API_NAMES.from_field(f): f.python_name
        for f in get_object_definition(cls, strict=True).fields
    }
    plain = [(python_name[s.field], s.column) for s in stored_fields(type_name) if not s.enum]
    enumerated = [
        (python_name[s.field], s.column, s.enum) for s in stored_fields(type_name) if s.enum
    ]
    names = [(python_name[s.field], s.column) for s in stored_lists(type_name)]
    with_id = has_global_id(type_name)

    def read(row: Any) -> dict[str, Any]:
        values = {name: getattr(row, column) for name, column in plain}
        for name, column in names:
            values[name] = orjson.loads(getattr(row, column))
        for name, column, enum in enumerated:
            stored = getattr(row, column)
            values[name] = None if stored is None else enum[stored]
        if with_id:
            values["id"] = strawberry.ID(global_id(type_name, row))
        values["pk"] = row.id
        values["row"] = row
        return values

    return read


# Typed as what it takes: mypy takes no class object for functools.cache's Hashable argument.
_reader: Callable[[type], Callable[[Any], dict[str, Any]]] = cache(_plan_reader)


def link_field(
    type_name: str,
    field_name: str,
    *,
    description: str,
    module: str = NODE_TYPES_MODULE,
    lazy: bool = False,
) -> Any:
    """The map's single link `type_name.field_name`: null where its foreign key may be.

    The target type is found by name in `module` once it is loaded, as connection fields
    find theirs, so types can link to each other in both directions. A type declared before
    `module` is loaded (a document's publisher) names its target `lazy`.
    """
    spec = reference(type_name, field_name)
    target = spec.target

    async def resolve(root: Any, info: Info) -> Any:
        row = await resolve_reference(info, spec, root.row)
        return None if row is None else getattr(sys.modules[module], target).from_row(row)

    returns: Any = f"{target} | None" if spec.nullable else target
    if lazy:
        named = Annotated[target, strawberry.lazy(module)]  # type: ignore[valid-type]
        returns = Optional[named] if spec.nullable else named  # noqa: UP045 (a lazy type)
    # a lazy target is found by strawberry.lazy, not in the resolver's module
    typed_resolver(resolve, [ROOT, INFO], returns, module=None if lazy else module)
    return strawberry.field(resolver=resolve, description=description)
