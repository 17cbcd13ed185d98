"""Refresh the explorer's world map, server/static/explorer/world-110m.json, from the npm registry.

`python scripts/refresh_world_map.py`: Natural Earth's 1:110m country outlines come from
`world-atlas` (TopoJSON, ids are ISO 3166-1 numeric codes), the numeric -> alpha-2 table
from `i18n-iso-countries` (our places carry alpha-2 codes). Each package is fetched by its
pinned version (`npm pack`) and checked against its pinned integrity hash, as
scripts/refresh_graphiql.py does. The outlines are projected (equirectangular, what a map
without tiles needs), rounded and written as one SVG path per country, with the centre of
its largest piece, where the explorer puts a dot for the country's cities. Rings crossing
the antimeridian (Russia, Fiji) are drawn at both edges. Antarctica is left out and the map
cropped to 84°N-56°S, where every other country lies.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

EXPLORER = Path(__file__).resolve().parent.parent / "server" / "static" / "explorer"
TARGET = EXPLORER / "world-110m.json"

WORLD_ATLAS = (
    "world-atlas",
    "2.0.2",
    "sha512-IXfV0qwlKXpckz1FhwXVwKRjiIhOnWttOskm5CtxMsjgE/MXAYRHWJqgXOpM8IkcPBoXnyTU5lFHcYa5ChG0LQ==",
)
ISO_CODES = (
    "i18n-iso-countries",
    "7.14.0",
    "sha512-nXHJZYtNrfsi1UQbyRqm3Gou431elgLjKl//CYlnBGt5aTWdRPH1PiS2T/p/n8Q8LnqYqzQJik3Q7mkwvLokeg==",
)

SCALE = 2.0  # map units per degree
NORTH, SOUTH = 84.0, -56.0
LEFT_OUT = {"010"}  # Antarctica
Point = tuple[float, float]


def fetch(package: tuple[str, str, str], members: list[str], scratch: Path) -> list[bytes]:
    """Files of a package's tarball, fetched by pinned version and checked by integrity."""
    name, version, expected = package
    subprocess.run(  # noqa: S603 - npm from PATH, pinned arguments
        ["npm", "pack", f"{name}@{version}", "--silent"],  # noqa: S607
        cwd=scratch,
        check=True,
        capture_output=True,
    )
    tarball = scratch / f"{name}-{version}.tgz"
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != expected:
        raise SystemExit(f"{name}@{version}: the tarball does not match its pinned integrity")
    found = []
    with tarfile.open(tarball) as archive:
        for member in members:
            extracted = archive.extractfile(f"package/{member}")
            if extracted is None:
                raise SystemExit(f"{name}@{version} has no {member}")
            found.append(extracted.read())
    return found


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """TopoJSON's quantized, delta-encoded arcs as (longitude, latitude) points."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(indexes: list[int], arcs: list[list[Point]]) -> list[Point]:
    """A closed ring from its arcs; ~i is arc i backwards, and arcs share their end points."""
    points: list[Point] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc[1:] if points else arc)
    return points


def unwrap(points: list[Point]) -> list[Point]:
    """A ring crossing the antimeridian, made continuous: longitudes run on past 180° (or
    -180°) instead of jumping to the other edge, as TopoJSON keeps them."""
    unwrapped = points[:1]
    for longitude, latitude in points[1:]:
        previous = unwrapped[-1][0]
        step = (longitude - previous + 180) % 360 - 180
        unwrapped.append((previous + step, latitude))
    return unwrapped


def copies(points: list[Point]) -> list[list[Point]]:
    """The ring, and where it runs past an edge of the map, the same shifted a turn to come in
    at the other edge (the map's viewBox clips what lies outside)."""
    longitudes = [longitude for longitude, _ in points]
    shifted = [points]
    if max(longitudes) > 180:
        shifted.append([(longitude - 360, latitude) for longitude, latitude in points])
    if min(longitudes) < -180:
        shifted.append([(longitude + 360, latitude) for longitude, latitude in points])
    return shifted


def project(point: Point) -> Point:
    longitude, latitude = point
    return (round((longitude + 180) * SCALE, 1), round((NORTH - latitude) * SCALE, 1))


def path(rings: list[list[Point]]) -> str:
    """SVG path data, relative moves in tenths, with repeated points dropped."""
    parts = []
    for points in rings:
        steps: list[Point] = []
        for point in map(project, points):
            if not steps or point != steps[-1]:
                steps.append(point)
        if len(steps) < 4:
            continue  # smaller than a tenth of a unit: nothing to draw
        first = steps[0]
        moves = [f"{_num(first[0])} {_num(first[1])}"]
        for (x0, y0), (x1, y1) in itertools.pairwise(steps):
            moves.append(f"{_num(x1 - x0)} {_num(y1 - y0)}")
        parts.append("M" + moves[0] + "l" + " ".join(moves[1:]) + "z")
    return "".join(parts)


def _num(value: float) -> str:
    text = f"{round(value, 1):.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def centre(rings: list[list[Point]]) -> list[float]:
    """The area centroid of the largest ring (so Alaska and Hawaii do not pull on the US)."""

    def area_and_centroid(points: list[Point]) -> tuple[float, float, float]:
        projected = [project(point) for point in points]
        area = cx = cy = 0.0
        for (x0, y0), (x1, y1) in zip(projected, projected[1:] + projected[:1], strict=True):
            cross = x0 * y1 - x1 * y0
            area += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
        if not area:
            return 0.0, *projected[0]
        return abs(area / 2), cx / (3 * area), cy / (3 * area)

    _, x, y = max(area_and_centroid(points) for points in rings)
    return [round(x % (360 * SCALE), 1), round(y, 1)]  # on the map, if it lay past an edge


def build(topology: dict[str, Any], alpha2: dict[str, str]) -> dict[str, Any]:
    arcs = decode_arcs(topology)
    countries: dict[str, Any] = {}
    unnamed = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        numeric = geometry.get("id")
        if numeric in LEFT_OUT:
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings = [unwrap(ring(indexes, arcs)) for polygon in polygons for indexes in polygon]
        outer = [unwrap(ring(polygon[0], arcs)) for polygon in polygons]
        drawn = [copy for points in rings for copy in copies(points)]
        shape = {"name": geometry["properties"]["name"], "path": path(drawn)}
        code = alpha2.get(numeric) if numeric else None
        if code is None:  # Kosovo, Northern Cyprus, Somaliland: no ISO numeric code
            unnamed.append(shape)
        else:
            countries[code] = {**shape, "centre": centre(outer)}
    return {
        "source": (
            "Natural Earth 1:110m Admin 0 countries (public domain), from "
            f"{WORLD_ATLAS[0]}@{WORLD_ATLAS[1]} (ISC, LICENSE.world-atlas); ISO 3166-1 "
            f"alpha-2 codes from {ISO_CODES[0]}@{ISO_CODES[1]}; built by "
            "scripts/refresh_world_map.py"
        ),
        "projection": f"equirectangular, {SCALE:g} units per degree, {NORTH:g}N to {-SOUTH:g}S",
        "width": round(360 * SCALE),
        "height": round((NORTH - SOUTH) * SCALE),
        "countries": dict(sorted(countries.items())),
        "unnamed": unnamed,
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        atlas, licence = fetch(WORLD_ATLAS, ["countries-110m.json", "LICENSE"], Path(scratch))
        [codes] = fetch(ISO_CODES, ["codes.json"], Path(scratch))
    topology = json.loads(atlas)
    alpha2 = {numeric: code for code, _alpha3, numeric, *_ in json.loads(codes)}
    world = build(topology, alpha2)
    TARGET.write_text(json.dumps(world, ensure_ascii=False, separators=(",", ":")) + "\n")
    (EXPLORER / "LICENSE.world-atlas").write_bytes(licence)
    print(f"{TARGET.name}: {len(world['countries'])} countries, {TARGET.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
