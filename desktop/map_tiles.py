"""The user's offline tiles as a layer of the map's scene (see offline_tiles for the files).

Each tile is a pixmap stretched over its own longitude/latitude box, made the first
time it comes into view and kept (hidden when out of view) until another file opens.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene

from geoscope_desktop.offline_tiles import TileFile, open_tile_file, tile_box

#: under the place names and outlines, over the land
TILE_Z = -3.5


class TileLayer:
    """Draws one raster MBTiles or PMTiles file into ``scene``."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self._scene = scene
        self.source: TileFile | None = None
        self._items: dict[tuple[int, int, int], QGraphicsPixmapItem] = {}

    def open(self, path: Path) -> str:
        """Use the file at ``path`` from now on; returns its name (TilesError when it
        cannot be used, leaving the current file in place)."""
        source = open_tile_file(path)
        for item in self._items.values():
            self._scene.removeItem(item)
        self._items = {}
        if self.source is not None:
            self.source.close()
        self.source = source
        return source.name

    def show(self, box: tuple[float, float, float, float] | None, km_per_px: float) -> None:
        """Show the tiles covering ``box`` (west, south, east, north degrees) at the zoom
        that serves ``km_per_px``; ``None`` hides them all."""
        wanted: set[tuple[int, int, int]] = set()
        if self.source is not None and box is not None:
            z = self.source.zoom_for(km_per_px)
            wanted = set(self.source.tiles_in(*box, z))
            for key in wanted - set(self._items):
                self._add(self.source, key)
        for key, item in self._items.items():
            item.setVisible(key in wanted)

    def _add(self, source: TileFile, key: tuple[int, int, int]) -> None:
        data = source.tile(*key)
        image = QImage.fromData(data) if data else QImage()
        if image.isNull():
            return
        west, south, east, north = tile_box(*key)
        item = QGraphicsPixmapItem(QPixmap.fromImage(image))
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        item.setPos(west, -north)
        sx, sy = (east - west) / image.width(), (north - south) / image.height()
        item.setTransform(QTransform.fromScale(sx, sy))
        item.setZValue(TILE_Z)
        self._scene.addItem(item)
        self._items[key] = item

    @property
    def shown(self) -> int:
        """How many tiles are on screen."""
        return sum(1 for item in self._items.values() if item.isVisible())
