"""The window's panels, built here and only laid out: the photo list, the map box and
the status bar widgets. Nothing here holds state or decides anything."""

from __future__ import annotations

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
)
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.photo_model import (
    STATUS_COLORS,
    THUMB_SIZE,
    Column,
    ConfidenceDelegate,
    Filter,
    PhotoFilterProxy,
)
from geoscope_desktop.worldmap import WorldMapView


class ListPanel(QWidget):
    """Filter box, file-name search, the photo table and the empty-folder placeholder."""

    def __init__(self, proxy: PhotoFilterProxy, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_box = QComboBox()
        for f in Filter:
            self.filter_box.addItem(f.value, f.value)
        self.filter_box.setToolTip("Show only some photos")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by file or place name")
        self.search.setClearButtonEnabled(True)
        self.threshold = QSpinBox()
        self.threshold.setRange(0, 100)
        self.threshold.setSuffix(" %")
        self.threshold.setPrefix("confident ≥ ")
        self.threshold.setToolTip(
            "Estimates at or above this confidence count as confident: "
            "“Accept All Confident” accepts them"
        )
        self.table = photo_table(proxy)
        self.open_button = QPushButton("Open Folder…")
        self.placeholder = placeholder(self.open_button)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.table)

        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.filter_box)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.threshold)
        lv = QVBoxLayout(self)
        lv.setContentsMargins(8, 8, 4, 8)
        lv.addLayout(filters)
        lv.addWidget(self.stack, 1)

    def show_table(self, shown: bool) -> None:
        self.stack.setCurrentWidget(self.table if shown else self.placeholder)


class PhotoTable(QTableView):
    """The photo list. Ctrl+arrows, Ctrl+Home/End and Ctrl+PgUp/PgDn move the selection
    with the cursor (Qt's default moves the cursor alone, so the keys would act on
    photos other than the one shown); Shift extends, Ctrl+Space toggles, as usual."""

    def selectionCommand(
        self, index: QModelIndex | QPersistentModelIndex, event: QEvent | None = None
    ) -> QItemSelectionModel.SelectionFlag:
        flags = super().selectionCommand(index, event)
        if (
            isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.key() in NAVIGATION_KEYS
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
            and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            return (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
        return flags


NAVIGATION_KEYS = frozenset(
    {
        Qt.Key.Key_Up,
        Qt.Key.Key_Down,
        Qt.Key.Key_Home,
        Qt.Key.Key_End,
        Qt.Key.Key_PageUp,
        Qt.Key.Key_PageDown,
    }
)


def photo_table(proxy: PhotoFilterProxy) -> QTableView:
    table = PhotoTable()
    table.setModel(proxy)
    table.setSortingEnabled(True)
    table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setAlternatingRowColors(True)
    table.setDragEnabled(True)  # drag photos onto the map to place them
    table.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # IMG_…_0042.jpg
    table.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(THUMB_SIZE + 8)
    table.setItemDelegateForColumn(Column.CONFIDENCE, ConfidenceDelegate(table))
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(Column.PLACE, QHeaderView.ResizeMode.Stretch)
    for col, width in (
        (Column.THUMB, THUMB_SIZE + 14),
        (Column.NAME, 150),
        # the whole "2008-05-08 14:03", whatever the font
        (Column.TAKEN, table.fontMetrics().horizontalAdvance("2088-08-28 08:08") + 20),
        (Column.CAMERA, 90),
        (Column.GPS, 96),
        (Column.CONFIDENCE, 84),
        (Column.STATUS, 80),
    ):
        table.setColumnWidth(col, width)
    return table


def placeholder(open_button: QPushButton) -> QWidget:
    """What the list shows before a folder with photos is open."""
    widget = QWidget()
    ph = QVBoxLayout(widget)
    ph.addStretch(1)
    title = QLabel("Where were these photos taken?")
    title.setAlignment(Qt.AlignmentFlag.AlignCenter)
    title.setStyleSheet("font-size: 20px; font-weight: 600;")
    hint = QLabel(
        "Open a folder of photos (Ctrl+O) or drop one here.\n"
        "GeoScope estimates each photo's location on this computer — nothing is uploaded."
    )
    hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
    open_button.setFixedWidth(180)
    ph.addWidget(title)
    ph.addWidget(hint)
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(open_button)
    row.addStretch(1)
    ph.addLayout(row)
    ph.addStretch(2)
    return widget


def map_box(world: WorldMapView, search: QWidget) -> QWidget:
    """The place search over the map, the map, and its legend of marker colours."""
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
        + "  ■ placed by you or your GPS"
        + "  <span style='color:#d32f2f; font-size:14px'>◉</span> selected"
        + "  <span style='color:#7b1fa2; font-size:14px'>○</span> alternative"
        + " · a number: photos there (click to select) · drag photos/markers to place them"
    )
    legend.setStyleSheet("padding: 2px 6px;")
    legend.setWordWrap(True)  # never a reason for the window to widen
    box = QWidget()
    mv = QVBoxLayout(box)
    mv.setContentsMargins(8, 0, 8, 4)
    mv.setSpacing(2)
    mv.addWidget(search)
    mv.addWidget(world, 1)
    mv.addWidget(legend)
    return box


class StatusWidgets:
    """Counts, scan progress (label, bar, Cancel) and the model label of the status bar."""

    def __init__(self) -> None:
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel("")
        self.cancel_btn = QPushButton("Cancel")
        self.counts_label = QLabel("")
        self.selected_label = QLabel("")
        self.model_label = QLabel("")

    def install(self, bar: QWidget) -> None:
        bar.addWidget(self.counts_label)  # type: ignore[attr-defined]
        # permanent: a status message never hides how many photos the keys act on
        widgets = (self.selected_label, self.progress_label, self.progress, self.cancel_btn)
        for w in (*widgets, self.model_label):
            bar.addPermanentWidget(w)  # type: ignore[attr-defined]
        self.show_progress(False)

    def set_selected(self, n: int) -> None:
        """'3 selected ·' before the model (nothing when no photo is selected)."""
        self.selected_label.setText(f"{n:,} selected ·" if n else "")

    def scan_started(self) -> None:
        self.progress.setRange(0, 0)  # busy until the first photo is done
        self.show_progress(True)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def show_progress(self, visible: bool) -> None:
        for w in (self.progress, self.progress_label, self.cancel_btn):
            w.setVisible(visible)
