"""The user's own offline tiles: raster MBTiles and PMTiles files drawn at street level.

Tile files are made in the tests: MBTiles with sqlite3, PMTiles with the ``pmtiles``
package's writer.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pmtiles.writer
import pytest
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QColor, QImage

from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.offline_tiles import PMTiles, tile_box, tile_xy
from tests.desktop.appdriver import FakeDialogs


def _png(top: str, bottom: str = "#000000") -> bytes:
    """A 256-pixel tile, its top half ``top``, its bottom half ``bottom``."""
    image = QImage(256, 256, QImage.Format.Format_RGB32)
    image.fill(QColor(bottom))
    for y in range(128):
        for x in range(256):
            image.setPixelColor(x, y, QColor(top))
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    return bytes(data.data())


def _mbtiles(path: Path, fmt: str, tiles: dict[tuple[int, int, int], bytes]) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute("CREATE TABLE tiles (zoom_level INT, tile_column INT, tile_row INT, tile_data BLOB)")
    db.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "my town"), ("format", fmt)])
    for (z, x, y), data in tiles.items():
        db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2**z - 1 - y, data))
    db.commit()
    db.close()
    return path


def _pmtiles(
    path: Path, tile_type: TileType, tiles: dict[tuple[int, int, int], bytes], name: str
) -> Path:
    with pmtiles.writer.write(path) as w:
        for tile_id, data in sorted((zxy_to_tileid(*k), v) for k, v in tiles.items()):
            w.write_tile(tile_id, data)
        w.finalize({"tile_type": tile_type, "tile_compression": Compression.NONE}, {"name": name})
    return path


def _colour_at(window: MainWindow, lat: float, lon: float) -> tuple[int, int, int]:
    shot = window.map.viewport().grab().toImage()
    at = window.map.view_point(lat, lon)
    c = shot.pixelColor(at.x(), at.y())
    return c.red(), c.green(), c.blue()


def test_user_mbtiles_are_drawn_at_street_level(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    x, y = tile_xy(42.645, 18.10, 14)
    w, s_, e, n = tile_box(14, x, y)
    assert w <= 18.10 <= e and s_ <= 42.645 <= n
    png = _png("#ff00ff", "#ff00ff")
    tiles = {(14, x + dx, y + dy): png for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    good = _mbtiles(tmp_path / "town.mbtiles", "png", tiles)
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    dialogs.open_path = good
    window.acts.open_tiles.trigger()
    assert dialogs.errors == [] and "my town" in window.statusBar().currentMessage()
    window.map.reset_view()
    window.map.update_layers()
    assert window.map.tiles_shown == 0  # not at world zoom
    window.map.focus_on(42.645, 18.10, 0.3)
    assert window.map.tiles_shown >= 1
    qtbot.wait(20)
    shot = window.map.grab().toImage()
    centre = shot.pixelColor(shot.width() // 2, shot.height() // 3)
    assert (centre.red(), centre.green(), centre.blue()) == (255, 0, 255)
    # vector tiles and non-MBTiles files are refused with a clear message
    dialogs.open_path = _mbtiles(tmp_path / "vector.mbtiles", "pbf", tiles)
    window.acts.open_tiles.trigger()
    assert "only raster tiles" in dialogs.errors[-1][1]
    (tmp_path / "junk.mbtiles").write_bytes(b"not sqlite at all" * 10)
    dialogs.open_path = tmp_path / "junk.mbtiles"
    window.acts.open_tiles.trigger()
    assert "not an MBTiles file" in dialogs.errors[-1][1]


#: zoom-15 tiles over the open Adriatic (no place names drawn over them)
LAT, LON, Z = 42.5, 16.5, 15
COLOURS = {(0, 0): "#ff0000", (1, 0): "#00ff00", (0, 1): "#0000ff", (1, 1): "#ffff00"}


def test_user_pmtiles_are_drawn_tile_by_tile_in_place(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    x, y = tile_xy(LAT, LON, Z)
    tiles = {(Z, x + dx, y + dy): _png(c) for (dx, dy), c in COLOURS.items()}
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    dialogs.open_path = _pmtiles(tmp_path / "streets.pmtiles", TileType.PNG, tiles, "my streets")
    window.acts.open_tiles.trigger()
    assert dialogs.errors == [] and "my streets" in window.statusBar().currentMessage()
    window.map.reset_view()
    window.map.update_layers()
    assert window.map.tiles_shown == 0  # not at world zoom
    # centred on the corner the four tiles share
    west, south, east, north = tile_box(Z, x + 1, y + 1)
    window.map.focus_on(north, west, 0.3)
    assert window.map.tiles_shown == 4
    qtbot.wait(20)
    for (dx, dy), colour in COLOURS.items():
        west, south, east, north = tile_box(Z, x + dx, y + dy)
        lon = (west + east) / 2
        quarter = (north - south) / 4
        want = QColor(colour)
        # each tile where it belongs, north up: its top half coloured, its bottom half black
        assert _colour_at(window, north - quarter, lon) == (want.red(), want.green(), want.blue())
        assert _colour_at(window, south + quarter, lon) == (0, 0, 0)


def test_vector_truncated_and_foreign_pmtiles_are_refused(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    tiles = {(Z, 1, 2): _png("#ff0000"), (Z, 2, 2): _png("#00ff00")}
    good = _pmtiles(tmp_path / "good.pmtiles", TileType.PNG, tiles, "good").read_bytes()
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]

    def refused(name: str) -> str:
        dialogs.open_path = tmp_path / name
        window.acts.open_tiles.trigger()
        assert window.map.tiles is None
        return dialogs.errors[-1][1]

    _pmtiles(tmp_path / "vector.pmtiles", TileType.MVT, {(Z, 1, 2): b"\x1a\x00"}, "roads")
    assert "holds mvt tiles; only raster tiles" in refused("vector.pmtiles")
    (tmp_path / "half.pmtiles").write_bytes(good[: len(good) // 2])
    assert "is truncated" in refused("half.pmtiles")
    (tmp_path / "header.pmtiles").write_bytes(good[:60])
    assert "is truncated: 60 bytes" in refused("header.pmtiles")
    (tmp_path / "junk.pmtiles").write_bytes(b"not a tile archive" * 10)
    assert "is not a PMTiles file" in refused("junk.pmtiles")
    (tmp_path / "empty.pmtiles").write_bytes(b"")
    assert "is not a PMTiles file" in refused("empty.pmtiles")
    v2 = bytearray(good)
    v2[7] = 2
    (tmp_path / "v2.pmtiles").write_bytes(bytes(v2))
    assert "version 2; only version 3" in refused("v2.pmtiles")


def test_pmtiles_leaf_directories_are_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two entries a leaf: the root points at leaves, as in large files
    monkeypatch.setattr(
        pmtiles.writer,
        "optimize_directories",
        lambda entries, _target: pmtiles.writer.build_roots_leaves(entries, 2),
    )
    tiles = {(3, x, y): f"tile 3/{x}/{y}".encode() for x in range(8) for y in range(8)}
    tiles[5, 7, 9] = b"deeper"
    path = _pmtiles(tmp_path / "leaves.pmtiles", TileType.JPEG, tiles, "")
    source = PMTiles(path)
    try:
        assert (source.name, source.min_zoom, source.max_zoom) == ("leaves", 3, 5)
        assert all(source.tile(*k) == v for k, v in tiles.items())
        assert len(source._leaves) == 33
        assert source.tile(4, 0, 0) is None and source.tile(5, 7, 10) is None
    finally:
        source.close()
