"""Relay cursor connections, and the one factory that declares every list field.

`connection_field("Program", "partners", description=...)` declares the list the type map
names `Program.partners`: its item type, default order and arguments (filter, orderBy,
first/after/last/before) come from the map and are the same on every list; it resolves
through `resolvers.lists.resolve_list`. An unknown list fails when the schema is imported.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from core.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from resolvers.citations import resolve_citations
from resolvers.context import Info
from resolvers.lists import Slice, list_info, resolve_list
from schema.inputs import FILTERS, ORDERS, given_fields
from schema.provenance import Provenance
from schema.signatures import INFO, NODE_TYPES_MODULE, ROOT, typed_resolver
from schema.sources import Citation

T = TypeVar("T")


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="With `first`: more items follow this page (before `before`, if given)."
    )
    has_previous_page: bool = strawberry.field(
        description="With `last`: more items precede this page (after `after`, if given)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


@strawberry.type(description="An item of a list, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` or `before` to page from here.")
    node: T = strawberry.field(description="The item.")
    link: strawberry.Private[tuple[str, int] | None]
    relation: strawberry.Private[dict[str, Any] | None]

    @strawberry.field(
        description="Quotes that state the relation this edge stands for (a program's partner, "
        "a partner's location, ...). Empty where membership follows from the item's own "
        "fields, as in root lists."
    )
    async def citations(self, info: Info) -> list[Citation]:
        return [Citation.from_row(c) for c in await resolve_citations(info, self.link)]

    @strawberry.field(
        description="What the relation this edge stands for rests on: the link's basis, or in "
        "a list through the item's own field (a company's programs), that field's. Null in "
        "root lists and lists of uncited items."
    )
    def provenance(self) -> Provenance | None:
        return None if self.relation is None else Provenance.of(self.relation)


@strawberry.type(description="A page of a list, with the list's total size.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's items with their cursors.")
    nodes: list[T] = strawberry.field(description="The page's items, when cursors are not needed.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(
        description="Number of items in the whole list (after filters), not just this page."
    )

    @classmethod
    def from_slice(cls, page: Slice, node: Callable[[Any], T]) -> Connection[T]:
        edges = [
            Edge(cursor=e.cursor, node=node(e.row), link=e.link, relation=e.relation)
            for e in page.edges
        ]
        return cls(
            edges=edges,
            nodes=[e.node for e in edges],
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total,
        )


_ARGUMENT_DOCS = {
    "first": f"Items from the start (after `after`); 0 to {MAX_PAGE_SIZE}. "
    f"Default {DEFAULT_PAGE_SIZE} when neither `first` nor `last` is given.",
    "after": "Start after the edge with this cursor.",
    "last": f"Items from the end (before `before`); 0 to {MAX_PAGE_SIZE}. Not with `first`.",
    "before": "End before the edge with this cursor.",
}


def connection_field(type_name: str, field_name: str, *, description: str) -> Any:
    """The list `type_name.field_name` of the type map (`Query` for a root list)."""
    spec = list_info(type_name, field_name)
    node_type, default_order = spec.target, spec.default_order
    filter_type, order_type = FILTERS[node_type], ORDERS[node_type]
    is_root = type_name == "Query"

    async def resolve(root: Any, info: Info, **arguments: Any) -> Any:
        filter_input, order_input = arguments.get("filter"), arguments.get("order_by")
        page = await resolve_list(
            info,
            spec.key,
            None if is_root else root.row,
            filter_values=None if filter_input is None else given_fields(filter_input),
            order_field=None if order_input is None else order_input.field.name,
            order_direction=None if order_input is None else order_input.direction.name,
            first=arguments.get("first"),
            after=arguments.get("after"),
            last=arguments.get("last"),
            before=arguments.get("before"),
        )
        node = getattr(sys.modules[NODE_TYPES_MODULE], node_type)
        return Connection.from_slice(page, node.from_row)

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [ROOT, INFO]
    parameters.append(
        inspect.Parameter(
            "filter",
            keyword,
            default=None,
            annotation=Annotated[
                filter_type | None,
                strawberry.argument(description="Only items matching all given filters."),
            ],
        )
    )
    parameters.append(
        inspect.Parameter(
            "order_by",
            keyword,
            default=None,
            annotation=Annotated[
                order_type | None,
                strawberry.argument(
                    description=f"Sort order; by {default_order} ascending if unset."
                ),
            ],
        )
    )
    for name, kind in (("first", int), ("after", str), ("last", int), ("before", str)):
        parameters.append(
            inspect.Parameter(
                name,
                keyword,
                default=None,
                annotation=Annotated[
                    kind | None, strawberry.argument(description=_ARGUMENT_DOCS[name])
                ],
            )
        )
    # The node type is resolved by name once schema.types is loaded; that lets types refer
    # to each other in both directions without import cycles. Nullable as the type map says.
    returns = f"Connection[{node_type}] | None" if spec.nullable else f"Connection[{node_type}]"
    typed_resolver(resolve, parameters, returns, module=NODE_TYPES_MODULE)
    return strawberry.field(resolver=resolve, description=description)
