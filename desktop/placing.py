"""Moving and placing photos: an alternative chosen, a drop or "Place Here" on the map, a
place found in the search box. Each becomes a review transition on the photos."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from geoscope_core.prediction import Candidate
from geoscope_desktop.controllers.review import ReviewController, candidate_at
from geoscope_desktop.detail import DetailPane
from geoscope_desktop.items import PlaceEdit
from geoscope_desktop.marker_drag import MarkerDrag
from geoscope_desktop.place_search import PlaceHit, PlaceSearch
from geoscope_desktop.selection import PhotoSelection
from geoscope_desktop.worldmap import WorldMapView

#: the smallest radius a hand-placed location gets, km
MIN_RADIUS_KM = 0.05


class Placing(QObject):
    """Turns the user's gestures on the detail pane, the map and the search box into
    moves and placements of the photos (``review``) and their selection.

    Photos already written are not moved by a gesture: ``written_moved(paths, candidate,
    radius_km)`` asks the window to offer moving them (a new, journaled write).
    """

    written_moved = Signal(list, object, float)

    def __init__(
        self,
        review: ReviewController,
        selection: PhotoSelection,
        world: WorldMapView,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.review, self.selection, self.world = review, selection, world

    def wire(self, detail: DetailPane, world: WorldMapView, search: PlaceSearch) -> None:
        detail.revert_clicked.connect(self.revert_current)
        detail.alternative_chosen.connect(self.correct_current)
        detail.names_edited.connect(self.rename_selected)
        world.place_requested.connect(self.place_selected)
        self.selection.changed.connect(
            lambda: setattr(world, "placeable", len(self.selection.rows()))
        )
        world.photos_clicked.connect(self.selection.select_paths)
        world.alternative_clicked.connect(self.correct_current)
        world.photos_dropped.connect(self.place_at)
        self.marker_drag = MarkerDrag(world)
        search.place_chosen.connect(self.place_hit)

    @Slot(object)
    def correct_current(self, candidate: Candidate) -> None:
        """Move the current photo to one of its alternatives (with its own radius)."""
        if self.selection.current is not None:
            self.review.correct(self.selection.current.path, candidate)

    @Slot(object)
    def rename_selected(self, names: PlaceEdit) -> int:
        """The place names typed in the detail pane, for every selected photo."""
        return self.review.rename(self.selection.paths(), names)

    def revert_current(self) -> None:
        if self.selection.current is not None:
            self.review.revert(self.selection.current.path)

    @Slot(float, float, float)
    def place_selected(self, lat: float, lon: float, radius_km: float) -> int:
        """The map's "Place Here": the selected photos go to (lat, lon) degrees (radius km)."""
        paths = self.selection.paths()
        return self._place(paths, candidate_at(lat, lon), max(MIN_RADIUS_KM, radius_km))

    def _place(self, paths: Sequence[Path], candidate: Candidate, radius_km: float) -> int:
        n = self.review.place(paths, candidate, radius_km)
        written = self.review.written_among(paths)
        if written:
            self.written_moved.emit(written, candidate, radius_km)
        return n

    def place_at(self, paths: Sequence[Path], lat: float, lon: float, radius_km: float) -> int:
        """Photos dropped on the map at (lat, lon) degrees (from the list, or a marker
        dragged) are placed there (radius km); the selection goes along when they are
        part of it."""
        selected = self.selection.paths()
        if set(paths) & set(selected):
            paths = [*selected, *(p for p in paths if p not in set(selected))]
        n = self._place(paths, candidate_at(lat, lon), max(MIN_RADIUS_KM, radius_km))
        self.selection.select_paths(paths)
        return n

    def place_hit(self, hit: PlaceHit) -> int:
        """A place chosen in the search box: the map centres on it, the selection goes there."""
        c = hit.candidate
        self.world.focus_on(c.lat, c.lon, max(hit.radius_km, 5.0))
        return self._place(self.selection.paths(), c, hit.radius_km)
