"""The offline world map: country outlines, photo markers and the selected estimate.

Scene coordinates are plate carrée degrees with y flipped: ``x = lon``,
``y = -lat``. Wheel zooms about the cursor, dragging pans, a click (a press
and release without moving) emits ``location_clicked(lat, lon, radius_km)``
where ``radius_km`` is what a few screen pixels span at the current zoom.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from geoscope_core.prediction import Candidate
from geoscope_desktop.map_layers import DARK, LIGHT, MapLayers, Zoom
from geoscope_desktop.map_markers import (
    AlternativeDot,
    Cluster,
    Dot,
    MapPhoto,
    MarkerLayer,
    cell_degrees,
)
from geoscope_desktop.map_tiles import TileLayer
from geoscope_desktop.mapdata import circle_shapes, km_per_degree_lat, world_outlines
from geoscope_desktop.offline_tiles import TileFile
from geoscope_desktop.photo_model import PHOTOS_MIME, paths_from_mime

log = logging.getLogger(__name__)

ESTIMATE = QColor("#d32f2f")
#: how long the view rests before the layers in view are built (ms)
LAYER_DELAY_MS = 60

MAX_ZOOM = 4000.0
#: the closest focus_on zooms (degrees of latitude in view)
MIN_SPAN_DEG = 0.02
CLICK_SLOP_PX = 4
PICK_RADIUS_PX = 6


def _polygon(points: Iterable[tuple[float, float]]) -> QPolygonF:
    return QPolygonF([QPointF(float(lon), -float(lat)) for lon, lat in points])


class WorldMapView(QGraphicsView):
    """Zoomable, pannable world map.

    ``set_markers([(lat, lon, status), ...])`` shows every photo;
    ``set_estimate(lat, lon, radius_km, country_code)`` shows the selected photo's
    estimate with its uncertainty circle (geodesic, ``radius_km`` km).
    """

    location_clicked = Signal(float, float, float)
    photos_clicked = Signal(list)
    alternative_clicked = Signal(object)
    photos_dropped = Signal(list, float, float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self._scene.setSceneRect(QRectF(-180, -90, 360, 180))
        self.setScene(self._scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing)
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        self.colors = DARK if dark else LIGHT
        self.setBackgroundBrush(QBrush(self.colors.background))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMinimumSize(240, 140)
        self._countries: dict[str, QGraphicsPathItem] = {}
        self._unnamed: list[QGraphicsPathItem] = []
        self._highlighted: str = ""
        self.markers = MarkerLayer(self._scene)
        self.tile_layer = TileLayer(self._scene)
        self.setAcceptDrops(True)
        self._estimate_items: list[QGraphicsItem] = []
        self._press: QPoint | None = None
        self._fitted = False
        self._preloaded = False
        self._build_base()
        self.layers = MapLayers(self._scene, self.colors)
        self._layer_timer = QTimer(self)
        self._layer_timer.setSingleShot(True)
        self._layer_timer.setInterval(LAYER_DELAY_MS)
        self._layer_timer.timeout.connect(self.update_layers)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.valueChanged.connect(lambda _v: self._layer_timer.start())
        self.setToolTip("Wheel: zoom · drag: pan (a marker: move its photos) · click: place here")

    # -- base map ------------------------------------------------------------
    def _build_base(self) -> None:
        c = self.colors
        ocean = self._scene.addRect(QRectF(-180, -90, 360, 180), QPen(Qt.PenStyle.NoPen), c.ocean)
        ocean.setZValue(-10)
        grat_pen = QPen(c.graticule, 0)
        grat_pen.setCosmetic(True)
        for lon in range(-150, 180, 30):
            self._scene.addLine(lon, -90, lon, 90, grat_pen).setZValue(-9)
        for lat in range(-60, 90, 30):
            self._scene.addLine(-180, -lat, 180, -lat, grat_pen).setZValue(-9)
        border = QPen(c.border, 0.8)
        border.setCosmetic(True)
        for country in world_outlines():
            path = QPainterPath()
            for ring in country.rings:
                path.addPolygon(_polygon(ring))
                path.closeSubpath()
            item = self._scene.addPath(path, border, QBrush(c.land))
            item.setZValue(-5)
            item.setToolTip(country.name)
            if country.iso_a2:
                self._countries[country.iso_a2] = item
            else:
                self._unnamed.append(item)

    @property
    def country_codes(self) -> set[str]:
        return set(self._countries)

    # -- content -------------------------------------------------------------
    def set_markers(self, photos: Iterable[MapPhoto]) -> None:
        """Every photo's location (degrees), clustered at this zoom, coloured by status."""
        self.markers.set_photos(photos, cell_degrees(self.transform().m11()))

    @property
    def marker_count(self) -> int:
        """Photos on the map (a cluster counts its photos)."""
        return len(self.markers.photos)

    def set_alternatives(self, candidates: Sequence[Candidate]) -> None:
        """The selected photo's other candidate places, to choose with a click."""
        self.markers.set_alternatives(candidates)

    def clear_estimate(self) -> None:
        for item in self._estimate_items:
            self._scene.removeItem(item)
        self._estimate_items = []
        self._highlight("")

    def set_estimate(
        self, lat: float, lon: float, radius_km: float, country_code: str = "", center: bool = True
    ) -> None:
        """Show the selected photo's estimate (degrees) and its uncertainty circle (km)."""
        self.clear_estimate()
        if radius_km > 0:
            shapes = circle_shapes(lat, lon, radius_km)
            fill = QColor(ESTIMATE)
            fill.setAlpha(45)
            for area in shapes.fills:
                item = self._scene.addPolygon(_polygon(area), QPen(Qt.PenStyle.NoPen), fill)
                item.setZValue(8)
                self._estimate_items.append(item)
            pen = QPen(ESTIMATE, 1.5)
            pen.setCosmetic(True)
            for line in shapes.outlines:
                path = QPainterPath()
                path.addPolygon(_polygon(line))
                if shapes.closed:
                    path.closeSubpath()
                edge = self._scene.addPath(path, pen)
                edge.setZValue(8)
                self._estimate_items.append(edge)
        marker = Dot(lat, lon, ESTIMATE, 13.0)
        marker.setPen(QPen(QColor("white"), 2.2))
        marker.setZValue(10)
        self._scene.addItem(marker)
        self._estimate_items.append(marker)
        self._highlight(country_code)
        if center:
            self.focus_on(lat, lon, radius_km)

    def _highlight(self, code: str) -> None:
        if self._highlighted in self._countries:
            self._countries[self._highlighted].setBrush(QBrush(self.colors.land))
        self._highlighted = code if code in self._countries else ""
        if self._highlighted:
            self._countries[self._highlighted].setBrush(QBrush(self.colors.highlight))

    def focus_on(self, lat: float, lon: float, radius_km: float) -> None:
        """Centre on (lat, lon) degrees, zoomed so a ``radius_km`` circle is well visible."""
        span_deg = max(MIN_SPAN_DEG, min(180.0, 4.0 * radius_km / km_per_degree_lat()))
        rect = QRectF(lon - span_deg, -lat - span_deg / 2, 2 * span_deg, span_deg)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True
        self.update_layers()

    def reset_view(self) -> None:
        """Show the whole world."""
        self.fitInView(QRectF(-180, -85, 360, 170), Qt.AspectRatioMode.KeepAspectRatio)
        self._layer_timer.start()

    def zoom_by(self, factor: float) -> None:
        current = self.transform().m11()
        base = self._base_scale()
        target = min(max(current * factor, base * 0.9), base * MAX_ZOOM)
        factor = target / current if current else 1.0
        self.scale(factor, factor)
        self._layer_timer.start()

    def visible_box(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) degrees of what the view shows."""
        r = self.mapToScene(self.viewport().rect()).boundingRect()
        return (
            max(-180.0, r.left()),
            max(-90.0, -r.bottom()),
            min(180.0, r.right()),
            min(90.0, -r.top()),
        )

    def update_layers(self) -> None:
        """Show the layers and place names of the current zoom for what is in view."""
        km_per_px, px_per_deg, box = self.km_per_pixel(), self.transform().m11(), self.visible_box()
        zoom = Zoom.at(km_per_px)
        for item in self._countries.values():
            item.setVisible(zoom is Zoom.WORLD)
        for item in self._unnamed:
            item.setVisible(zoom is Zoom.WORLD)
        self.layers.update(*box, zoom, px_per_deg)
        self.tile_layer.show(None if zoom is Zoom.WORLD else box, km_per_px)
        self.markers.recluster(cell_degrees(px_per_deg))

    def _base_scale(self) -> float:
        vp = self.viewport().rect()
        return max(1e-6, min(vp.width() / 360.0, vp.height() / 170.0))

    def km_per_pixel(self) -> float:
        """Kilometres one screen pixel spans (north-south) at the current zoom."""
        scale = self.transform().m11() or 1.0
        return km_per_degree_lat() / scale

    def pick_radius_km(self) -> float:
        """The radius of a place the user points at (click, drop): a few pixels, in km."""
        return PICK_RADIUS_PX * self.km_per_pixel()

    # -- events --------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self._fitted:
            self.reset_view()
        self._layer_timer.start()

    def showEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().showEvent(event)
        if not self._fitted:
            self.reset_view()
        if not self._preloaded:
            self._preloaded = True
            QTimer.singleShot(500, MapLayers.preload)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(math.pow(1.25, steps))
            self._fitted = True
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        press, self._press = self._press, None
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        pos = event.position().toPoint()
        if (pos - press).manhattanLength() > CLICK_SLOP_PX:
            self._fitted = True  # the user panned
            return
        for item in self.items(pos):
            if isinstance(item, AlternativeDot):
                self.alternative_clicked.emit(item.candidate)
                return
            if isinstance(item, Cluster):
                self.photos_clicked.emit(item.paths)
                return
        lat, lon = self.lat_lon_at(pos)
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            self.location_clicked.emit(lat, lon, self.pick_radius_km())

    def set_tracks(self, lines: Sequence[np.ndarray]) -> None:
        """The user's track logs as lines ([K, 2] lat, lon degrees)."""
        self.markers.set_tracks(lines)

    # -- the user's offline tiles ----------------------------------------------
    def open_tiles(self, path: Path) -> str:
        """Draw the raster MBTiles or PMTiles file at ``path`` when zoomed in; returns
        its name (raises TilesError when it cannot be used)."""
        name = self.tile_layer.open(path)
        self.update_layers()
        return name

    @property
    def tiles(self) -> TileFile | None:
        return self.tile_layer.source

    @property
    def tiles_shown(self) -> int:
        return self.tile_layer.shown

    def lat_lon_at(self, pos: QPoint) -> tuple[float, float]:
        """(lat, lon) degrees under viewport pixel ``pos``."""
        scene = self.mapToScene(pos)
        return -scene.y(), scene.x()

    # -- photos dragged from the list ------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(PHOTOS_MIME):
            event.acceptProposedAction()
        elif event.mimeData().hasUrls():
            event.ignore()  # files (track logs, a folder) go on to the window
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(PHOTOS_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Photos dropped here are placed at the drop point (``pick_radius_km``)."""
        if not event.mimeData().hasFormat(PHOTOS_MIME):
            super().dropEvent(event)
            return
        paths = paths_from_mime(event.mimeData())
        lat, lon = self.lat_lon_at(event.position().toPoint())
        event.acceptProposedAction()
        if paths and -90 <= lat <= 90 and -180 <= lon <= 180:
            self.photos_dropped.emit(paths, lat, lon, self.pick_radius_km())

    def view_point(self, lat: float, lon: float) -> QPoint:
        """Viewport pixel of (lat, lon) degrees."""
        return self.mapFromScene(QPointF(lon, -lat))
