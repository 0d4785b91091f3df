"""Dragging a photo marker on the map puts its photos down where it is dropped.

The marker follows the mouse; on release the view's ``photos_dropped(paths, lat, lon,
radius_km)`` fires as for photos dragged from the list, so both gestures place photos
by one rule (``Placing.place_at``: the selection goes along when the marker is part
of it; the radius is the view's ``pick_radius_km``). A press on a marker that does not
move stays a click (the view selects the marker's photos).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QMouseEvent

from geoscope_desktop.map_markers import AlternativeDot, Cluster
from geoscope_desktop.worldmap import CLICK_SLOP_PX, WorldMapView


class MarkerDrag(QObject):
    """Watches the mouse on ``view``'s viewport (an event filter) for marker drags."""

    def __init__(self, view: WorldMapView) -> None:
        super().__init__(view)
        self.view = view
        self._marker: Cluster | None = None
        self._press = QPoint()
        self._moved = False
        view.viewport().installEventFilter(self)

    def marker_at(self, pos: QPoint) -> Cluster | None:
        """The photo marker under viewport pixel ``pos`` (None under an alternative)."""
        for item in self.view.items(pos):
            if isinstance(item, AlternativeDot):
                return None
            if isinstance(item, Cluster):
                return item
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if not isinstance(event, QMouseEvent):
            return False
        pos = event.position().toPoint()
        if kind is QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._marker, self._press, self._moved = self.marker_at(pos), pos, False
            return False  # the view still sees the press (a click selects the marker)
        if self._marker is None:
            return False
        if kind is QEvent.Type.MouseMove:
            if self._moved or (pos - self._press).manhattanLength() > CLICK_SLOP_PX:
                self._moved = True
                self._marker.setPos(self.view.mapToScene(pos))
                self.view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return True  # the map does not pan under a dragged marker
        if kind is QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            marker, self._marker = self._marker, None
            self.view.viewport().unsetCursor()
            if self._moved:
                self._drop(marker, pos)
        return False

    def _drop(self, marker: Cluster, pos: QPoint) -> None:
        # back to its place until the markers are redrawn (photos that cannot move stay)
        p, paths = marker.photos, marker.paths
        marker.setPos(sum(x.lon for x in p) / len(p), -sum(x.lat for x in p) / len(p))
        lat, lon = self.view.lat_lon_at(pos)
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            self.view.photos_dropped.emit(paths, lat, lon, self.view.pick_radius_km())
