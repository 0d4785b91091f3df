"""A user's own offline map tiles for street level: raster MBTiles or PMTiles files.

MBTiles is SQLite (read with the standard library): a ``tiles`` table of
``zoom_level, tile_column, tile_row`` (TMS rows, counted from the south) and
``tile_data`` (PNG/JPEG/WebP), and a ``metadata`` table. PMTiles (version 3) is
one file: a 127-byte header, gzip-compressed directories of varint-encoded
entries keyed by Hilbert tile id, then the tiles. Tiles are Web
Mercator; the map is plate carrée, so each tile is drawn stretched over its own
longitude/latitude box (exact at its corners; the error inside one tile is
negligible at the street zooms these files serve). Vector tiles are refused with
a clear error.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import mmap
import sqlite3
import zlib
from pathlib import Path

from pmtiles.tile import (
    Compression,
    Entry,
    MagicNumberNotFound,
    SpecVersionUnsupported,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    zxy_to_tileid,
)

from geoscope_core.errors import GeoScopeError

log = logging.getLogger(__name__)

RASTER_FORMATS = frozenset({"png", "jpg", "jpeg", "webp"})
#: the most tiles drawn for one view
MAX_TILES = 64
PMTILES_MAGIC = b"PMTiles"
PMTILES_RASTER = {TileType.PNG: "png", TileType.JPEG: "jpg", TileType.WEBP: "webp"}
#: leaf directories kept decoded (each a list of entries)
LEAF_CACHE = 64


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


class TileFile:
    """A file of raster XYZ tiles: ``name``, ``min_zoom``, ``max_zoom``, ``tile()``."""

    name: str
    min_zoom: int
    max_zoom: int

    def zoom_for(self, km_per_px: float) -> int:
        """The tile zoom whose pixels are closest to ``km_per_px`` (within the file's)."""
        z = round(math.log2(40075.016 / (256.0 * max(km_per_px, 1e-6))))
        return max(self.min_zoom, min(self.max_zoom, z))

    def tiles_in(
        self, west: float, south: float, east: float, north: float, z: int
    ) -> list[tuple[int, int, int]]:
        """XYZ tiles at zoom ``z`` covering the box (degrees), at most ``MAX_TILES``."""
        x0, y0 = tile_xy(north, west, z)
        x1, y1 = tile_xy(south, east, z)
        out = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        return out[:MAX_TILES]

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The image bytes of XYZ tile (z, x, y), None when the file lacks it."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def open_tile_file(path: Path) -> TileFile:
    """The MBTiles or PMTiles file at ``path`` (by its first bytes, else its name).
    Raises TilesError when it cannot be used."""
    try:
        with open(path, "rb") as f:
            start = f.read(len(PMTILES_MAGIC))
    except OSError as e:
        raise TilesError(f"{path} cannot be read: {e}") from e
    if start == PMTILES_MAGIC or Path(path).suffix.lower() == ".pmtiles":
        return PMTiles(path)
    return MBTiles(path)


class MBTiles(TileFile):
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

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        row = self._db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (2**z - 1) - y),
        ).fetchone()
        return bytes(row[0]) if row else None

    def close(self) -> None:
        self._db.close()


class PMTiles(TileFile):
    """A raster PMTiles (version 3) file, read through a memory map; the header and
    directories are decoded by the ``pmtiles`` package, directories kept once decoded.
    Raises TilesError when unusable."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as f:
                self._data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as e:  # ValueError: an empty file
            raise TilesError(f"{self.path} is not a PMTiles file: {e}") from e
        try:
            self._open()
        except TilesError:
            self._data.close()
            raise

    def _open(self) -> None:
        where, size = self.path, len(self._data)
        if size < 127:
            raise TilesError(f"{where} is truncated: {size} bytes, shorter than a PMTiles header")
        try:
            h = deserialize_header(self._data[:127])
        except (MagicNumberNotFound, UnicodeDecodeError) as e:
            raise TilesError(f"{where} is not a PMTiles file") from e
        except SpecVersionUnsupported as e:
            raise TilesError(
                f"{where} is a PMTiles file of version {self._data[7]}; only version 3 is read"
            ) from e
        except ValueError as e:  # an unknown compression or tile type
            raise TilesError(f"{where} is not a PMTiles file: {e}") from e
        if h["tile_type"] not in PMTILES_RASTER:
            kind = h["tile_type"].name.lower()
            raise TilesError(
                f"{where} holds {kind} tiles; only raster tiles (png, jpg, webp) can be shown"
            )
        if h["internal_compression"] is not Compression.GZIP:
            raise TilesError(f"{where}: only gzip-compressed PMTiles directories are read")
        if h["tile_compression"] not in (Compression.NONE, Compression.UNKNOWN, Compression.GZIP):
            raise TilesError(f"{where}: tiles compressed with {h['tile_compression'].name}")
        end = max(
            h["root_offset"] + h["root_length"],
            h["metadata_offset"] + h["metadata_length"],
            h["leaf_directory_offset"] + h["leaf_directory_length"],
            h["tile_data_offset"] + h["tile_data_length"],
        )
        if end > size:
            raise TilesError(f"{where} is truncated: {size:,} bytes, its header says {end:,}")
        self._header = h
        self._leaves: dict[tuple[int, int], list[Entry]] = {}
        try:
            self._root = self._directory(h["root_offset"], h["root_length"])
            meta = self._data[h["metadata_offset"] : h["metadata_offset"] + h["metadata_length"]]
            metadata = json.loads(gzip.decompress(meta)) if meta else {}
        except (EOFError, OSError, zlib.error, ValueError) as e:
            raise TilesError(f"{where} is a broken PMTiles file: {e}") from e
        if not self._root:
            raise TilesError(f"{where} holds no tiles")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        self.name = str(name or self.path.stem)
        self.min_zoom, self.max_zoom = int(h["min_zoom"]), int(h["max_zoom"])

    def _directory(self, offset: int, length: int) -> list[Entry]:
        return deserialize_directory(self._data[offset : offset + length])

    def _entry(self, tile_id: int) -> Entry | None:
        """The directory entry of the tile run holding ``tile_id``, leaves followed."""
        directory = self._root
        for _depth in range(4):  # the format's deepest
            entry = find_tile(directory, tile_id)
            if entry is None or entry.run_length > 0:
                return entry
            key = (self._header["leaf_directory_offset"] + entry.offset, entry.length)
            if key not in self._leaves:
                if len(self._leaves) >= LEAF_CACHE:
                    self._leaves.clear()
                self._leaves[key] = self._directory(*key)
            directory = self._leaves[key]
        return None

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        try:
            entry = self._entry(zxy_to_tileid(z, x, y))
        except (EOFError, OSError, zlib.error, ValueError) as e:
            log.warning("%s: tile %d/%d/%d unreadable: %s", self.path, z, x, y, e)
            return None
        if entry is None:
            return None
        start = self._header["tile_data_offset"] + entry.offset
        data = self._data[start : start + entry.length]
        if self._header["tile_compression"] is Compression.GZIP:
            try:
                data = gzip.decompress(data)
            except (EOFError, OSError, zlib.error) as e:
                log.warning("%s: tile %d/%d/%d unreadable: %s", self.path, z, x, y, e)
                return None
        return data

    def close(self) -> None:
        self._data.close()
