"""What the map draws at each zoom: Natural Earth tiles and town names in view.

Scene coordinates are the map's (``x = lon``, ``y = -lat``, degrees). The world
zoom shows the 1:110m countries the view builds itself; closer in, ``MapLayers``
adds the tiles in view of the layers that zoom shows (built once, kept) and
labels the most populous places in view from the offline gazetteer.
"""

from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
)

from geoscope_core.errors import DataError, GeoScopeError
from geoscope_desktop.basemap import BasemapLayer, basemap
from geoscope_desktop.towns import town_table

log = logging.getLogger(__name__)


class Zoom(enum.Enum):
    """How close the map is, by kilometres per screen pixel."""

    WORLD = "world"  # > 6 km/px: 1:110m countries
    COUNTRY = "country"  # 0.6-6 km/px: simplified 1:10m land, borders, regions, lakes; rivers
    TOWN = "town"  # < 0.6 km/px: full 1:10m, rivers (1:50m) drawn wider

    @classmethod
    def at(cls, km_per_px: float) -> Zoom:
        if km_per_px > 6.0:
            return cls.WORLD
        return cls.COUNTRY if km_per_px > 0.6 else cls.TOWN


#: layers drawn at each zoom, bottom to top
ZOOM_LAYERS: dict[Zoom, tuple[str, ...]] = {
    Zoom.WORLD: (),
    Zoom.COUNTRY: ("land_coarse", "rivers", "lakes", "admin1", "borders"),
    Zoom.TOWN: ("land", "rivers", "lakes", "admin1", "borders"),
}
#: rivers under the lakes: a lake's centreline is hidden by its water
LAYER_Z = {
    "land_coarse": -6.0,
    "land": -6.0,
    "rivers": -4.6,
    "lakes": -4.5,
    "admin1": -4.2,
    "borders": -4.0,
}
#: river width (screen pixels) at each zoom
RIVER_PX = {Zoom.WORLD: 0.0, Zoom.COUNTRY: 1.0, Zoom.TOWN: 1.8}
#: place names labelled in view at each zoom
LABELS = {Zoom.WORLD: 0, Zoom.COUNTRY: 30, Zoom.TOWN: 45}
#: places looked at per label shown: the next most populous take an overlapped one's turn
LABEL_CANDIDATES = 4


@dataclass(frozen=True)
class MapColors:
    """The map's palette."""

    background: QColor
    ocean: QColor
    land: QColor
    highlight: QColor
    border: QColor
    admin1: QColor
    lake: QColor
    river: QColor
    graticule: QColor
    text: QColor
    halo: QColor


LIGHT = MapColors(
    background=QColor("#e9edf1"),
    ocean=QColor("#cfe2ee"),
    land=QColor("#f3efe6"),
    highlight=QColor("#f6d9a8"),
    border=QColor("#a9a291"),
    admin1=QColor("#cfc7b4"),
    lake=QColor("#cfe2ee"),
    river=QColor("#6f9ec6"),
    graticule=QColor(255, 255, 255, 150),
    text=QColor("#3b3a36"),
    halo=QColor(255, 255, 255, 200),
)
DARK = MapColors(
    background=QColor("#15181c"),
    ocean=QColor("#1b2836"),
    land=QColor("#2c2f33"),
    highlight=QColor("#5a4a2c"),
    border=QColor("#77716a"),
    admin1=QColor("#4c4944"),
    lake=QColor("#1b2836"),
    river=QColor("#41668a"),
    graticule=QColor(255, 255, 255, 28),
    text=QColor("#d8d4cc"),
    halo=QColor(0, 0, 0, 170),
)


def ring_polygon(ring: np.ndarray) -> QPolygonF:
    """A (lon, lat) degree ring [k, 2] as scene points."""
    return QPolygonF([QPointF(float(x), -float(y)) for x, y in ring])


class MapLayers:
    """Builds and shows the layers of the current zoom in ``scene``."""

    def __init__(self, scene: QGraphicsScene, colors: MapColors) -> None:
        self._scene = scene
        self.colors = colors
        self._built: dict[tuple[str, int], QGraphicsPathItem] = {}
        self._labels: list[QGraphicsItem] = []
        self._towns_failed = False
        self.zoom = Zoom.WORLD

    @staticmethod
    def preload() -> None:
        """Read the layers in a background thread (the first zoom-in is then quick)."""

        def load() -> None:
            try:
                basemap()
                town_table()
                from geoscope_desktop.place_search import place_index

                place_index()
            except (ImportError, GeoScopeError) as e:
                log.warning("map layers unavailable: %s", e)

        threading.Thread(target=load, name="geoscope-basemap", daemon=True).start()

    def update(
        self,
        west: float,
        south: float,
        east: float,
        north: float,
        zoom: Zoom,
        px_per_deg: float = 0.0,
    ) -> None:
        """Show ``zoom``'s layers for the box in view (degrees); ``px_per_deg``, the
        view's scale, keeps place names from overlapping (0: not checked)."""
        if zoom is not self.zoom:
            self.zoom = zoom
            for (name, _), item in self._built.items():
                if name == "rivers":
                    self._style(item, name)  # their width goes by zoom
        wanted = ZOOM_LAYERS[zoom]
        for (name, _), item in self._built.items():
            item.setVisible(name in wanted)
        if wanted:
            try:
                layers = basemap()
            except DataError as e:
                log.warning("map layers unavailable: %s", e)
                layers = {}
            for name in wanted:
                if name in layers:
                    self._build(layers[name], west, south, east, north)
        self._label(west, south, east, north, LABELS[zoom], px_per_deg)

    @property
    def visible_layers(self) -> set[str]:
        return {name for (name, _), item in self._built.items() if item.isVisible()}

    @property
    def labels(self) -> list[str]:
        return [i.text() for i in self._labels if isinstance(i, QGraphicsSimpleTextItem)]

    def _build(self, layer: BasemapLayer, west: float, south: float, east: float, north: float):  # type: ignore[no-untyped-def]
        for tile in layer.tiles_in(west, south, east, north):
            key = (layer.name, tile)
            if key in self._built:
                continue
            path = QPainterPath()
            for ring in layer.tile_rings(tile):
                path.addPolygon(ring_polygon(ring))  # an open subpath: lines stay lines
                if layer.polygons:
                    path.closeSubpath()
            item = QGraphicsPathItem(path)
            self._style(item, layer.name)
            item.setZValue(LAYER_Z.get(layer.name, -4.0))
            self._scene.addItem(item)
            self._built[key] = item

    def _style(self, item: QGraphicsPathItem, name: str) -> None:
        c = self.colors
        if name in ("land", "land_coarse"):
            item.setPen(QPen(Qt.PenStyle.NoPen))
            item.setBrush(QBrush(c.land))
        elif name == "lakes":
            pen = QPen(c.border, 0.6)
            pen.setCosmetic(True)
            item.setPen(pen)
            item.setBrush(QBrush(c.lake))
        elif name == "rivers":
            pen = QPen(c.river, RIVER_PX[self.zoom])
            pen.setCosmetic(True)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            item.setPen(pen)
        else:
            pen = QPen(
                c.border if name == "borders" else c.admin1, 1.1 if name == "borders" else 0.8
            )
            pen.setCosmetic(True)
            if name == "admin1":
                pen.setStyle(Qt.PenStyle.DashLine)
            item.setPen(pen)

    def _label(
        self, west: float, south: float, east: float, north: float, n: int, px_per_deg: float
    ) -> None:
        """Label up to ``n`` places in the box, the most populous first, skipping any
        whose dot and name would overlap a name already placed (on screen)."""
        for item in self._labels:
            if item.parentItem() is None:
                self._scene.removeItem(item)
        self._labels = []
        if n <= 0 or self._towns_failed:
            return
        try:
            towns = town_table()
        except (ImportError, GeoScopeError) as e:
            log.warning("no place names on the map: %s", e)
            self._towns_failed = True
            return
        font = QFont()
        font.setPointSizeF(8.5)
        metrics = QFontMetricsF(font)
        taken: list[QRectF] = []
        for i in towns.top_in(west, south, east, north, LABEL_CANDIDATES * n):
            if len(taken) == n:
                break
            x, y = float(towns.lon[i]) * px_per_deg, -float(towns.lat[i]) * px_per_deg
            box = QRectF(x - 3, y - 9, 8 + metrics.horizontalAdvance(towns.names[i]), 16)
            if px_per_deg > 0 and any(box.intersects(other) for other in taken):
                continue
            taken.append(box)
            dot = self._scene.addEllipse(
                -2, -2, 4, 4, QPen(self.colors.halo, 0.8), self.colors.text
            )
            dot.setPos(float(towns.lon[i]), -float(towns.lat[i]))
            dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            dot.setZValue(3)
            text = QGraphicsSimpleTextItem(towns.names[i], dot)  # offset in pixels
            text.setFont(font)
            text.setBrush(QBrush(self.colors.text))
            text.setPos(4, -8)
            self._labels += [dot, text]
