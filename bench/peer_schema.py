"""Field names of a PostGraphile schema, found by introspection rather than assumed.

PostGraphile 4 and 5 name the same tables' fields differently (`nodeId` vs `id`, inflection
changes); each role below is found by what a field returns, and must match exactly one field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TypeMap = dict[str, dict[str, Any]]


class SchemaMismatch(Exception):
    """The peer's schema does not offer a field the benchmark needs, or offers several."""


def _named(type_ref: dict[str, Any]) -> dict[str, Any]:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref


def _fields(types: TypeMap, type_name: str) -> list[dict[str, Any]]:
    return list(types[type_name].get("fields") or [])


def _connection_of(types: TypeMap, type_ref: dict[str, Any]) -> str | None:
    """The item type of a connection type (one with `nodes`), else None."""
    named = types.get(_named(type_ref)["name"] or "")
    if named is None or named["kind"] != "OBJECT":
        return None
    nodes = [f for f in named.get("fields") or [] if f["name"] == "nodes"]
    return _named(nodes[0]["type"])["name"] if nodes else None


def _only(candidates: list[str], role: str) -> str:
    if len(candidates) != 1:
        raise SchemaMismatch(f"{role}: expected one field, found {candidates}")
    return candidates[0]


def connection_field(types: TypeMap, owner: str, item: str) -> str:
    """The one field of `owner` that is a connection of `item`."""
    return _only(
        [f["name"] for f in _fields(types, owner) if _connection_of(types, f["type"]) == item],
        f"{owner} -> connection of {item}",
    )


def object_field(types: TypeMap, owner: str, target: str) -> str:
    """The one field of `owner` that returns a single `target`."""
    return _only(
        [
            f["name"]
            for f in _fields(types, owner)
            if _named(f["type"])["name"] == target and not f["args"]
        ],
        f"{owner} -> {target}",
    )


@dataclass(frozen=True)
class PeerNames:
    node_id: str  # the Node interface's id field (`nodeId` in v4, `id` in v5)
    node_argument: str  # `node(<this>: ...)`
    all_companies: str
    all_programs: str
    company_programs: str
    program_links: str  # Program -> ProgramPartner connection
    link_partner: str  # ProgramPartner -> Partner
    partner_links: str  # Partner -> PartnerLocation connection
    link_location: str  # PartnerLocation -> Location
    by_name: str  # orderBy value: sort_key ascending
    by_slug: str  # orderBy value: slug ascending


def _order_values(types: TypeMap, query: str, all_programs: str) -> tuple[str, str]:
    field = next(f for f in _fields(types, query) if f["name"] == all_programs)
    order = next(a for a in field["args"] if a["name"] == "orderBy")
    values = [v["name"] for v in types[_named(order["type"])["name"]]["enumValues"]]
    for wanted in ("SORT_KEY_ASC", "SLUG_ASC"):
        if wanted not in values:
            raise SchemaMismatch(f"{all_programs}(orderBy:) has no {wanted}: {values}")
    return "SORT_KEY_ASC", "SLUG_ASC"


def peer_names(introspection: dict[str, Any]) -> PeerNames:
    """Read the names from a standard introspection result (`data` of the response)."""
    schema = introspection["__schema"]
    types: TypeMap = {t["name"]: t for t in schema["types"]}
    query = schema["queryType"]["name"]
    node_fields = [f["name"] for f in types["Node"]["fields"]]
    node_field = next(f for f in _fields(types, query) if f["name"] == "node")
    all_programs = connection_field(types, query, "Program")
    by_name, by_slug = _order_values(types, query, all_programs)
    return PeerNames(
        node_id=_only(node_fields, "Node's id field"),
        node_argument=_only([a["name"] for a in node_field["args"]], "node() argument"),
        all_companies=connection_field(types, query, "Company"),
        all_programs=all_programs,
        company_programs=connection_field(types, "Company", "Program"),
        program_links=connection_field(types, "Program", "ProgramPartner"),
        link_partner=object_field(types, "ProgramPartner", "Partner"),
        partner_links=connection_field(types, "Partner", "PartnerLocation"),
        link_location=object_field(types, "PartnerLocation", "Location"),
        by_name=by_name,
        by_slug=by_slug,
    )
