"""The map's Natural Earth layers (``resources/basemap.npz``), read tile by tile.

Made by ``packaging/make_basemap.py`` (its docstring gives the source and the
commands). Each layer is cut into ``tile_deg`` degree tiles; a tile holds rings
(polygons' rings or lines), stored as a first point and int16 steps in units of
1/``scale`` degree. Only the tiles in view are decoded (numpy, no Qt).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from importlib import resources

import numpy as np

from geoscope_core.errors import DataError

log = logging.getLogger(__name__)

RESOURCE = "basemap.npz"


@dataclass(frozen=True)
class BasemapLayer:
    """One layer: ``origins`` int [T, 2] south-west corner (lon, lat degrees) per tile,
    ``tiles`` [T+1] ring offsets, ``rings`` [R+1] step offsets, ``first`` int32 [R, 2],
    ``steps`` int16 [S, 2]; ``polygons`` says whether rings are areas or lines."""

    name: str
    polygons: bool
    tile_deg: float
    scale: float
    origins: np.ndarray
    tiles: np.ndarray
    rings: np.ndarray
    first: np.ndarray
    steps: np.ndarray

    def tiles_in(self, west: float, south: float, east: float, north: float) -> list[int]:
        """Indices of the tiles that meet the box (degrees)."""
        lon0 = self.origins[:, 0].astype(np.float64)
        lat0 = self.origins[:, 1].astype(np.float64)
        hit = (
            (lon0 < east)
            & (lon0 + self.tile_deg > west)
            & (lat0 < north)
            & (lat0 + self.tile_deg > south)
        )
        return [int(i) for i in np.flatnonzero(hit)]

    def tile_rings(self, tile: int) -> list[np.ndarray]:
        """The rings of ``tile``: float64 arrays [k, 2] of (lon, lat) degrees."""
        out = []
        for r in range(int(self.tiles[tile]), int(self.tiles[tile + 1])):
            a, b = int(self.rings[r]), int(self.rings[r + 1])
            pts = np.empty((b - a + 1, 2), dtype=np.int64)
            pts[0] = self.first[r]
            pts[1:] = self.steps[a:b]
            out.append(np.cumsum(pts, axis=0) / self.scale)
        return out


@functools.lru_cache(maxsize=1)
def basemap() -> dict[str, BasemapLayer]:
    """Every packaged layer by name (read once). Raises DataError if the resource is broken."""
    try:
        ref = resources.files("geoscope_desktop").joinpath("resources", RESOURCE)
        with ref.open("rb") as f, np.load(f) as z:
            names = [str(n) for n in z["layers"]]
            polygons = [bool(p) for p in z["polygons"]]
            tile_deg, scale = float(z["tile_deg"]), float(z["scale"])
            layers = {
                name: BasemapLayer(
                    name=name,
                    polygons=poly,
                    tile_deg=tile_deg,
                    scale=scale,
                    origins=z[f"{name}/origins"],
                    tiles=z[f"{name}/tiles"],
                    rings=z[f"{name}/rings"],
                    first=z[f"{name}/first"],
                    steps=z[f"{name}/steps"],
                )
                for name, poly in zip(names, polygons, strict=True)
            }
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"the packaged map layers ({RESOURCE}) are unreadable: {e}") from e
    log.debug("loaded map layers %s", ", ".join(layers))
    return layers
