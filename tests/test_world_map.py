"""The explorer's world map (server/static/explorer/world-110m.json, built by
scripts/refresh_world_map.py): how outlines are built from TopoJSON, and that the committed
map has every country the graph names."""

from __future__ import annotations

import json
from typing import Any

import yaml

from core.config import PROJECT_ROOT
from scripts.refresh_world_map import TARGET, build


def country(numeric: str | None, arcs: Any, name: str = "") -> dict[str, Any]:
    shape = {"type": "MultiPolygon", "arcs": arcs, "properties": {"name": name or numeric}}
    return shape if numeric is None else {**shape, "id": numeric}


def test_the_map_is_built_from_topojson_arcs_by_iso_code():
    """Two squares sharing an edge (arc 0: one draws it forwards, one backwards), one across
    the antimeridian; TopoJSON ids are ISO numeric codes, the map's keys alpha-2."""
    topology = {
        "transform": {"scale": [1, 1], "translate": [0, 0]},
        "arcs": [
            [[0, 0], [0, 10]],  # deltas from the previous point
            [[0, 10], [10, 0], [0, -10], [-10, 0]],
            [[0, 0], [-10, 0], [0, 10], [10, 0]],
            [[170, 0], [-340, 0], [0, 10], [340, 0], [0, -10]],
        ],
        "objects": {
            "countries": {
                "geometries": [
                    country("840", [[[0, 1]]]),
                    country("124", [[[~0, 2]]]),
                    country("242", [[[3]]]),
                    country(None, [[[0, 1]]], "Nowhere"),
                    country("010", [[[0, 1]]]),  # Antarctica
                ]
            }
        },
    }
    world = build(topology, {"840": "US", "124": "CA", "242": "FJ"})
    assert set(world["countries"]) == {"US", "CA", "FJ"}
    assert [shape["name"] for shape in world["unnamed"]] == ["Nowhere"]
    east, west, across = (world["countries"][code] for code in ("US", "CA", "FJ"))
    # (0°, 0°) is (360, 168) at 2 units a degree from 180°W and 84°N; relative moves after it
    assert east["path"] == "M360 168l0 -20 20 0 0 20 -20 0z"
    assert east["centre"] == [370.0, 158.0]
    assert west["path"] == "M360 148l0 20 -20 0 0 -20 20 0z"
    assert west["centre"] == [350.0, 158.0]
    # 170°E to 170°W: drawn from 170°E on past the right edge, and again from the left edge
    assert across["path"] == "M700 168l40 0 0 -20 -40 0 0 20zM-20 168l40 0 0 -20 -40 0 0 20z"
    assert across["centre"] == [0.0, 158.0]  # 180°


def test_the_map_has_every_country_the_graph_names():
    world = json.loads(TARGET.read_text(encoding="utf-8"))
    graph = yaml.safe_load((PROJECT_ROOT / "seeds" / "graph.yaml").read_text(encoding="utf-8"))
    codes = {place["country_code"] for place in graph["locations"] if place.get("country_code")}
    assert codes
    assert codes <= set(world["countries"])
    assert len(world["countries"]) > 150
    for shape in world["countries"].values():
        x, y = shape["centre"]  # where a dot for its cities goes: on the map
        assert 0 <= x <= world["width"]
        assert 0 <= y <= world["height"]
        assert shape["path"].startswith("M")
    assert "Permission to use, copy, modify" in (TARGET.parent / "LICENSE.world-atlas").read_text()
