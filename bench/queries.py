"""The benchmark's queries, in our schema and in PostGraphile's equivalents.

Equivalence: the same rows where both can say so. Root lists and a company's programs are
ordered by name then slug in both (our default order; `orderBy: [SORT_KEY_ASC, SLUG_ASC]` for
PostGraphile). Partners and locations are reached through the link tables in PostGraphile,
which orders them by the link's primary key (it cannot order by the target's name without
plugins), so those levels return the same number of rows, not always the same ones. Our kind
filter is PostGraphile's `condition: {kind: ...}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from graphql import get_introspection_query

from bench.generate import DOMINANT_KIND
from bench.peer_schema import PeerNames

SEED_QUERIES = ("traversal", "node", "introspection")
LARGE_QUERIES = ("traversal-10", "page-1", "page-500k")
PAGE_SIZE = 20


@dataclass(frozen=True)
class Query:
    name: str
    text: str

    @property
    def body(self) -> bytes:
        """Exactly the bytes every client sends (wrk, the checks, the floor's lookup)."""
        return json.dumps({"query": self.text}, separators=(",", ":")).encode()


def _ours_traversal(companies: int, first: int) -> str:
    return (
        f"{{ companies(first: {companies}) {{ nodes {{ id name "
        f"programs(first: {first}) {{ nodes {{ id name kind "
        f"partners(first: {first}) {{ nodes {{ id name "
        f"locations(first: {first}) {{ nodes {{ id name kind countryCode }} }} }} }} }} }} }} }} }}"
    )


def _ours_page(after: str | None) -> str:
    after_argument = "" if after is None else f', after: "{after}"'
    return (
        f"{{ programs(filter: {{kind: [{DOMINANT_KIND}]}}, first: {PAGE_SIZE}{after_argument}) "
        "{ nodes { id slug name kind } } }"
    )


def ours_seed(node_id: str) -> list[Query]:
    return [
        Query("traversal", _ours_traversal(5, 20)),
        Query("node", f'{{ node(id: "{node_id}") {{ id ... on Program {{ slug name kind }} }} }}'),
        Query("introspection", get_introspection_query()),
    ]


def ours_large(after_row_cursor: str) -> list[Query]:
    return [
        Query("traversal-10", _ours_traversal(10, 10)),
        Query("page-1", _ours_page(None)),
        Query("page-500k", _ours_page(after_row_cursor)),
    ]


def _peer_order(names: PeerNames) -> str:
    return f"orderBy: [{names.by_name}, {names.by_slug}]"


def _peer_traversal(n: PeerNames, companies: int, first: int) -> str:
    order = _peer_order(n)
    return (
        f"{{ {n.all_companies}(first: {companies}, {order}) {{ nodes {{ {n.node_id} name "
        f"{n.company_programs}(first: {first}, {order}) {{ nodes {{ {n.node_id} name kind "
        f"{n.program_links}(first: {first}) {{ nodes {{ {n.link_partner} {{ {n.node_id} name "
        f"{n.partner_links}(first: {first}) {{ nodes {{ {n.link_location} "
        f"{{ {n.node_id} name kind countryCode }} }} }} }} }} }} }} }} }} }} }}"
    )


def peer_page(n: PeerNames, *, after: str | None = None, offset: int | None = None) -> str:
    paging = f"first: {PAGE_SIZE}"
    if after is not None:
        paging += f', after: "{after}"'
    if offset is not None:
        paging = f"first: 1, offset: {offset}"
    return (
        f'{{ {n.all_programs}(condition: {{kind: "{DOMINANT_KIND}"}}, {_peer_order(n)}, '
        f"{paging}) {{ edges {{ cursor }} nodes {{ {n.node_id} slug name kind }} }} }}"
    )


def peer_node_id_lookup(n: PeerNames, slug: str) -> str:
    return f'{{ {n.all_programs}(condition: {{slug: "{slug}"}}) {{ nodes {{ {n.node_id} }} }} }}'


def peer_seed(n: PeerNames, node_id: str) -> list[Query]:
    node = (
        f'{{ node({n.node_argument}: "{node_id}") {{ {n.node_id} '
        "... on Program { slug name kind } } }"
    )
    return [
        Query("traversal", _peer_traversal(n, 5, 20)),
        Query("node", node),
        Query("introspection", get_introspection_query()),
    ]


def peer_large(n: PeerNames, after_row_cursor: str) -> list[Query]:
    def page(after: str | None) -> str:
        # edges { cursor } was only needed to find the cursor; the timed page asks for nodes.
        return peer_page(n, after=after).replace("edges { cursor } ", "")

    return [
        Query("traversal-10", _peer_traversal(n, 10, 10)),
        Query("page-1", page(None)),
        Query("page-500k", page(after_row_cursor)),
    ]
