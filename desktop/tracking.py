"""The window's part for track logs: loading them (menu or drop), drawing them on the
map, and the Camera Clocks panel whose offsets move the photos live."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from geoscope_core.errors import GeoScopeError
from geoscope_core.evidence.formats.registry import dialog_patterns
from geoscope_core.prediction import Source
from geoscope_core.words import count, duration
from geoscope_desktop.clocks import ClockPanel, offset_text
from geoscope_desktop.controllers.tracks import TrackController

if TYPE_CHECKING:
    from geoscope_core.evidence.personal import PersonalEvidence
    from geoscope_core.photos.metadata import PhotoMetadata
    from geoscope_desktop.main_window import MainWindow

#: what the open dialog offers: every suffix of the track-format registry
TRACK_FILTER = f"Track logs ({dialog_patterns()});;All files (*)"


class Tracking(QObject):
    """Tracks and clocks for ``window``: its ``TrackController`` (``controller``), the
    Camera Clocks dock (``dock``, its ``panel``) and what they tell the user."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        #: the folder whose tracks, clocks and zone are in use (None before any)
        self._folder: Path | None = None
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
        # only the open folder's cameras; its tracks and clocks as they were left
        window.folder_opened.connect(self._restore)
        c = self.controller
        c.tracks_changed.connect(window.map.set_tracks)
        c.cameras_changed.connect(self._show_cameras)
        c.moved.connect(self._on_moved)
        self.panel.offset_changed.connect(c.set_offset)
        self.panel.offset_changed.connect(lambda _c, _s: self._remember())  # once set
        self.panel.zone_changed.connect(self.set_zone)

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
        self._remember()
        self._frame_tracks()
        self._explain_a_miss()
        return True

    def _frame_tracks(self) -> None:
        """Fit the map to the tracks in use, as loading a track log does in other
        geotaggers: the photos they place are there, wherever the map was before."""
        lines = [line for line in self.controller.lines if len(line)]
        if not lines:
            return
        points = np.concatenate(lines)
        (south, west), (north, east) = points.min(axis=0), points.max(axis=0)
        self._window.map.show_box(float(south), float(west), float(north), float(east))

    def _remember(self) -> None:
        """Keep the open folder's track logs and clock offsets for the next session."""
        w = self._window
        options = w.scanner.options
        if w.review.folder is None or options.evidence is None:
            return
        ev = options.evidence
        offsets = {o.camera: o.seconds for o in ev.time_offsets if o.camera}
        w.settings.set_folder_evidence(w.review.folder, ev.track_files, offsets, ev.tz)

    def set_zone(self, zone: str) -> int:
        """Read the camera clocks in ``zone`` ("" automatic; an IANA name or +-HH:MM, as
        ``--tz``): the scanned photos move at once, the next scans use it, and the folder
        keeps it. Returns how many photos moved (0, after telling the user, for a zone
        that is none: the one in use stays)."""
        w = self._window
        try:
            moved = self.controller.set_zone(zone or None)
        except GeoScopeError as e:
            w.dialogs.error("Not a time zone", str(e))
            self.panel.zone_box.set_zone(self.controller.zone() or "")
            return 0
        self._remember()
        box = self.panel.zone_box
        name = (box.currentText() if box.zone() == zone else zone) or "where each photo was"
        w.statusBar().showMessage(
            f"Camera clocks read in time zone {name}: {count(moved, 'photo')} moved", 8000
        )
        return moved

    def _restore(self, folder: Path) -> None:
        """The track logs (those still there), clock offsets and time zone last used with
        ``folder``."""
        w = self._window
        if self._folder is not None:  # the last folder's tracks, clocks and zone are its
            self.controller.forget()  # own (those given before any folder serve the first)
        self._folder = folder
        tracks, offsets = w.settings.folder_evidence(folder)
        for camera, seconds in offsets.items():
            w.scanner.set_time_offset(camera, seconds)
        zone = w.settings.folder_zone(folder)
        try:
            self.controller.set_zone(zone)
        except GeoScopeError as e:  # a zone this computer's tzdata does not know
            w.statusBar().showMessage(f"Time zone of this folder not used: {e}", 8000)
            self.controller.set_zone(None)
        new = [p for p in tracks if p.is_file()]
        if new:
            try:
                self.controller.add(new)
            except GeoScopeError as e:
                w.statusBar().showMessage(f"Track logs of this folder not read again: {e}", 8000)
            else:
                self._frame_tracks()
        self._show_cameras()

    def _explain_a_miss(self) -> None:
        """A track that places none of the scanned photos says why, shows itself on the
        map and offers the clock offset that brings the photos into it."""
        c, w = self.controller, self._window
        metas = c.scanned_metadata()
        if c.evidence is None or c.evidence.track is None or not metas:
            return
        placed = sum(
            1
            for it in w.review.items()
            if it.prediction is not None and it.prediction.source is Source.TRACK
        )
        if placed:
            return
        miss = track_miss(c.evidence, metas)
        if miss.shift_s is None or not miss.camera:
            w.dialogs.info("The track places no photo", miss.text)
            return
        ask = (
            f"{miss.text}.\n\nCorrect the clock of {miss.camera} by "
            f"{offset_text(round(miss.shift_s))} so its photos fall on the track? "
            "(Scan ▸ Camera Clocks changes it later.)"
        )
        if w.dialogs.confirm("The track places no photo", ask, ok_text="Correct the Clock"):
            box = self.panel.boxes.get(miss.camera)
            if box is not None:
                box.setValue(round(miss.shift_s))
            else:
                c.set_offset(miss.camera, float(round(miss.shift_s)))

    def _show_cameras(self) -> None:
        c = self.controller
        self.panel.set_cameras(c.cameras() if c.evidence is not None else [])
        self.panel.zone_box.set_suggestions(c.zone_suggestions())
        self.panel.zone_box.set_zone(c.zone() or "")
        self.panel.zone_note.setText(self.panel.zone_box.note())

    def _on_moved(self, n: int) -> None:
        w = self._window
        w.selection.refresh_markers()
        w.selection.refresh()
        w.status.counts_label.setText(w.review.counts_text())
        if n:
            w.statusBar().showMessage(f"Placed {count(n, 'photo')} again by time", 5000)


@dataclass(frozen=True)
class TrackMiss:
    """Why a track places no photo: ``text`` ("0 of 3 photos inside the track; photos are
    56 min before it"), the ``camera`` with the most photos and the clock correction
    ``shift_s`` (s) that brings its photos inside the track (None when none would)."""

    text: str
    camera: str = ""
    shift_s: float | None = None


def track_miss(evidence: PersonalEvidence, metas: Sequence[PhotoMetadata]) -> TrackMiss:
    """Where the photos' UTC times (clock corrections applied) fall against the track's."""
    track = evidence.track
    head = f"0 of {count(len(metas), 'photo')} inside the track"
    if track is None:
        return TrackMiss(f"{head}; no track is loaded")
    times: dict[str, list[float]] = {}
    for m in metas:
        t = evidence.photo_time(m).utc
        if math.isfinite(t):
            times.setdefault(m.camera, []).append(t)
    if not times:
        return TrackMiss(f"{head}; no photo has a capture time")
    every = sorted(t for ts in times.values() for t in ts)
    start, end = track.start, track.end
    if every[-1] < start:
        where = f"photos are {duration(start - every[-1])} before it"
    elif every[0] > end:
        where = f"photos are {duration(every[0] - end)} after it"
    else:
        where = "photos fall in gaps of the track, or on another day"
    camera = max(times, key=lambda c: len(times[c]))
    ts = sorted(times[camera])
    span = ts[-1] - ts[0]
    shift: float | None = None
    if span <= end - start:  # the whole set fits: centre it on the track
        shift = (start + end) / 2 - (ts[0] + ts[-1]) / 2
    return TrackMiss(f"{head}; {where}", camera, shift)
