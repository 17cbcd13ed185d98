"""The reads the loaders batch: rows by key, citations by subject, and pages of lists.

Each function is one SQL statement whatever the number of keys, which is what keeps a nested
query's statement count tied to its depth rather than to the rows it touches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.keys import search_text
from db.mapping import (
    CITATION,
    LISTS,
    TYPES,
    Condition,
    ListEdge,
    NodeType,
    citation_order,
    citation_subject,
    relation_field,
    table_of,
)
from db.order import (
    Ordering,
    Seek,
    bytewise,
    order_by,
    row_key,
    seek,
    seek_parameters,
    sort_column,
)
from db.provenance import LINK_PROVENANCE, STATED, unstated_pattern


@dataclass(frozen=True)
class ListFilter:
    """Filters every list understands; each entity's map says how they apply to it."""

    name_contains: str | None = None
    kinds: tuple[str, ...] | None = None
    country_code: str | None = None
    stated_only: bool = False


@dataclass(frozen=True)
class Window:
    """A page of a list: the items after `after` and before `before`, then the first or
    last `size` of them (`backwards` for last)."""

    size: int
    backwards: bool = False
    after: Seek | None = None
    before: Seek | None = None

    def shape(self) -> tuple[bool, bool | None, bool | None]:
        """What decides the statement's SQL; the places themselves are bound parameters."""
        return (
            self.backwards,
            None if self.after is None else self.after.value is None,
            None if self.before is None else self.before.value is None,
        )

    def parameters(self, prefix: str = "") -> dict[str, Any]:
        """The places and sizes, named as the page statements bind them (`prefix` sets a
        list's apart in a statement that holds several)."""
        found: dict[str, Any] = {
            f"{prefix}limit": self.size + 1,  # one more tells whether more follow
            f"{prefix}size": self.size,
        }
        for name, place in (("after", self.after), ("before", self.before)):
            if place is not None:
                found |= seek_parameters(f"{prefix}{name}", place)
        return found


@dataclass(frozen=True)
class Projection:
    """What a page's rows carry: which of the items' columns (None: all of them), whether
    each row's cursor key is computed, and whether the rows come back in list order. The
    loaders take the default; the compiled executor asks for what its response shows."""

    columns: tuple[str, ...] | None = None
    keyed: bool = True
    ordered: bool = True
    relation: bool = False  # each row carries its link's provenance (`edge_provenance`)

    def of(self, items: FromClause, sort: Any) -> list[Any]:
        """The item columns to select: those asked for, and what orders and identifies rows."""
        if self.columns is None:
            return list(items.c)
        names = dict.fromkeys(("id", "slug", sort.key, *self.columns))
        return [items.c[name] for name in names]

    def key(self, items: FromClause, sort: Any, dialect: str) -> Any:
        return (row_key(items.c.slug, sort, dialect) if self.keyed else null()).label("edge_key")


ALL = Projection(relation=True)


@dataclass(frozen=True)
class PageRow:
    row: Any
    key: str
    link_id: int | None
    link_provenance: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[PageRow]
    total: int
    has_next: bool
    has_previous: bool


LIKE_ESCAPE = "/"


def filter_parameters(list_filter: ListFilter, prefix: str = "") -> dict[str, Any]:
    """The filter's values, named as `filter_conditions` binds them: a statement made for one
    filter serves every filter of the same shape (`filter_shape`) with these."""
    found: dict[str, Any] = {}
    if list_filter.name_contains:
        needle = search_text(list_filter.name_contains)
        for special in (LIKE_ESCAPE, "%", "_"):  # as contains(autoescape=True) escapes
            needle = needle.replace(special, LIKE_ESCAPE + special)
        found[f"{prefix}search"] = f"%{needle}%"
    for index, kind in enumerate(list_filter.kinds or ()):
        found[f"{prefix}kind{index}"] = kind
    if list_filter.country_code is not None:
        found[f"{prefix}country"] = list_filter.country_code
    return found


def filter_shape(list_filter: ListFilter) -> ListFilter:
    """What of a filter shapes its SQL: which filters are given, and how many kinds."""
    return ListFilter(
        name_contains="?" if list_filter.name_contains else None,
        kinds=None if list_filter.kinds is None else ("?",) * len(list_filter.kinds),
        country_code=None if list_filter.country_code is None else "??",
        stated_only=list_filter.stated_only,
    )


def filter_conditions(
    node: NodeType, table: FromClause, list_filter: ListFilter, prefix: str = ""
) -> list[Condition]:
    """The filter as conditions on `table` (the node's own table or an alias of it), its
    values bound as `filter_parameters` names them."""
    values = {
        name: bindparam(name, value=value, type_=String())
        for name, value in filter_parameters(list_filter, prefix).items()
    }
    conditions: list[Condition] = []
    filters = node.filters
    if f"{prefix}search" in values and filters.search:
        pattern = values[f"{prefix}search"]
        conditions.append(table.c.search_text.like(pattern, escape=LIKE_ESCAPE))
    if list_filter.kinds is not None and filters.kind is not None:
        kinds = tuple(values[f"{prefix}kind{i}"] for i in range(len(list_filter.kinds)))
        conditions.append(filters.kind(table, kinds))
    if f"{prefix}country" in values and filters.country is not None:
        conditions.append(filters.country(table, values[f"{prefix}country"]))
    return conditions


def _seeks(
    sort: Any,
    slug: Any,
    ordering: Ordering,
    window_shape: WindowShape,
    dialect: str,
    prefix: str,
) -> list[Condition]:
    _, after_empty, before_empty = window_shape
    conditions: list[Condition] = []
    for name, empty in (("after", after_empty), ("before", before_empty)):
        if empty is not None:
            conditions.append(
                seek(
                    sort,
                    slug,
                    ordering,
                    dialect,
                    name=f"{prefix}{name}",
                    after=name == "after",
                    empty_value=empty,
                )
            )
    return conditions


async def fetch_pages(
    session: AsyncSession,
    list_key: str,
    *,
    parent_ids: Sequence[int] | None,
    list_filter: ListFilter,
    ordering: Ordering,
    window: Window,
) -> dict[int | None, Page]:
    """One page per parent (or the single root page, keyed None) in one statement.

    `list_key` names a list of the map: `Program.partners`, or `Query.programs` for a root list.
    """
    dialect = session.get_bind().dialect.name
    spec = LISTS[list_key]
    query = (_root_page_query if spec.is_root else _page_query)(
        list_key, list_filter, ordering, window.shape(), dialect
    )
    found = await session.execute(
        query, {"parent_ids": list(parent_ids or []), **window.parameters()}
    )
    grouped: dict[int | None, list[Any]] = defaultdict(list)
    totals: dict[int | None, int] = {}
    for row in found.all():
        parent = None if spec.is_root else row.edge_parent
        totals[parent] = row.edge_total
        if row.edge_key is not None and (spec.is_root or row.edge_in):
            grouped[parent].append(row)
    keys: Iterable[int | None] = [None] if spec.is_root else (parent_ids or [])
    return {key: _page(grouped.get(key, []), totals.get(key, 0), window) for key in keys}


WindowShape = tuple[bool, bool | None, bool | None]


@lru_cache(maxsize=512)
def _root_page_query(
    list_key: str, list_filter: ListFilter, ordering: Ordering, shape: WindowShape, dialect: str
) -> Select[Any]:
    return root_page(list_key, list_filter, ordering, shape, dialect)


@lru_cache(maxsize=512)
def _page_query(
    list_key: str, list_filter: ListFilter, ordering: Ordering, shape: WindowShape, dialect: str
) -> Select[Any]:
    parent_ids: Any = (
        select(func.unnest(cast(bindparam("parent_ids"), ARRAY(Integer))))
        if dialect == "postgresql"
        else bindparam("parent_ids", expanding=True)
    )
    return ranked_pages(list_key, list_filter, ordering, shape, dialect, parent_ids)


def page_query(
    list_key: str,
    list_filter: ListFilter,
    ordering: Ordering,
    shape: WindowShape,
    dialect: str,
    *,
    parent: Any = None,
    prefix: str = "",
    projection: Projection = ALL,
    limit: str | int = "limit",
    ranked: bool = False,
    alias: str = "items",
) -> Select[Any]:
    """One page of a list, in fetch order (reversed for a last page), at most `<prefix><limit>`
    rows (or `limit` rows, written into the statement, when it is a number): the root list's
    (`parent` None), or the items of one parent (`parent`: its id, a bound value or a column
    of an enclosing query). Rows carry the projection's columns, their
    cursor key (`edge_key`) and the link row they come through (`edge_link`, else NULL).
    `ranked` adds each row's place in the page (`edge_rank`); `alias` names the items' table
    under a parent. Every page statement of both executors is built here."""
    spec = LISTS[list_key]
    node = TYPES[spec.target]
    items = node.table if parent is None else node.table.alias(alias)
    sort = sort_column(node, items, ordering)
    source, parent_key, link_id = (
        (items, None, null()) if parent is None else _edge_source(spec, items)
    )
    filters = filter_conditions(node, items, list_filter, prefix)
    filters += stated_conditions(spec, items, link_id, list_filter)
    if parent_key is not None:
        filters.insert(0, parent_key == parent)
    fetch_order = order_by(sort, items.c.slug, ordering, dialect, reverse=shape[0])
    # A number is written as such: PostgreSQL's plan made once for a statement then knows how
    # few rows it takes (with a parameter it assumes a tenth of the table).
    rows: Any = literal_column(str(limit)) if isinstance(limit, int) else bindparam(prefix + limit)
    columns = [
        *projection.of(items, sort),
        link_id.label("edge_link"),
        link_provenance(spec, link_id, projection).label(LINK_PROVENANCE),
        projection.key(items, sort, dialect),
    ]
    if ranked:
        columns.append(func.row_number().over(order_by=fetch_order).label("edge_rank"))
    keyed = select(*columns).select_from(source)
    if parent is None and shape == (False, False, None) and not ordering.descending:
        assert not ranked, "a root page is ranked by root_page"
        return _ranged_page(keyed, sort, items.c.slug, filters, ordering, dialect, prefix, rows)
    return (
        keyed.where(*filters, *_seeks(sort, items.c.slug, ordering, shape, dialect, prefix))
        .order_by(*fetch_order)
        .limit(rows)
    )


def list_total(
    list_key: str,
    list_filter: ListFilter,
    *,
    parent: Any = None,
    prefix: str = "",
    alias: str = "counted",
) -> Select[Any]:
    """How many items the filtered list holds (for one parent, as in `page_query`)."""
    spec = LISTS[list_key]
    node = TYPES[spec.target]
    items = node.table if parent is None else node.table.alias(alias)
    source, parent_key, link_id = (
        (items, None, null()) if parent is None else _edge_source(spec, items)
    )
    filters = filter_conditions(node, items, list_filter, prefix)
    filters += stated_conditions(spec, items, link_id, list_filter)
    if parent_key is not None:
        filters.insert(0, parent_key == parent)
    return select(func.count().label("edge_total")).select_from(source).where(*filters)


def root_page(
    list_key: str,
    list_filter: ListFilter,
    ordering: Ordering,
    shape: WindowShape,
    dialect: str,
    prefix: str = "",
    with_total: bool = True,
    projection: Projection = ALL,
) -> Select[Any]:
    """A root list's page: seek to the cursor, take one more than the page, and count the
    whole filtered list beside it (an empty page still has a total) unless `with_total` is
    off. Both executors use it; `prefix` names its parameters (`<prefix>limit`,
    `<prefix>after_slug`, ...) apart."""
    node = TYPES[LISTS[list_key].target]
    sort_key = sort_column(node, node.table, ordering).key
    page = page_query(
        list_key, list_filter, ordering, shape, dialect, prefix=prefix, projection=projection
    ).subquery("page")
    in_order = order_by(page.c[sort_key], page.c.slug, ordering, dialect, reverse=shape[0])
    rank = func.row_number().over(order_by=in_order).label("edge_rank")
    if not with_total:
        found = select(null().label("edge_total"), page, rank)
    else:
        counted = list_total(list_key, list_filter, prefix=prefix).subquery("counted")
        found = select(counted.c.edge_total, page, rank).select_from(
            counted.outerjoin(page, true())
        )
    return found.order_by(*in_order) if projection.ordered else found


def _ranged_page(
    keyed: Select[Any],
    sort: Any,
    slug: Any,
    filters: list[Condition],
    ordering: Ordering,
    dialect: str,
    prefix: str,
    limit: Any,
) -> Select[Any]:
    """The page after a place with a value, in ascending order, as an index range: the rows
    with (value, slug) past the place's, then the empty values, which sort last. (`seek`'s
    OR of the two is the same set, but no index range answers an OR, so a store would walk
    the whole list up to the place.)"""
    place = tuple_(
        bindparam(f"{prefix}after_value", type_=sort.type),
        bindparam(f"{prefix}after_slug", type_=String()),
    )
    past = tuple_(bytewise(sort, dialect), bytewise(slug, dialect)) > place
    fetch_order = order_by(sort, slug, ordering, dialect)
    branches = [
        keyed.where(*filters, condition).order_by(*fetch_order).limit(limit).subquery()
        for condition in (past, sort.is_(None))
    ]
    both = union_all(*(select(branch) for branch in branches)).subquery("both")
    in_order = order_by(both.c[sort.key], both.c.slug, ordering, dialect)
    return select(both).order_by(*in_order).limit(limit)


def ranked_pages(
    list_key: str,
    list_filter: ListFilter,
    ordering: Ordering,
    shape: WindowShape,
    dialect: str,
    parent_ids: Any,
    prefix: str = "",
    with_total: bool = True,
    projection: Projection = ALL,
) -> Select[Any]:
    """Pages of an edge for many parents (`parent_ids`: bound ids, or a select of them).

    Every parent comes back with its total (unless `with_total` is off) even when its page is
    empty. Both executors use it; `prefix` names its parameters apart. PostgreSQL reads each
    parent's own page through its index (a lateral join); SQLite, which has none, ranks
    each parent's items with a window.
    """
    if dialect == "postgresql":
        return _lateral_pages(
            list_key, list_filter, ordering, shape, parent_ids, prefix, with_total, projection
        )
    spec = LISTS[list_key]
    node = TYPES[spec.target]
    items = node.table
    sort = sort_column(node, items, ordering)
    source, parent, link_id = _edge_source(spec, items)
    seeks = _seeks(sort, items.c.slug, ordering, shape, dialect, prefix)
    in_window: Any = case((and_(*seeks), 1), else_=0) if seeks else literal(1)
    rank = func.row_number().over(
        partition_by=[parent, in_window],
        order_by=order_by(sort, items.c.slug, ordering, dialect, reverse=shape[0]),
    )
    total: Any = func.count().over(partition_by=[parent]) if with_total else null()
    inner = (
        select(
            *projection.of(items, sort),
            parent.label("edge_parent"),
            link_id.label("edge_link"),
            link_provenance(spec, link_id, projection).label(LINK_PROVENANCE),
            projection.key(items, sort, dialect),
            total.label("edge_total"),
            in_window.label("edge_in"),
            rank.label("edge_rank"),
        )
        .select_from(source)
        .where(parent.in_(parent_ids))
        .where(*filter_conditions(node, items, list_filter, prefix))
        .where(*stated_conditions(spec, items, link_id, list_filter))
        .subquery()
    )
    c = inner.c
    limit: Any = bindparam(f"{prefix}limit")
    found = select(inner).where(or_(c.edge_rank == 1, and_(c.edge_in == 1, c.edge_rank <= limit)))
    if not projection.ordered:
        return found
    return found.order_by(c.edge_parent, c.edge_in.desc(), c.edge_rank)


def stated_conditions(
    spec: ListEdge, items: FromClause, link_id: Any, list_filter: ListFilter
) -> list[Condition]:
    """`statedOnly`: the item is stated, and so is its relation to the parent, the link row
    (`link_id` is its id column) or the item's field that names the parent."""
    if not list_filter.stated_only or not TYPES[spec.target].cited:
        return []
    stated: Any = literal_column(f"'{STATED}'")  # constants in the text: no parameter to bind
    conditions: list[Condition] = [items.c.basis == stated]
    if spec.link is not None:
        conditions.append(link_id.table.c.basis == stated)
    field_name = relation_field(spec)
    if field_name is not None:
        pattern: Any = literal_column(f"'{unstated_pattern(field_name)}'")
        conditions.append(items.c.unstated.not_like(pattern))
    return conditions


def link_provenance(spec: ListEdge, link_id: Any, projection: Projection) -> Any:
    """The link row's provenance, where rows carry it and the list has a link."""
    if not projection.relation or spec.link is None:
        return null()
    return link_id.table.c.provenance


def _edge_source(spec: ListEdge, items: FromClause) -> tuple[FromClause, Any, Any]:
    """An edge's rows: (FROM clause, the parent key column, the link row's id or NULL)."""
    if spec.link is not None:
        links = table_of(spec.link.model).alias()
        source = links.join(items, links.c[spec.link.target_key.key] == items.c.id)
        return source, links.c[spec.link.parent_key.key], links.c.id
    return items, items.c[spec.parent_column.key], null()


def _lateral_pages(
    list_key: str,
    list_filter: ListFilter,
    ordering: Ordering,
    shape: WindowShape,
    parent_ids: Any,
    prefix: str,
    with_total: bool,
    projection: Projection,
) -> Select[Any]:
    """Each parent's page read on its own: seek, order and limit per parent, so a parent with
    a million items costs what one with twenty does (given the keyset indexes)."""
    parents = parent_ids.distinct().subquery("parents")  # a parent may be shown twice
    parent_id = parents.c[0]
    arguments = (list_key, list_filter, ordering, shape, "postgresql")
    page = page_query(
        *arguments, parent=parent_id, prefix=prefix, projection=projection, ranked=True
    ).lateral("page")
    total: Any = null()
    if with_total:
        total = (
            list_total(list_key, list_filter, parent=parent_id, prefix=prefix)
            .correlate(parents)
            .scalar_subquery()
        )
    # A parent with an empty page still has a row for its total; without one it needs none.
    joined = parents.outerjoin(page, true()) if with_total else parents.join(page, true())
    found = select(
        parent_id.label("edge_parent"),
        page,
        total.label("edge_total"),
        literal(1).label("edge_in"),
    ).select_from(joined)
    return found.order_by(parent_id, page.c.edge_rank) if projection.ordered else found


def _page(found: list[Any], total: int, window: Window) -> Page:
    """The window's rows in list order; the one extra row fetched says more lie beyond."""
    more = len(found) > window.size
    found = found[: window.size]
    if window.backwards:
        found.reverse()
    return Page(
        rows=[
            PageRow(
                row,
                row.edge_key,
                getattr(row, "edge_link", None),
                getattr(row, LINK_PROVENANCE, None),
            )
            for row in found
        ],
        total=total,
        has_next=more and not window.backwards,
        has_previous=more and window.backwards,
    )


async def fetch_by_keys(
    session: AsyncSession, node: NodeType, column: str, keys: Sequence[Any]
) -> dict[Any, Any]:
    """Rows of `node`'s table whose `column` is one of `keys`, by that column's value."""
    table = node.table
    query = select(table).where(table.c[column].in_(keys)).order_by(table.c.id)
    found: dict[Any, Any] = {}
    for row in (await session.execute(query)).all():  # the first where a key is shared
        found.setdefault(getattr(row, column), row)
    return found


async def fetch_citations(
    session: AsyncSession, subjects: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], list[Any]]:
    """Citations of many subjects (entity or link rows), in the order they were extracted."""
    citations = CITATION.table
    query = (
        select(citations)
        .where(tuple_(*citation_subject(citations)).in_(subjects))
        .order_by(*citation_order(citations))
    )
    grouped: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for citation in (await session.execute(query)).all():
        grouped[(citation.subject_type, citation.subject_id)].append(citation)
    return grouped
