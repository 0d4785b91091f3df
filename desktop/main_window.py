"""GeoScope's main window: photo list, detail pane, world map, scan/write/undo."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeySequence,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from geoscope_core import __version__
from geoscope_core.errors import GeoScopeError
from geoscope_core.prediction import Candidate
from geoscope_desktop.detail import PREVIEW_SIZE, DetailPane
from geoscope_desktop.dialogs import Dialogs
from geoscope_desktop.items import REVIEWABLE, PhotoItem, PhotoStatus, ProgressMeter
from geoscope_desktop.photo_model import (
    STATUS_COLORS,
    THUMB_SIZE,
    Column,
    ConfidenceDelegate,
    Filter,
    PhotoFilterProxy,
    PhotoTableModel,
)
from geoscope_desktop.settings_store import AppSettings
from geoscope_desktop.workers import (
    ImageLoader,
    ModelChoice,
    ScanJob,
    ScanWorker,
    TaskRunner,
)
from geoscope_desktop.worldmap import WorldMapView

if TYPE_CHECKING:
    from geoscope_core.photos.writer import WriteReport
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.types import ScanOptions, ScanResult

log = logging.getLogger(__name__)

WRITTEN_ACTIONS = frozenset({"written", "sidecar"})
RESTORED_ACTIONS = frozenset({"restored", "removed-sidecar"})


class MainWindow(QMainWindow):
    """The app window. Long work runs in workers; this class only connects signals.

    Signals for observers (and tests), all in the GUI thread: ``folder_opened(Path)``,
    ``scan_progress(done, total)``,
    ``scan_finished(cancelled)``, ``write_finished(WriteReport)``,
    ``undo_finished(list[UndoResult])``, ``export_finished(Path)``.
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
        self.choice = choice or settings.model_choice()
        self.scan_options = scan_options
        self.folder: Path | None = None
        self.predictor: Predictor | None = None
        self._predictor_choice: ModelChoice | None = None
        self._job: ScanJob | None = None
        self._tasks = TaskRunner()
        self._tasks.pool.setMaxThreadCount(2)
        self._meter = ProgressMeter()
        self.last_journal: Path | None = settings.last_journal()
        self.last_error: str = ""

        self.setWindowTitle("GeoScope")
        self.setAcceptDrops(True)
        self.resize(1360, 860)

        self._thumbs = ImageLoader(max_threads=2, parent=self)
        self._thumbs.loaded.connect(self._on_thumbnail)
        self._thumbs.gps_read.connect(self._on_gps_read)
        self._previews = ImageLoader(max_threads=1, parent=self)
        self._previews.loaded.connect(self._on_preview)

        self.model = PhotoTableModel(self._request_thumbnail, self)
        self.proxy = PhotoFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.set_threshold(settings.threshold())

        self._markers_timer = QTimer(self)
        self._markers_timer.setSingleShot(True)
        self._markers_timer.setInterval(250)
        self._markers_timer.timeout.connect(self._refresh_markers)

        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._restore_layout()
        self._update_actions()
        self._update_model_label()

    # ------------------------------------------------------------------ UI --
    def _action(
        self,
        text: str,
        slot: Any,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
        icon: QStyle.StandardPixmap | None = None,
    ) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(f"{tip} ({act.shortcut().toString()})" if shortcut else tip)
        if icon is not None:
            act.setIcon(self.style().standardIcon(icon))
        act.triggered.connect(slot)
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.act_open = self._action(
            "&Open Folder…",
            self.choose_folder,
            QKeySequence.StandardKey.Open,
            "Open a folder of photos",
            sp.SP_DirOpenIcon,
        )
        self.act_scan = self._action(
            "&Scan",
            self.start_scan,
            "F5",
            "Estimate where the photos were taken",
            sp.SP_MediaPlay,
        )
        self.act_cancel = self._action(
            "&Cancel Scan", self.cancel_scan, "Esc", "Stop the running scan", sp.SP_MediaStop
        )
        self.act_accept = self._action(
            "&Accept",
            self.accept_selected,
            "A",
            "Accept the selected estimates",
            sp.SP_DialogApplyButton,
        )
        self.act_reject = self._action(
            "&Reject",
            self.reject_selected,
            "R",
            "Reject the selected estimates",
            sp.SP_DialogDiscardButton,
        )
        self.act_accept_confident = self._action(
            "Accept All &Confident",
            self.accept_confident,
            "Ctrl+Shift+A",
            "Accept every estimate at or above the confidence threshold",
        )
        self.act_write = self._action(
            "&Write Locations…",
            self.write_accepted,
            QKeySequence.StandardKey.Save,
            "Write the accepted locations into the photos",
            sp.SP_DialogSaveButton,
        )
        self.act_undo = self._action(
            "&Undo Last Write",
            self.undo_last_write,
            QKeySequence.StandardKey.Undo,
            "Restore the photos the last write changed",
            sp.SP_ArrowBack,
        )
        self.act_export_csv = self._action(
            "Export &CSV…",
            lambda: self.export_dialog("csv"),
            "Ctrl+E",
            "Save the results as CSV",
        )
        self.act_export_geojson = self._action(
            "Export &GeoJSON…",
            lambda: self.export_dialog("geojson"),
            "Ctrl+Shift+E",
            "Save the results as GeoJSON",
        )
        self.act_quit = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_find = self._action(
            "&Find…", lambda: self.search.setFocus(), QKeySequence.StandardKey.Find
        )
        self.act_reset_map = self._action(
            "Show &Whole World", lambda: self.map.reset_view(), "Ctrl+0"
        )
        self.act_about = self._action("&About GeoScope…", self.show_about, "F1")
        self.act_default_model = self._action(
            "Use the &Default Model",
            self.use_default_model,
            None,
            "Use the model that ships with GeoScope",
        )
        self.act_choose_model = self._action(
            "Open Model &Bundle…",
            self.choose_model,
            "Ctrl+M",
            "Use a model bundle folder",
        )
        self.provider_group = QActionGroup(self)
        self.provider_actions: dict[str, QAction] = {}
        for key, text in (("auto", "&Automatic"), ("cpu", "&CPU"), ("cuda", "&GPU (CUDA)")):
            act = QAction(text, self, checkable=True)
            act.setData(key)
            act.setChecked(key == self.choice.provider)
            act.triggered.connect(lambda _=False, k=key: self.set_provider(k))
            self.provider_group.addAction(act)
            self.provider_actions[key] = act
        self.provider_actions["cuda"].setEnabled(_cuda_available())
        if not _cuda_available():
            self.provider_actions["cuda"].setToolTip("ONNX Runtime has no CUDA provider here")

    def _build_ui(self) -> None:
        # list side ----------------------------------------------------------
        self.filter_box = QComboBox()
        for f in Filter:
            self.filter_box.addItem(f.value, f.value)
        self.filter_box.currentIndexChanged.connect(
            lambda i: self.proxy.set_mode(Filter(self.filter_box.itemData(i)))
        )
        self.filter_box.setToolTip("Show only some photos")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by file name")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_text)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(THUMB_SIZE + 8)
        self.table.setItemDelegateForColumn(Column.CONFIDENCE, ConfidenceDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.PLACE, QHeaderView.ResizeMode.Stretch)
        for col, width in (
            (Column.THUMB, THUMB_SIZE + 14),
            (Column.NAME, 170),
            (Column.GPS, 128),
            (Column.CONFIDENCE, 84),
            (Column.STATUS, 80),
        ):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.table.doubleClicked.connect(lambda _i: self.accept_selected())

        self.placeholder = QWidget()
        ph = QVBoxLayout(self.placeholder)
        ph.addStretch(1)
        title = QLabel("Where were these photos taken?")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setStyleSheet("font-size: 20px; font-weight: 600; color: #2b3440;")
        hint = QLabel(
            "Open a folder of photos (Ctrl+O) or drop one here.\n"
            "GeoScope estimates each photo's location on this computer — nothing is uploaded."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color: #5c6670;")
        open_btn = QPushButton("Open Folder…")
        open_btn.clicked.connect(self.choose_folder)
        open_btn.setFixedWidth(180)
        ph.addWidget(title)
        ph.addWidget(hint)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(open_btn)
        row.addStretch(1)
        ph.addLayout(row)
        ph.addStretch(2)

        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.placeholder)
        self.list_stack.addWidget(self.table)

        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.filter_box)
        filters.addWidget(self.search, 1)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(8, 8, 4, 8)
        lv.addLayout(filters)
        lv.addWidget(self.list_stack, 1)

        # detail side --------------------------------------------------------
        self.detail = DetailPane()
        self.detail.accept_clicked.connect(self.accept_selected)
        self.detail.reject_clicked.connect(self.reject_selected)
        self.detail.revert_clicked.connect(self.revert_current)
        self.detail.alternative_chosen.connect(self.correct_current)

        self.map = WorldMapView()
        self.map.location_clicked.connect(self._on_map_clicked)
        legend = QLabel(
            "  ".join(
                f"<span style='color:{STATUS_COLORS[s]}; font-size:14px'>●</span> {s.value}"
                for s in (
                    PhotoStatus.HAS_GPS,
                    PhotoStatus.ESTIMATED,
                    PhotoStatus.ACCEPTED,
                    PhotoStatus.WRITTEN,
                )
            )
            + "  <span style='color:#d32f2f; font-size:14px'>◉</span> selected"
        )
        legend.setStyleSheet("color: #5c6670; padding: 2px 6px;")
        map_box = QWidget()
        mv = QVBoxLayout(map_box)
        mv.setContentsMargins(8, 0, 8, 4)
        mv.setSpacing(2)
        mv.addWidget(self.map, 1)
        mv.addWidget(legend)

        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.addWidget(self.detail)
        self.right_split.addWidget(map_box)
        self.right_split.setStretchFactor(0, 2)
        self.right_split.setStretchFactor(1, 3)

        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(left)
        self.main_split.addWidget(self.right_split)
        self.main_split.setStretchFactor(0, 1)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setSizes([760, 640])
        self.setCentralWidget(self.main_split)

        # toolbar ------------------------------------------------------------
        tb = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setIconSize(QSize(18, 18))
        for act in (self.act_open, self.act_scan, self.act_cancel):
            tb.addAction(act)
        tb.addSeparator()
        for act in (self.act_accept, self.act_reject, self.act_write, self.act_undo):
            tb.addAction(act)
        self.addToolBar(tb)

        # status bar ---------------------------------------------------------
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel("")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel_scan)
        self.counts_label = QLabel("")
        self.model_label = QLabel("")
        self.model_label.setStyleSheet("color: #5c6670;")
        sb = self.statusBar()
        sb.addWidget(self.counts_label)
        sb.addPermanentWidget(self.progress_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_btn)
        sb.addPermanentWidget(self.model_label)
        self._show_progress(False)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        file_menu.addAction(self.act_open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._rebuild_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(self.act_export_csv)
        file_menu.addAction(self.act_export_geojson)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)

        edit = mb.addMenu("&Review")
        for act in (self.act_accept, self.act_reject, self.act_accept_confident):
            edit.addAction(act)
        edit.addSeparator()
        edit.addAction(self.act_write)
        edit.addAction(self.act_undo)
        edit.addSeparator()
        edit.addAction(self.act_find)

        scan = mb.addMenu("&Scan")
        scan.addAction(self.act_scan)
        scan.addAction(self.act_cancel)

        model = mb.addMenu("&Model")
        model.addAction(self.act_default_model)
        model.addAction(self.act_choose_model)
        model.addSeparator()
        run_on = model.addMenu("Run &On")
        for act in self.provider_actions.values():
            run_on.addAction(act)

        view = mb.addMenu("&View")
        view.addAction(self.act_reset_map)

        help_menu = mb.addMenu("&Help")
        help_menu.addAction(self.act_about)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        folders = self.settings.recent_folders()
        for i, folder in enumerate(folders):
            act = self.recent_menu.addAction(f"&{i + 1} {folder}")
            act.triggered.connect(lambda _=False, f=folder: self.open_folder(f))
        if folders:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear List")
            clear.triggered.connect(self._clear_recent)
        self.recent_menu.setEnabled(bool(folders))

    def _clear_recent(self) -> None:
        self.settings.clear_recent_folders()
        self._rebuild_recent_menu()

    def _restore_layout(self) -> None:
        geo = self.settings.geometry("window")
        if geo is not None:
            self.restoreGeometry(geo)
        for key, splitter in (("main_split", self.main_split), ("right_split", self.right_split)):
            state = self.settings.geometry(key)
            if state is not None:
                splitter.restoreState(state)

    def _save_layout(self) -> None:
        self.settings.set_geometry("window", self.saveGeometry())
        self.settings.set_geometry("main_split", self.main_split.saveState())
        self.settings.set_geometry("right_split", self.right_split.saveState())
        self.settings.sync()

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
        if self.is_scanning():
            self.dialogs.info("Scan running", "Cancel the running scan before opening a folder.")
            return False
        folder = Path(folder)
        try:
            from geoscope_core.photos.walk import iter_photos

            if not folder.is_dir():
                raise FileNotFoundError(f"{folder} is not a folder")
            paths = list(iter_photos(folder))
        except (OSError, GeoScopeError) as e:
            self._error("Cannot open folder", f"{folder} could not be read: {e}")
            return False
        self._thumbs.clear()
        self._previews.clear()
        self.folder = folder
        self.model.set_paths(paths)
        self.list_stack.setCurrentWidget(self.table if paths else self.placeholder)
        self.setWindowTitle(f"{folder.name} — GeoScope")
        self.settings.add_recent_folder(folder)
        self._rebuild_recent_menu()
        self.detail.show_item(None)
        self.map.clear_estimate()
        self._refresh_markers()
        self._update_counts()
        self._update_actions()
        self.statusBar().showMessage(
            f"{len(paths):,} photos in {folder}" if paths else f"No photos in {folder}", 8000
        )
        if paths:
            self.table.selectRow(0)
        self.folder_opened.emit(folder)
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_folder(event.mimeData().urls()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = _dropped_folder(event.mimeData().urls())
        if folder is not None:
            event.acceptProposedAction()
            self.open_folder(folder)

    # ---------------------------------------------------------------- scan --
    def is_scanning(self) -> bool:
        return self._job is not None

    def start_scan(self) -> bool:
        """Scan every photo of the open folder in a worker thread."""
        if self.is_scanning() or not len(self.model):
            return False
        paths = [it.path for it in self.model.items()]
        predictor = self.predictor if self._predictor_choice == self.choice else None
        worker = ScanWorker(paths, self.choice, self.scan_options, predictor)
        worker.model_ready.connect(self._on_model_ready)
        worker.progress.connect(self._on_progress)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_scan_failed)
        job = ScanJob(worker, self)
        job.done.connect(self._on_scan_done)
        self._job = job
        self._meter.reset(len(paths))
        self.progress.setRange(0, 0)  # busy until the first photo is done
        self.progress_label.setText(
            "Loading the model…" if predictor is None else "Reading the photos…"
        )
        self._show_progress(True)
        self._update_actions()
        job.start()
        return True

    def cancel_scan(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.progress_label.setText("Cancelling…")

    @Slot(object)
    def _on_model_ready(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self._predictor_choice = self.choice
        self._update_model_label()
        if self._meter.done == 0:
            self.progress_label.setText("Reading the photos…")

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self._meter.update(done, total)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress_label.setText(self._meter.text())
        self.scan_progress.emit(done, total)

    @Slot(object)
    def _on_result(self, result: ScanResult) -> None:
        try:
            old = self.model.item_for(Path(result.path))
        except KeyError:
            log.debug("result for a photo not in the list: %s", result.path)
            return
        new = old.with_scan(result)
        self.model.replace_item(new)
        if self.detail.item is not None and self.detail.item.path == new.path:
            self._show_detail(new, center=False)
        self._markers_timer.start()

    @Slot(str, str)
    def _on_scan_failed(self, message: str, details: str) -> None:
        self._error("Scan failed", message, details)

    @Slot(bool)
    def _on_scan_done(self, cancelled: bool) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.deleteLater()
        self._show_progress(False)
        self._refresh_markers()
        self._update_counts()
        self._update_actions()
        counts = self.model.counts()
        msg = (
            f"Scan cancelled after {self._meter.done:,} of {self._meter.total:,} photos"
            if cancelled
            else f"Scanned {len(self.model):,} photos: {counts[PhotoStatus.ESTIMATED]:,} estimated,"
            f" {counts[PhotoStatus.HAS_GPS]:,} with GPS, {counts[PhotoStatus.ERROR]:,} errors"
        )
        self.statusBar().showMessage(msg, 15000)
        self.scan_finished.emit(cancelled)

    def _show_progress(self, visible: bool) -> None:
        for w in (self.progress, self.progress_label, self.cancel_btn):
            w.setVisible(visible)

    # -------------------------------------------------------------- review --
    def selected_rows(self) -> list[int]:
        """Source-model rows of the selected photos."""
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return sorted(rows)

    def select_paths(self, paths: Sequence[Path]) -> None:
        sel = self.table.selectionModel()
        sel.clearSelection()
        first = True
        for p in paths:
            idx = self.proxy.mapFromSource(self.model.index(self.model.row_of(p), 0))
            if not idx.isValid():
                continue
            flags = (
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
            )
            if first:
                sel.setCurrentIndex(idx, flags)
                first = False
            else:
                sel.select(idx, flags)

    def accept_selected(self) -> int:
        n = self.model.update_items(PhotoItem.accepted, self.selected_rows())
        self._after_review(f"Accepted {n} estimate(s)")
        return n

    def reject_selected(self) -> int:
        n = self.model.update_items(PhotoItem.rejected, self.selected_rows())
        self._after_review(f"Rejected {n} estimate(s)")
        return n

    def accept_confident(self) -> int:
        t = self.proxy.threshold
        rows = [
            i
            for i, it in enumerate(self.model.items())
            if it.status is PhotoStatus.ESTIMATED
            and it.prediction is not None
            and it.prediction.confidence >= t
        ]
        n = self.model.update_items(PhotoItem.accepted, rows)
        self._after_review(f"Accepted {n} estimate(s) at or above {t:.0%}")
        return n

    @Slot(object)
    def correct_current(self, candidate: Candidate, radius_km: float | None = None) -> None:
        item = self.detail.item
        if item is None:
            return
        new = item.corrected_to(candidate, radius_km)
        self.model.replace_item(new)
        self._after_review("Moved the estimate" if new != item else "")

    def revert_current(self) -> None:
        item = self.detail.item
        if item is not None:
            self.model.replace_item(item.reverted())
            self._after_review("Back to the model's estimate")

    @Slot(float, float, float)
    def _on_map_clicked(self, lat: float, lon: float, radius_km: float) -> None:
        item = self.detail.item
        if item is None or item.prediction is None or item.status not in REVIEWABLE:
            return
        self.correct_current(_candidate_at(lat, lon), radius_km=max(0.05, radius_km))

    def _after_review(self, message: str) -> None:
        item = self.detail.item
        if item is not None:
            self._show_detail(self.model.item_for(item.path), center=False)
        self._markers_timer.start()
        self._update_counts()
        self._update_actions()
        if message:
            self.statusBar().showMessage(message, 5000)

    # ---------------------------------------------------------------- write --
    def accepted_items(self) -> list[PhotoItem]:
        return [
            it
            for it in self.model.items()
            if it.status is PhotoStatus.ACCEPTED and it.prediction is not None
        ]

    def write_accepted(self) -> bool:
        """Ask, then write every accepted estimate through the safe writer (in a worker)."""
        items = self.accepted_items()
        if not items or self._tasks.busy() or self.is_scanning():
            return False
        n = len(items)
        folders = sorted({str(it.path.parent) for it in items})
        text = f"Write estimated locations into {n} photo{'s' if n != 1 else ''}?"
        details = (
            "GeoScope writes GPS latitude and longitude (and the place name) into each "
            "photo's metadata, marked as an estimate. The image data is not touched. "
            "Photos that already carry camera GPS are left alone, formats that cannot be "
            "changed safely get an .xmp sidecar instead, and every change is journaled so "
            "“Undo Last Write” restores the files exactly.\n\n"
            + "\n".join(f"• {f}" for f in folders[:5])
            + (f"\n• … and {len(folders) - 5} more folders" if len(folders) > 5 else "")
        )
        if not self.dialogs.confirm("Write locations", text, details, ok_text=f"Write {n}"):
            return False
        pairs = [(it.path, it.prediction) for it in items]

        def work() -> WriteReport:
            from geoscope_core.photos.writer import write_locations

            return write_locations(pairs)

        self.statusBar().showMessage(f"Writing {n} photos…")
        self._tasks.start(work, "Writing locations", self._on_written, self._on_task_failed)
        self._update_actions()
        return True

    def _on_written(self, report: WriteReport) -> None:
        failed: list[str] = []
        skipped: list[str] = []
        for res in report.results:
            try:
                item = self.model.item_for(Path(res.path))
            except KeyError:
                continue
            if res.action in WRITTEN_ACTIONS:
                note = (
                    f"written to {res.target.name}"
                    if res.action == "sidecar" and res.target
                    else ""
                )
                self.model.replace_item(_with(item, status=PhotoStatus.WRITTEN, message=note))
            elif res.action == "failed":
                failed.append(f"{res.path.name}: {res.reason}")
                self.model.replace_item(_with(item, message=f"not written: {res.reason}"))
            else:
                skipped.append(f"{res.path.name}: {res.reason or res.action}")
                self.model.replace_item(_with(item, message=f"skipped: {res.reason or res.action}"))
        if report.journal is not None:
            self.last_journal = report.journal
            self.settings.set_last_journal(report.journal)
        written = sum(1 for r in report.results if r.action in WRITTEN_ACTIONS)
        self._after_review(f"Wrote {written} photo(s)")
        if failed or skipped:
            self.dialogs.info(
                "Write finished",
                f"Wrote {written} photo(s); {len(failed)} failed, {len(skipped)} skipped.",
                "\n".join(failed + skipped),
            )
        self._update_actions()
        self.write_finished.emit(report)

    def undo_last_write(self) -> bool:
        journal = self.last_journal
        if journal is None or self._tasks.busy() or self.is_scanning():
            return False
        if not self.dialogs.confirm(
            "Undo last write",
            "Restore the photos the last write changed?",
            f"Journal: {journal}",
            ok_text="Restore",
        ):
            return False

        def work() -> list[Any]:
            from geoscope_core.photos.journal import undo

            return undo(journal)

        self._tasks.start(work, "Undo", self._on_undone, self._on_task_failed)
        self._update_actions()
        return True

    def _on_undone(self, results: list[Any]) -> None:
        problems: list[str] = []
        for res in results:
            try:
                item = self.model.item_for(Path(res.path))
            except KeyError:
                item = None
            if res.action in RESTORED_ACTIONS:
                if item is not None and item.status is PhotoStatus.WRITTEN:
                    self.model.replace_item(_with(item, status=PhotoStatus.ACCEPTED, message=""))
            else:
                problems.append(f"{Path(res.path).name}: {res.action} {res.reason}")
        restored = sum(1 for r in results if r.action in RESTORED_ACTIONS)
        if not problems:
            self.last_journal = None
            self.settings.set_last_journal(None)
        self._after_review(f"Restored {restored} photo(s)")
        if problems:
            self._error(
                "Undo incomplete",
                f"Restored {restored} photo(s); {len(problems)} could not be restored.",
                "\n".join(problems),
            )
        self._update_actions()
        self.undo_finished.emit(results)

    def _on_task_failed(self, message: str, details: str) -> None:
        self._update_actions()
        self._error("Something went wrong", message, details)

    # --------------------------------------------------------------- export --
    def export_dialog(self, kind: str) -> None:
        if not len(self.model):
            return
        start = (self.folder or Path.home()) / f"geoscope-results.{kind}"
        filters = "CSV (*.csv)" if kind == "csv" else "GeoJSON (*.geojson *.json)"
        target = self.dialogs.save_file(f"Export {kind.upper()}", start, filters)
        if target is not None:
            self.export_to(target)

    def export_to(self, target: Path) -> bool:
        """Write the current results (the photos' estimates as shown) to CSV or GeoJSON."""
        from geoscope_desktop.exporting import export_items

        try:
            export_items(self.model.items(), target)
        except (OSError, GeoScopeError) as e:
            self._error("Export failed", f"{target} could not be written: {e}", _tb())
            return False
        self.statusBar().showMessage(f"Saved {target}", 8000)
        self.export_finished.emit(target)
        return True

    # ---------------------------------------------------------------- model --
    def use_default_model(self) -> None:
        self._set_choice(ModelChoice(None, self.choice.provider))

    def choose_model(self) -> None:
        folder = self.dialogs.choose_folder("Choose a model bundle folder")
        if folder is None:
            return
        try:
            from geoscope_core.runtime.bundle import load_bundle

            load_bundle(folder, verify=True)
        except GeoScopeError as e:
            self._error("Not a usable model bundle", str(e), _tb())
            return
        self._set_choice(ModelChoice(str(folder), self.choice.provider))

    def set_provider(self, provider: str) -> None:
        self._set_choice(ModelChoice(self.choice.model, provider))

    def _set_choice(self, choice: ModelChoice) -> None:
        self.choice = choice
        self.settings.set_model_choice(choice)
        self.provider_actions[choice.provider].setChecked(True)
        if self._predictor_choice != choice:
            self.predictor = None
            self._predictor_choice = None
        self._update_model_label()

    def _update_model_label(self) -> None:
        text = f"Model: {self.choice.label}"
        if self.predictor is not None:
            text = f"Model: {self.predictor.model_id} · {self.choice.provider}"
        self.model_label.setText(text)

    def about_markdown(self) -> str:
        """The About box: version, the model and its card."""
        from geoscope_desktop.about import about_markdown

        return about_markdown(self.choice, self.predictor)

    def show_about(self) -> None:
        try:
            text = self.about_markdown()
        except GeoScopeError as e:
            text = f"# GeoScope {__version__}\n\nThe model could not be read: {e}"
        self.dialogs.markdown("About GeoScope", text)

    # -------------------------------------------------------------- helpers --
    def _request_thumbnail(self, path: Path) -> None:
        self._thumbs.request(path, THUMB_SIZE * 2, with_gps=True)

    @Slot(Path, QImage)
    def _on_thumbnail(self, path: Path, image: QImage) -> None:
        if image.isNull():
            return
        pix = QPixmap.fromImage(image).scaled(
            THUMB_SIZE,
            THUMB_SIZE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.model.set_thumbnail(path, pix)

    @Slot(Path, object)
    def _on_gps_read(self, path: Path, gps: object) -> None:
        """The file's own GPS, read with its thumbnail (before any scan)."""
        try:
            item = self.model.item_for(path)
        except KeyError:
            return
        if item.status is PhotoStatus.PENDING and item.gps is None and gps is not None:
            self.model.replace_item(_with(item, gps=gps))

    @Slot(Path, QImage)
    def _on_preview(self, path: Path, image: QImage) -> None:
        if self.detail.item is not None and self.detail.item.path == path:
            self.detail.set_preview(image)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.detail.show_item(None)
            self.map.clear_estimate()
            return
        item = self.model.item(self.proxy.mapToSource(current).row())
        self._show_detail(item, center=True)
        self._update_actions()

    def _show_detail(self, item: PhotoItem, center: bool) -> None:
        new_photo = self.detail.item is None or self.detail.item.path != item.path
        self.detail.show_item(item)
        if new_photo:
            self._previews.clear()
            self._previews.request(item.path, PREVIEW_SIZE * 2)
        pred = item.prediction
        if pred is not None:
            radius = 0.0 if item.status is PhotoStatus.HAS_GPS else pred.radius_km
            self.map.set_estimate(pred.lat, pred.lon, radius, pred.country_code, center=center)
        elif item.gps is not None:
            self.map.set_estimate(item.gps[0], item.gps[1], 0.0, center=center)
        else:
            self.map.clear_estimate()

    def _refresh_markers(self) -> None:
        markers = []
        for it in self.model.items():
            loc = it.location
            if loc is not None and it.status is not PhotoStatus.REJECTED:
                markers.append((loc[0], loc[1], it.status))
        self.map.set_markers(markers)

    def _update_counts(self) -> None:
        if not len(self.model):
            self.counts_label.setText("")
            return
        c = self.model.counts()
        parts = [f"{len(self.model):,} photos"]
        for status in (
            PhotoStatus.HAS_GPS,
            PhotoStatus.ESTIMATED,
            PhotoStatus.ACCEPTED,
            PhotoStatus.WRITTEN,
            PhotoStatus.ERROR,
        ):
            if c[status]:
                parts.append(f"{c[status]:,} {status.value}")
        self.counts_label.setText(" · ".join(parts))

    def _update_actions(self) -> None:
        scanning = self.is_scanning()
        busy = self._tasks.busy()
        has_photos = bool(len(self.model))
        selected = bool(self.table.selectionModel().selectedRows()) if has_photos else False
        self.act_open.setEnabled(not scanning)
        self.act_scan.setEnabled(has_photos and not scanning and not busy)
        self.act_cancel.setEnabled(scanning)
        self.act_accept.setEnabled(selected)
        self.act_reject.setEnabled(selected)
        self.act_accept_confident.setEnabled(has_photos)
        self.act_write.setEnabled(bool(self.accepted_items()) and not scanning and not busy)
        self.act_undo.setEnabled(self.last_journal is not None and not scanning and not busy)
        self.act_export_csv.setEnabled(has_photos)
        self.act_export_geojson.setEnabled(has_photos)
        self.act_default_model.setEnabled(not scanning)
        self.act_choose_model.setEnabled(not scanning)
        self.provider_group.setEnabled(not scanning)
        accepted = len(self.accepted_items())
        self.act_write.setText(f"&Write {accepted} Location{'s' if accepted != 1 else ''}…")

    def _error(self, title: str, message: str, details: str = "") -> None:
        self.last_error = message
        self.dialogs.error(title, message, details)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._job is not None:
            self._job.wait()
            self._job = None
        self._thumbs.clear()
        self._previews.clear()
        self._thumbs.wait()
        self._previews.wait()
        self._tasks.wait()
        self._save_layout()
        super().closeEvent(event)


def _with(item: PhotoItem, **changes: Any) -> PhotoItem:
    from dataclasses import replace

    return replace(item, **changes)


def _tb() -> str:
    return traceback.format_exc()


def _dropped_folder(urls: Sequence[Any]) -> Path | None:
    for url in urls:
        if not url.isLocalFile():
            continue
        path = Path(url.toLocalFile())
        if path.is_dir():
            return path
        if path.is_file():
            return path.parent
    return None


def _candidate_at(lat: float, lon: float) -> Candidate:
    """A candidate at a clicked point, named by the offline gazetteer when it can (degrees)."""
    try:
        from geoscope_core.geo.gazetteer import get_gazetteer

        rev = get_gazetteer().reverse(lat, lon)
    except (ImportError, GeoScopeError) as e:
        log.debug("no place name for %.4f, %.4f: %s", lat, lon, e)
        return Candidate(lat=lat, lon=lon, confidence=1.0)
    return Candidate(
        lat=lat,
        lon=lon,
        confidence=1.0,
        country_code=rev.country.country_code,
        country=rev.country.name,
        admin1=rev.admin1.name if rev.admin1 is not None else "",
        city=rev.city.name if rev.distance_km < 25 else "",
    )


def _cuda_available() -> bool:
    try:
        import onnxruntime

        return "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    except ImportError:
        return False
