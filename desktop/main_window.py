"""GeoScope's main window: lays out the panels and connects them to the controllers.

The controllers (``geoscope_desktop.controllers``) own the state: the model in
use, the running scan, the photos and their decisions, writes and undo. The
window asks the user (through ``Dialogs``) and passes each action on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QSplitter

from geoscope_core.errors import GeoScopeError
from geoscope_core.words import count
from geoscope_desktop import filmstrip
from geoscope_desktop.actions import FolderDrop, RecentMenu, WindowActions
from geoscope_desktop.controllers.images import ImageFeeder
from geoscope_desktop.controllers.models import ModelController, cuda_available
from geoscope_desktop.controllers.review import ReviewController
from geoscope_desktop.controllers.scan import ScanController
from geoscope_desktop.controllers.writing import WriteController, write_question
from geoscope_desktop.detail import PREVIEW_SIZE, DetailPane
from geoscope_desktop.dialogs import Dialogs
from geoscope_desktop.exporting import FILE_FILTERS, export_items
from geoscope_desktop.panels import ListPanel, StatusWidgets, map_box
from geoscope_desktop.photo_model import THUMB_SIZE, Filter, PhotoFilterProxy
from geoscope_desktop.place_search import PlaceSearch
from geoscope_desktop.placing import Placing
from geoscope_desktop.selection import PhotoSelection
from geoscope_desktop.settings_store import AppSettings
from geoscope_desktop.time_window import TimeWindow
from geoscope_desktop.tracking import Tracking
from geoscope_desktop.viewer import PhotoViewer
from geoscope_desktop.workers import ModelChoice
from geoscope_desktop.worldmap import WorldMapView

if TYPE_CHECKING:
    from collections.abc import Sequence

    from geoscope_core.photos.metadata import FileFingerprint, PhotoMetadata
    from geoscope_core.photos.plan import WriteReport
    from geoscope_core.photos.undo import UndoResult
    from geoscope_core.prediction import Candidate
    from geoscope_core.scan.types import ScanOptions, ScanResult
    from geoscope_desktop.items import PhotoItem

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """The app window. Long work runs in workers; this class only connects signals.

    Signals for observers (and tests), all in the GUI thread: ``folder_opened(Path)``,
    ``scan_progress(done, total)``, ``scan_finished(cancelled)``,
    ``write_finished(WriteReport)``, ``undo_finished(list[UndoResult])``,
    ``export_finished(Path)``.
    """

    folder_opened = Signal(Path)
    scan_progress = Signal(int, int)
    scan_finished = Signal(bool)
    write_finished = Signal(object)
    undo_finished = Signal(object)
    export_finished = Signal(Path)

    def __init__(
        self,
        settings: AppSettings,
        choice: ModelChoice | None = None,
        scan_options: ScanOptions | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.dialogs = Dialogs(self)
        self.models = ModelController(settings, choice or settings.model_choice(), self)
        self.scanner = ScanController(scan_options, self)
        self.images = ImageFeeder(THUMB_SIZE, PREVIEW_SIZE, self)
        self.review = ReviewController(self.images.request_thumbnail, settings.threshold(), self)
        self.writer = WriteController(settings, self)
        self.model = self.review.model
        self.proxy = PhotoFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.set_threshold(settings.threshold())
        self.setWindowTitle("GeoScope")
        self.setAcceptDrops(True)
        self.drops = FolderDrop(self)
        self.resize(1360, 860)
        self.acts = WindowActions(self, self.models.choice.provider, cuda_available)
        self._build_ui()
        self.recent_menu = RecentMenu(self.acts.build_menus(), settings, self.open_folder)
        self.selection = PhotoSelection(
            self.table, self.proxy, self.review, self.detail, self.map, self.images, self
        )
        self.placing = Placing(self.review, self.selection, self.map, self)
        self.tracking = Tracking(self)
        self.time_window = TimeWindow(self)
        self.filmstrip = filmstrip.install(self)
        self.viewer = PhotoViewer(self)
        self._connect()
        self._follow_selection(settings.follow_selection())
        settings.restore_layout(self, self.splitters)
        self._update_actions()
        self._on_model_changed()

    # ------------------------------------------------------------------ UI --
    def _build_ui(self) -> None:
        self.list_panel = ListPanel(self.proxy)
        self.table = self.list_panel.table
        self.filter_box = self.list_panel.filter_box
        self.search = self.list_panel.search
        self.detail = DetailPane()
        self.map = WorldMapView()
        self.place_search = PlaceSearch()
        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.addWidget(self.detail)
        self.right_split.addWidget(map_box(self.map, self.place_search))
        self.right_split.setStretchFactor(0, 2)
        self.right_split.setStretchFactor(1, 3)
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(self.list_panel)
        self.main_split.addWidget(self.right_split)
        self.main_split.setStretchFactor(0, 3)
        self.main_split.setStretchFactor(1, 2)
        self.main_split.setSizes([900, 640])
        self.setCentralWidget(self.main_split)
        self.splitters = {"main_split": self.main_split, "right_split": self.right_split}
        self.addToolBar(self.acts.toolbar())
        self.status = StatusWidgets()
        self.status.install(self.statusBar())
        self.progress = self.status.progress

    def _connect(self) -> None:
        a = self.acts
        a.connect(
            {
                a.open: self.choose_folder,
                a.scan: self.start_scan,
                a.cancel: self.scanner.cancel,
                a.accept: self.accept_selected,
                a.reject: self.reject_selected,
                a.accept_confident: self.review.accept_confident,
                a.view_photo: self.view_current,
                a.write: self.write_accepted,
                a.undo: self.undo_last_write,
                a.fill_names: self.fill_names_selected,
                a.export_csv: lambda: self.export_dialog("csv"),
                a.export_geojson: lambda: self.export_dialog("geojson"),
                a.quit: self.close,
                a.find: self.search.setFocus,
                a.reset_map: self.map.reset_view,
                a.follow_selection: lambda: self._follow_selection(a.follow_selection.isChecked()),
                a.open_tiles: self.choose_tiles,
                a.add_tracks: self.tracking.choose,
                a.help: self.show_help,
                a.about: self.show_about,
                a.default_model: self.models.use_default,
                a.choose_model: self.choose_model,
            }
        )
        for key, act in a.provider_actions.items():
            act.triggered.connect(lambda _=False, k=key: self.models.set_provider(k))
        self.list_panel.open_button.clicked.connect(self.choose_folder)
        self.drops.dropped.connect(self.open_folder)
        self.drops.tracks_dropped.connect(self.tracking.add)
        self.filter_box.currentIndexChanged.connect(
            lambda i: self.proxy.set_mode(Filter(self.filter_box.itemData(i)))
        )
        self.search.textChanged.connect(self.proxy.set_text)
        self.list_panel.threshold.setValue(round(100 * self.review.threshold))
        self.list_panel.threshold.valueChanged.connect(lambda v: self.set_threshold(v / 100))
        self.selection.changed.connect(self._update_actions)
        self.table.doubleClicked.connect(lambda _i: self.view_current())
        self.detail.accept_clicked.connect(self.accept_selected)
        self.detail.reject_clicked.connect(self.reject_selected)
        self.placing.wire(self.detail, self.map, self.place_search)
        self.placing.written_moved.connect(self.move_written)
        self.status.cancel_btn.clicked.connect(self.scanner.cancel)

        self.models.changed.connect(self._on_model_changed)
        self.images.thumbnail.connect(self.model.set_thumbnail)
        self.images.gps_read.connect(self.review.set_file_metadata)
        self.review.changed.connect(self._after_review)
        s = self.scanner
        s.started.connect(self.status.scan_started)
        s.started.connect(self._update_actions)
        s.started.connect(self.statusBar().clearMessage)
        s.status.connect(self.status.progress_label.setText)
        s.progress.connect(self.status.set_progress)
        s.progress.connect(self.scan_progress)
        s.model_ready.connect(self.models.loaded)
        s.result.connect(self._on_result)
        s.failed.connect(lambda msg, details: self.dialogs.error("Scan failed", msg, details))
        s.finished.connect(self._on_scan_done)
        self.writer.busy_changed.connect(self._update_actions)
        self.writer.written.connect(self._on_written)
        self.writer.undone.connect(self._on_undone)
        self.writer.failed.connect(
            lambda msg, details: self.dialogs.error("Something went wrong", msg, details)
        )

    # ------------------------------------------------------------- folders --
    def choose_folder(self) -> None:
        recent = self.settings.recent_folders()
        folder = self.dialogs.choose_folder(
            "Open a folder of photos", recent[0] if recent else None
        )
        if folder is not None:
            self.open_folder(folder)

    def open_folder(self, folder: Path) -> bool:
        """List the photos under ``folder`` (recursively). Returns False (after telling the
        user) when the folder cannot be read."""
        if self.scanner.is_scanning():
            self.dialogs.info("Scan running", "Cancel the running scan before opening a folder.")
            return False
        folder = Path(folder)
        self.images.clear()
        try:
            paths = self.review.open_folder(folder)
        except (OSError, GeoScopeError) as e:
            self.dialogs.error("Cannot open folder", f"{folder} could not be read: {e}")
            return False
        self.list_panel.show_table(bool(paths))
        self.map.reset_view()  # the last folder's place says nothing of this one's
        self.setWindowTitle(f"{folder.name} — GeoScope")
        self.recent_menu.add(folder)
        self.selection.clear()
        self._after_review("")
        self.statusBar().showMessage(self.review.opened_text(), 8000)
        if paths:
            self.table.selectRow(0)
        self.folder_opened.emit(folder)
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.drops.enter(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drops.drop(event)

    # ---------------------------------------------------------------- scan --
    def start_scan(self) -> bool:
        """Scan every photo of the open folder in a worker thread."""
        paths = [it.path for it in self.model.items()]
        return self.scanner.start(paths, self.models.choice, self.models.reusable_predictor())

    @Slot(object)
    def _on_result(self, result: ScanResult) -> None:
        new = self.review.apply_scan(result)
        if new is not None:
            self.selection.updated(new)

    @Slot(bool)
    def _on_scan_done(self, cancelled: bool) -> None:
        self.status.show_progress(False)
        self.selection.refresh_markers()
        self._after_review("")
        msg = self.scanner.cancelled_text() if cancelled else self.review.scan_summary()
        self.statusBar().showMessage(msg, 15000)
        self.scan_finished.emit(cancelled)

    # -------------------------------------------------------------- review --
    def set_threshold(self, threshold: float) -> None:
        """Confidence (0-1) from which an estimate counts as confident."""
        self.review.threshold = threshold
        self.proxy.set_threshold(threshold)
        self.settings.set_threshold(threshold)

    def accept_selected(self) -> int:
        """Accept the selection; with one photo selected, the next one is selected."""
        rows = self.selection.rows()
        n = self.review.accept(rows)
        if len(rows) == 1:
            self.selection.next()
        return n

    def view_current(self) -> bool:
        """Open the current photo in the viewer (a double-click); decides nothing."""
        item = self.selection.current
        if item is None:
            return False
        self.viewer.open_photo(item.path)
        return True

    def reject_selected(self) -> int:
        return self.review.reject(self.selection.rows())

    def _after_review(self, message: str) -> None:
        self.selection.refresh()
        self.status.counts_label.setText(self.review.counts_text())
        self._update_actions()
        if message:
            self.statusBar().showMessage(message, 5000)

    def write_accepted(self) -> bool:
        """Ask, then write every accepted estimate through the safe writer (in a worker)."""
        items = self.review.accepted_items()
        if not items or self.writer.busy() or self.scanner.is_scanning():
            return False
        text, details = write_question(items)
        if not self.dialogs.confirm("Write locations", text, details, f"Write {len(items)}"):
            return False
        self.statusBar().showMessage(f"Writing {count(len(items), 'photo')}…")
        pairs = [(it.path, it.prediction) for it in items if it.prediction]
        return self.writer.write(pairs, self._scanned(items), roots=self._roots())

    def _fillable(self) -> list[PhotoItem]:
        """The selected photos that carry their own GPS (their place names can be filled)."""
        items = (self.model.item(r) for r in self.selection.rows())
        return [it for it in items if it.names_fillable]

    def fill_names_selected(self) -> bool:
        """Ask, then write the place names of the selected photos that carry GPS, from
        their own point (as shown, or typed, in the detail pane): the names only, their GPS
        stays as the camera wrote it; journaled, so Undo Last Write restores the files."""
        items = self._fillable()
        if not items or self.writer.busy() or self.scanner.is_scanning():
            return False
        n = len(items)
        if not self.dialogs.confirm(
            "Fill place names from GPS",
            f"Write the place names (city, region, country) of {count(n, 'photo')} that "
            f"{'carries' if n == 1 else 'carry'} GPS, from {'its' if n == 1 else 'their'} "
            "own location?",
            "Only the names are written; the GPS the camera wrote stays exactly as it is. "
            "Photos that already name their place are left alone. Every change is "
            "journaled, so “Undo Last Write” restores the files exactly.",
            f"Write Names of {n}",
        ):
            return False
        self.statusBar().showMessage(f"Writing the place names of {count(n, 'photo')}…")
        pairs = [(it.path, it.prediction) for it in items if it.prediction]
        return self.writer.write(pairs, self._scanned(items), roots=self._roots(), names_only=True)

    def _scanned(self, items: Sequence[PhotoItem]) -> dict[Path, FileFingerprint]:
        """Each photo's file as it was scanned, so a photo replaced since is not written."""
        return {
            it.path: it.result.metadata.fingerprint
            for it in items
            if it.result is not None
            and it.result.metadata is not None
            and it.result.metadata.fingerprint is not None
        }

    def _roots(self) -> list[Path] | None:
        """The folder the user opened: a link out of it is not written through."""
        return [self.review.folder] if self.review.folder is not None else None

    def move_written(self, paths: list[Path], candidate: Candidate, radius_km: float) -> bool:
        """Photos already written were placed somewhere else: offer to move them, which
        writes them again at once (journaled: Undo Last Write puts them back)."""
        n = len(paths)
        where = candidate.city or candidate.admin1 or candidate.country or "the new place"
        if self.writer.busy() or self.scanner.is_scanning():
            self.dialogs.info(
                "Written photos not moved",
                f"{count(n, 'photo')} already {'carries' if n == 1 else 'carry'} the location "
                "GeoScope wrote; "
                "try again when the running scan or write is done.",
            )
            return False
        names = "\n".join(p.name for p in paths[:10]) + ("\n…" if n > 10 else "")
        if not self.dialogs.confirm(
            "Move written photos",
            f"{count(n, 'photo')} already {'carries' if n == 1 else 'carry'} the location "
            "GeoScope wrote, so "
            f"{'it was' if n == 1 else 'they were'} not moved. Move {'it' if n == 1 else 'them'}"
            f" to {where}? The new location is written at once, journaled: "
            "Undo Last Write puts the photos back as they are now.",
            names,
            ok_text=f"Move and Write {n}",
        ):
            return False
        self.review.place(paths, candidate, radius_km, move_written=True)
        pairs = [(p, it.prediction) for p in paths if (it := self.review.item_for(p)) is not None]
        self.statusBar().showMessage(f"Writing {count(n, 'photo')} again…")
        moved = [(p, pr) for p, pr in pairs if pr is not None]
        items = [it for p, _ in moved if (it := self.review.item_for(p)) is not None]
        return self.writer.write(moved, self._scanned(items), replace_gps=True, roots=self._roots())

    def _on_written(self, report: WriteReport, files: dict[Path, PhotoMetadata]) -> None:
        out = self.review.apply_written(report, files)
        if out.problems:
            self.dialogs.info(
                "Write finished",
                f"Wrote {count(out.done, 'photo')}; {out.failed} failed, "
                f"{len(out.problems) - out.failed} skipped.",
                "\n".join(out.problems),
            )
        self._update_actions()
        self.write_finished.emit(report)

    def undo_last_write(self) -> bool:
        journal = self.writer.last_journal
        if journal is None or self.writer.busy() or self.scanner.is_scanning():
            return False
        if not self.dialogs.confirm(
            "Undo last write",
            "Restore the photos the last write changed?",
            f"Journal: {journal}",
            ok_text="Restore",
        ):
            return False
        return self.writer.undo()

    def _on_undone(self, results: list[UndoResult], files: dict[Path, PhotoMetadata]) -> None:
        out = self.review.apply_undone(results, files)
        if out.problems:
            self.dialogs.error(
                "Undo incomplete",
                f"Restored {count(out.done, 'photo')}; {len(out.problems)} could not be restored.",
                "\n".join(out.problems),
            )
        self._update_actions()
        self.undo_finished.emit(results)

    def export_dialog(self, kind: str) -> bool:
        """Write the current results (the photos' estimates as shown) to CSV or GeoJSON."""
        start = (self.review.folder or Path.home()) / f"geoscope-results.{kind}"
        target = self.dialogs.save_file(f"Export {kind.upper()}", start, FILE_FILTERS[kind])
        if target is None or not len(self.model):
            return False
        try:
            export_items(self.model.items(), target)
        except (OSError, GeoScopeError) as e:
            self.dialogs.error("Export failed", f"{target} could not be written: {e}")
            return False
        self.statusBar().showMessage(f"Saved {target}", 8000)
        self.export_finished.emit(target)
        return True

    # ---------------------------------------------------------------- model --
    def choose_model(self) -> None:
        folder = self.dialogs.choose_folder("Choose a model bundle folder")
        if folder is None:
            return
        try:
            self.models.open_bundle(folder)
        except GeoScopeError as e:
            self.dialogs.error("Not a usable model bundle", str(e))

    def _on_model_changed(self) -> None:
        self.acts.provider_actions[self.models.choice.provider].setChecked(True)
        self.status.model_label.setText(self.models.label())

    def choose_tiles(self) -> bool:
        """Ask for an MBTiles or PMTiles file and draw it on the map when zoomed in."""
        path = self.dialogs.open_file(
            "Open offline map tiles", "Map tiles (*.mbtiles *.pmtiles);;All files (*)"
        )
        name = ""
        try:
            name = self.map.open_tiles(path) if path is not None else ""
        except GeoScopeError as e:
            self.dialogs.error("Cannot use these map tiles", str(e))
        if name:
            self.statusBar().showMessage(f"Map tiles: {name} (shown when zoomed in)", 8000)
        return bool(name)

    def _follow_selection(self, follow: bool) -> None:
        """View ▸ Follow Selection: whether the map centres on each photo selected."""
        self.acts.follow_selection.setChecked(follow)
        self.selection.follow = follow
        self.settings.set_follow_selection(follow)
        if follow and self.selection.current is not None:
            self.selection.show(self.selection.current, center=True)

    def show_help(self) -> None:
        from geoscope_desktop.about import help_markdown

        self.dialogs.markdown("GeoScope Help", help_markdown())

    def show_about(self) -> None:
        self.dialogs.markdown("About GeoScope", self.models.about_markdown())

    # -------------------------------------------------------------- helpers --
    def _update_actions(self) -> None:
        self.status.set_selected(len(self.selection.rows()))
        self.acts.update(
            scanning=self.scanner.is_scanning(),
            busy=self.writer.busy(),
            has_photos=bool(len(self.model)),
            selected=self.selection.reviewable(),
            accepted=len(self.review.accepted_items()),
            can_undo=self.writer.last_journal is not None,
            fillable=len(self._fillable()),
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        unwritten = len(self.review.accepted_items())
        if unwritten and not self.writer.busy():
            answer = self.dialogs.unwritten(unwritten)
            if answer != "quit":
                event.ignore()
                if answer == "write":
                    self.write_accepted()
                return
        self.review.save_now()
        self.scanner.wait()
        self.images.wait()
        self.filmstrip.wait()
        self.viewer.wait()
        self.writer.wait()
        self.settings.save_layout(self, self.splitters)
        super().closeEvent(event)
