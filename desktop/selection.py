"""The selected photos: the list's selection shown in the detail pane and on the map.

``PhotoSelection`` keeps the detail pane, the selected photo's preview, its
estimate on the map and the map's markers in step with the table's selection
and with the review state. It decides nothing about the photos themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QTableView

from geoscope_desktop.controllers.images import ImageFeeder
from geoscope_desktop.controllers.review import ReviewController
from geoscope_desktop.detail import TOP_K, DetailPane
from geoscope_desktop.items import REVIEWABLE, PhotoItem, PhotoStatus
from geoscope_desktop.photo_model import PhotoFilterProxy
from geoscope_desktop.worldmap import WorldMapView

#: markers are redrawn at most this often while results stream in (ms)
MARKER_DELAY_MS = 250


class PhotoSelection(QObject):
    """Connects ``table`` (over ``proxy``) to ``detail``, ``world`` and ``images``.

    The current photo (the pane's, the one the list's cursor is on) is always one of the
    selected photos when any is selected, so the keys act on the photo shown. The map
    centres on the current photo only when ``follow`` is on (View ▸ Follow Selection).
    ``changed()`` fires when the selected rows change.
    """

    changed = Signal()

    def __init__(
        self,
        table: QTableView,
        proxy: PhotoFilterProxy,
        review: ReviewController,
        detail: DetailPane,
        world: WorldMapView,
        images: ImageFeeder,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.table, self.proxy, self.review = table, proxy, review
        self.detail, self.world, self.images = detail, world, images
        #: whether selecting a photo centres the map on it
        self.follow = False
        self._markers = QTimer(self)
        self._markers.setSingleShot(True)
        self._markers.setInterval(MARKER_DELAY_MS)
        self._markers.timeout.connect(self.refresh_markers)
        sel = table.selectionModel()
        sel.currentRowChanged.connect(self._on_current_changed)
        sel.selectionChanged.connect(self._on_selection_changed)
        images.preview.connect(self._on_preview)

    @property
    def current(self) -> PhotoItem | None:
        """The photo shown in the detail pane."""
        return self.detail.item

    def rows(self) -> list[int]:
        """Source-model rows of the selected photos."""
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return sorted(rows)

    def paths(self) -> list[Path]:
        return [self.review.model.item(r).path for r in self.rows()]

    def reviewable(self) -> bool:
        """Whether a selected photo has an estimate to accept or reject."""
        model = self.review.model
        return any(
            model.item(r).status in REVIEWABLE and model.item(r).prediction is not None
            for r in self.rows()
        )

    def select_paths(self, paths: Sequence[Path]) -> None:
        """Select these photos (those the filter shows); the first becomes current."""
        sel = self.table.selectionModel()
        sel.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        first = True
        model = self.review.model
        for p in paths:
            idx = self.proxy.mapFromSource(model.index(model.row_of(p), 0))
            if not idx.isValid():
                continue
            if first:
                sel.setCurrentIndex(idx, flags)
                self.table.scrollTo(idx)
                first = False
            else:
                sel.select(idx, flags)

    def next(self) -> None:
        """Move to the photo below the current one in the list (Accept moves on)."""
        row = self.table.currentIndex().row() + 1
        if 0 < row < self.proxy.rowCount():
            self.table.selectRow(row)

    def clear(self) -> None:
        """Nothing shown (another folder is opened)."""
        self.detail.show_item(None)
        self.world.clear_estimate()
        self.world.set_alternatives(())
        self.refresh_markers()

    def refresh(self) -> None:
        """Show the current photo's new state; markers follow shortly."""
        item = self.detail.item
        if item is not None:
            current = self.review.item_for(item.path)
            if current is not None:
                self.show(current, center=False)
        self._markers.start()

    def updated(self, item: PhotoItem) -> None:
        """``item`` changed (e.g. a scan result came in)."""
        if self.detail.item is not None and self.detail.item.path == item.path:
            self.show(item, center=False)
            self.changed.emit()
        self._markers.start()

    def show(self, item: PhotoItem, center: bool) -> None:
        new_photo = self.detail.item is None or self.detail.item.path != item.path
        self.detail.show_item(item)
        if new_photo:
            self.images.request_preview(item.path)
        pred = item.prediction
        reviewable = item.status in REVIEWABLE
        self.world.set_alternatives(pred.top_k[1:TOP_K] if pred is not None and reviewable else ())
        if pred is not None:
            radius = 0.0 if item.status is PhotoStatus.HAS_GPS else pred.radius_km
            self.world.set_estimate(pred.lat, pred.lon, radius, pred.country_code, center=center)
        elif item.gps is not None:
            self.world.set_estimate(item.gps[0], item.gps[1], 0.0, center=center)
        else:
            self.world.clear_estimate()

    def refresh_markers(self) -> None:
        self.world.set_markers(self.review.markers())

    @Slot(Path, QImage)
    def _on_preview(self, path: Path, image: QImage) -> None:
        if self.detail.item is not None and self.detail.item.path == path:
            self.detail.set_preview(image)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.detail.show_item(None)
            self.world.clear_estimate()
            return
        item = self.review.model.item(self.proxy.mapToSource(current).row())
        self.show(item, center=self.follow)
        self.changed.emit()

    def _on_selection_changed(self, *_: object) -> None:
        """Keep the current photo among the selected ones (e.g. after Ctrl+click took the
        current one out of the selection), so the pane shows what the keys act on."""
        sel = self.table.selectionModel()
        rows = sel.selectedRows()
        current = self.table.currentIndex()
        if rows and not (current.isValid() and sel.isRowSelected(current.row(), QModelIndex())):
            first = min(rows, key=lambda i: i.row())
            sel.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
        self.changed.emit()
