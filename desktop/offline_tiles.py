"""A user's own offline map tiles for street level: raster MBTiles files.

MBTiles is SQLite (read with the standard library): a ``tiles`` table of
``zoom_level, tile_column, tile_row`` (TMS rows, counted from the south) and
``tile_data`` (PNG/JPEG/WebP), and a ``metadata`` table. Tiles are Web Mercator;
the map is plate carrée, so each tile is drawn stretched over its own
longitude/latitude box (exact at its corners; the error inside one tile is
negligible at the street zooms these files serve). Vector tiles (``pbf``) are
refused with a clear error.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from pathlib import Path

from geoscope_core.errors import GeoScopeError

log = logging.getLogger(__name__)

RASTER_FORMATS = frozenset({"png", "jpg", "jpeg", "webp"})
#: the most tiles drawn for one view
MAX_TILES = 64


class TilesError(GeoScopeError):
    """An offline tile file that cannot be used."""


def tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) degrees of XYZ tile ``x, y`` at zoom ``z``."""
    n = 2.0**z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y))


def tile_xy(lat: float, lon: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding (lat, lon) degrees at zoom ``z``."""
    n = 2**z
    lat = max(-85.0511, min(85.0511, lat))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(n - 1, max(0, x)), min(n - 1, max(0, y))


class MBTiles:
    """A raster MBTiles file, opened read-only. Raises TilesError when unusable."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            meta = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
            zmin, zmax = self._db.execute(
                "SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles"
            ).fetchone()
        except sqlite3.Error as e:
            raise TilesError(f"{self.path} is not an MBTiles file: {e}") from e
        fmt = str(meta.get("format", "png")).lower()
        if fmt not in RASTER_FORMATS:
            raise TilesError(
                f"{self.path} holds {fmt} tiles; only raster tiles (png, jpg, webp) can be shown"
            )
        if zmin is None:
            raise TilesError(f"{self.path} holds no tiles")
        self.name = str(meta.get("name", self.path.stem))
        self.min_zoom, self.max_zoom = int(zmin), int(zmax)

    def zoom_for(self, km_per_px: float) -> int:
        """The tile zoom whose pixels are closest to ``km_per_px`` (within the file's)."""
        z = round(math.log2(40075.016 / (256.0 * max(km_per_px, 1e-6))))
        return max(self.min_zoom, min(self.max_zoom, z))

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The image bytes of XYZ tile (z, x, y), None when the file lacks it."""
        row = self._db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (2**z - 1) - y),
        ).fetchone()
        return bytes(row[0]) if row else None

    def tiles_in(
        self, west: float, south: float, east: float, north: float, z: int
    ) -> list[tuple[int, int, int]]:
        """XYZ tiles at zoom ``z`` covering the box (degrees), at most ``MAX_TILES``."""
        x0, y0 = tile_xy(north, west, z)
        x1, y1 = tile_xy(south, east, z)
        out = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        return out[:MAX_TILES]

    def close(self) -> None:
        self._db.close()
