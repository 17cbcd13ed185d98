"""The response's `data` from the nested statement's one value, and what the query fetched.

The value is the root's array; each object's values sit where the shape says, with its
lists, links and citations nested in it. The builders of `compiled/shape.py` walk it; global
IDs and cursors are encoded by the functions the reference executor uses, and every list
item, citation and linked object is counted where a resolver would have counted it.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from compiled.nested import CitationsShape, LinkShape, ListShape, LookupShape
from compiled.shape import (
    Assembly,
    Builder,
    Constant,
    HitNodeShape,
    LookupListShape,
    Row,
    SearchShape,
    Shape,
)
from semantics.pagination import CursorScope


class Tree(Assembly):
    def __init__(self, shape: Shape, parameters: dict[str, Any], built: dict[int, Builder]):
        super().__init__(parameters, built)
        self.shape = shape

    def data(self, root: Row) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field in self.shape.fields:
            if isinstance(field, Constant):
                data[field.key] = field.value
            elif isinstance(field, ListShape):
                data[field.key] = self.connection(field, root)
            elif isinstance(field, LookupShape):
                data[field.key] = self.lookup(field, root)
            elif isinstance(field, LookupListShape):
                data[field.key] = [self.lookup(item, root) for item in field.items]
            elif isinstance(field, SearchShape):
                data[field.key] = self.search(field, root[field.position] or [])
        return data

    def hit_node(self, part: HitNodeShape, row: Row) -> dict[str, Any]:
        position, shape = part.of(row[1])  # its type's object, in the hit's own array
        return self.object(shape, row[position])

    def lookup(self, field: LookupShape, root: Row) -> dict[str, Any] | None:
        found = None if field.position is None else root[field.position]
        if found is None or field.node is None:
            return None
        self.fetched += 1
        return self.object(field.node, found)

    def link(self, field: LinkShape, row: Row) -> dict[str, Any] | None:
        target = row[field.position]
        if target is None:
            return None
        self.fetched += 1
        return self.object(field.target, target)

    def citations(self, field: CitationsShape, row: Row) -> list[dict[str, Any]]:
        if field.position is None:
            return []
        quotes: list[Row] = row[field.position] or []
        quotes.sort(key=itemgetter(*field.order))
        self.fetched += len(quotes)
        build = self._built[id(field.citation)]
        return [build(self, quote) for quote in quotes]

    def connection(self, field: ListShape, owner: Row) -> dict[str, Any]:
        """A connection from its owner's array (the root's, for a root list)."""
        size: int = self.parameters[field.size_parameter]
        rows: list[Row] = owner[field.position] or []
        if field.backwards:
            rows.reverse()
        more = field.probe is not None and owner[field.probe] > size
        prefix = ""
        if field.key_column is not None and rows:
            parent = "" if field.owner_slug is None else owner[field.owner_slug]
            prefix = CursorScope(self.parameters[field.scope_parameter], parent).prefix
        total = None if field.total is None else owner[field.total]
        page = (rows, total, more and not field.backwards, more and field.backwards)
        return self.connection_value(field.parts, page, field.key_column, prefix)
