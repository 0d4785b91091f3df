"""The window's part for track logs: loading them (menu or drop), drawing them on the
map, and the Camera Clocks panel whose offsets move the photos live."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from geoscope_core.errors import GeoScopeError
from geoscope_core.words import count
from geoscope_desktop.clocks import ClockPanel
from geoscope_desktop.controllers.tracks import TrackController

if TYPE_CHECKING:
    from geoscope_desktop.main_window import MainWindow

#: what the open dialog offers (every format ``evidence.tracks`` reads)
TRACK_FILTER = (
    "Track logs (*.gpx *.kml *.kmz *.tcx *.nmea *.nma *.igc *.geojson *.json *.csv);;All files (*)"
)


class Tracking(QObject):
    """Tracks and clocks for ``window``: its ``TrackController`` (``controller``), the
    Camera Clocks dock (``dock``, its ``panel``) and what they tell the user."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.controller = TrackController(window.scanner, window.review, self)
        self.panel = ClockPanel()
        self.dock = QDockWidget("Camera Clocks", window)
        self.dock.setObjectName("camera_clocks")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        # Scan ▸ Camera Clocks shows and hides the panel, and says which it is
        act = window.acts.clocks
        act.setCheckable(True)
        act.toggled.connect(self.dock.setVisible)
        self.dock.visibilityChanged.connect(lambda _v: act.setChecked(not self.dock.isHidden()))
        # only the open folder's cameras
        window.folder_opened.connect(lambda _f: self._show_cameras())
        c = self.controller
        c.tracks_changed.connect(window.map.set_tracks)
        c.cameras_changed.connect(self._show_cameras)
        c.moved.connect(self._on_moved)
        self.panel.offset_changed.connect(c.set_offset)

    def choose(self) -> None:
        """Scan ▸ Add Track Logs: ask for files and use them."""
        self.add(self._window.dialogs.open_files("Add track logs", TRACK_FILTER))

    def add(self, paths: Sequence[Path]) -> bool:
        """Use these track logs (drawn at once, placing the photos by time); False (after
        telling the user) when one cannot be read: the tracks in use stay."""
        if not paths:
            return False
        try:
            self.controller.add(paths)
        except GeoScopeError as e:
            self._window.dialogs.error("Cannot read the track logs", str(e))
            return False
        names = ", ".join(Path(p).name for p in paths)
        self._window.statusBar().showMessage(f"Track logs: {names}", 8000)
        self.dock.show()
        return True

    def _show_cameras(self) -> None:
        cameras = self.controller.cameras()
        self.panel.set_cameras(cameras if self.controller.evidence is not None else [])

    def _on_moved(self, n: int) -> None:
        w = self._window
        w.selection.refresh_markers()
        w.selection.refresh()
        w.status.counts_label.setText(w.review.counts_text())
        if n:
            w.statusBar().showMessage(f"Placed {count(n, 'photo')} again by time", 5000)
