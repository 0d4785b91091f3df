"""The photo list: a table model over ``PhotoItem``s, a sort/filter proxy and a confidence bar."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from geoscope_core.prediction import Source
from geoscope_desktop.items import (
    REVIEWABLE,
    PhotoItem,
    PhotoStatus,
    estimate_text,
    format_latlon,
    is_unsure,
    place_text,
)

ModelIndex = QModelIndex | QPersistentModelIndex

#: role holding a sortable key (numbers sort as numbers)
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
#: role holding the ``PhotoItem`` itself
ITEM_ROLE = int(Qt.ItemDataRole.UserRole) + 2

STATUS_COLORS: dict[PhotoStatus, str] = {
    PhotoStatus.PENDING: "#8a8f98",
    PhotoStatus.HAS_GPS: "#2e7d32",
    PhotoStatus.ESTIMATED: "#e07b00",
    PhotoStatus.ACCEPTED: "#1565c0",
    PhotoStatus.REJECTED: "#8a8f98",
    PhotoStatus.WRITTEN: "#6a1b9a",
    PhotoStatus.ERROR: "#c62828",
}


class Column(enum.IntEnum):
    THUMB = 0
    NAME = 1
    TAKEN = 2
    CAMERA = 3
    GPS = 4
    PLACE = 5
    CONFIDENCE = 6
    STATUS = 7


HEADERS = {
    Column.THUMB: "",
    Column.NAME: "File",
    Column.TAKEN: "Taken",
    Column.CAMERA: "Camera",
    Column.GPS: "GPS in file",
    Column.PLACE: "Estimated place",
    Column.CONFIDENCE: "Confidence",
    Column.STATUS: "Status",
}

THUMB_SIZE = 64
#: the drag format of photos dragged from the list (one path per line, UTF-8)
PHOTOS_MIME = "application/x-geoscope-photos"


def photos_mime(paths: Sequence[Path]) -> QMimeData:
    mime = QMimeData()
    mime.setData(PHOTOS_MIME, QByteArray("\n".join(str(p) for p in paths).encode("utf-8")))
    return mime


def paths_from_mime(mime: QMimeData) -> list[Path]:
    raw = bytes(mime.data(PHOTOS_MIME).data()).decode("utf-8")
    return [Path(line) for line in raw.splitlines() if line]


class PhotoTableModel(QAbstractTableModel):
    """Rows of ``PhotoItem``; thumbnails are asked for lazily through ``request_thumbnail``.

    ``request_thumbnail(path)`` is called the first time a row's thumbnail is
    needed; the answer comes back through ``set_thumbnail``.
    """

    def __init__(
        self, request_thumbnail: Callable[[Path], None] | None = None, parent: Any = None
    ) -> None:
        super().__init__(parent)
        self._items: list[PhotoItem] = []
        self._row_of: dict[Path, int] = {}
        self._thumbs: dict[Path, QPixmap] = {}
        self._asked: set[Path] = set()
        self._request_thumbnail = request_thumbnail
        self._shared_names: set[str] = set()

    # -- data access ----------------------------------------------------------
    def set_items(self, items: Sequence[PhotoItem]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self._row_of = {it.path: i for i, it in enumerate(self._items)}
        names = Counter(it.name for it in self._items)
        #: file names more than one photo has (in different subfolders)
        self._shared_names = {n for n, c in names.items() if c > 1}
        self._thumbs.clear()
        self._asked.clear()
        self.endResetModel()

    def items(self) -> list[PhotoItem]:
        return list(self._items)

    def display_name(self, it: PhotoItem) -> str:
        """The photo's file name; with its folder ("day2/IMG_0001.jpg") when another
        photo in the list has the same name."""
        return f"{it.path.parent.name}/{it.name}" if it.name in self._shared_names else it.name

    def item(self, row: int) -> PhotoItem:
        return self._items[row]

    def row_of(self, path: Path) -> int:
        return self._row_of[path]

    def item_for(self, path: Path) -> PhotoItem:
        return self._items[self._row_of[path]]

    def __len__(self) -> int:
        return len(self._items)

    def replace_item(self, new: PhotoItem) -> None:
        row = self._row_of.get(new.path)
        if row is None or self._items[row] == new:
            return
        self._items[row] = new
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    def update_items(self, fn: Callable[[PhotoItem], PhotoItem], rows: Iterable[int]) -> int:
        """Apply ``fn`` to the given rows; returns how many items changed."""
        changed = 0
        for row in sorted(set(rows)):
            old = self._items[row]
            new = fn(old)
            if new != old:
                changed += 1
                self.replace_item(new)
        return changed

    def set_thumbnail(self, path: Path, pixmap: QPixmap) -> None:
        row = self._row_of.get(path)
        if row is None:
            return
        self._thumbs[path] = pixmap
        idx = self.index(row, Column.THUMB)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def thumbnail(self, path: Path) -> QPixmap | None:
        return self._thumbs.get(path)

    def counts(self) -> dict[PhotoStatus, int]:
        out = dict.fromkeys(PhotoStatus, 0)
        for it in self._items:
            out[it.status] += 1
        return out

    # -- Qt model interface ---------------------------------------------------
    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [PHOTOS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        """The dragged rows' photos, to drop on the map."""
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return photos_mime([self._items[r].path for r in rows])

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        it = self._items[index.row()]
        col = Column(index.column())
        if role == ITEM_ROLE:
            return it
        if role == Qt.ItemDataRole.DisplayRole:
            if col is Column.NAME:
                return self.display_name(it)
            return self._display(it, col)
        if role == SORT_ROLE:
            return self._sort_key(it, col)
        if role == Qt.ItemDataRole.DecorationRole and col is Column.THUMB:
            pix = self._thumbs.get(it.path)
            if pix is None and it.path not in self._asked and self._request_thumbnail:
                self._asked.add(it.path)
                self._request_thumbnail(it.path)
            return pix
        if role == Qt.ItemDataRole.ForegroundRole and col is Column.STATUS:
            return QColor(STATUS_COLORS[it.status])
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(it)
        if role == Qt.ItemDataRole.TextAlignmentRole and col is Column.CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(it: PhotoItem, col: Column) -> str | None:
        if col is Column.NAME:
            return it.name
        if col is Column.TAKEN:
            return it.taken_at.strftime("%Y-%m-%d %H:%M") if it.taken_at else ""
        if col is Column.CAMERA:
            return it.camera
        if col is Column.GPS:
            return f"{it.gps[0]:.5f}, {it.gps[1]:.5f}" if it.gps else "—"
        if col is Column.PLACE:
            if it.status is PhotoStatus.ERROR:
                return it.message
            text = place_text(it.prediction)
            if it.prediction is not None and it.status in REVIEWABLE and is_unsure(it.prediction):
                text = f"{text} (unsure)" if text else "unsure"
            if it.corrected:
                text += "  ✎"
            return text
        if col is Column.CONFIDENCE:
            if it.prediction is None or it.status is PhotoStatus.HAS_GPS:
                return ""
            return f"{it.prediction.confidence:.0%}"
        if col is Column.STATUS:
            return it.status.value
        return None

    @staticmethod
    def _sort_key(it: PhotoItem, col: Column) -> Any:
        if col is Column.CONFIDENCE:
            if it.prediction is None or it.status is PhotoStatus.HAS_GPS:
                return -1.0
            return float(it.prediction.confidence)
        if col is Column.STATUS:
            return list(PhotoStatus).index(it.status)
        if col is Column.GPS:
            return 1 if it.gps else 0
        if col is Column.TAKEN:  # by time; photos without a date last
            return it.taken_at.isoformat() if it.taken_at else "~"
        if col in (Column.THUMB, Column.NAME):  # by folder, then name
            return str(it.path).lower()
        text = PhotoTableModel._display(it, col)
        return (text or "").lower()

    @staticmethod
    def _tooltip(it: PhotoItem) -> str:
        lines = [str(it.path)]
        if it.prediction is not None:
            p = it.prediction
            own = it.status is PhotoStatus.HAS_GPS
            lines.append(
                f"{place_text(p)} — {format_latlon(p.lat, p.lon, 0.0 if own else p.radius_km)}"
            )
            if not own:
                lines.append(estimate_text(p))
        if it.message:
            lines.append(it.message)
        return "\n".join(lines)


class Filter(str, enum.Enum):
    """What the list shows."""

    ALL = "All photos"
    REVIEW = "To review"
    CONFIDENT = "Confident"
    UNCONFIDENT = "Unconfident"
    ACCEPTED = "Accepted"
    PLACED = "Placed by you"
    NEIGHBORS = "From your photos"
    MODEL = "From the model"
    HAS_GPS = "Has GPS"
    WRITTEN = "Written"
    ERRORS = "Errors"


SOURCE_FILTERS = {
    Filter.PLACED: Source.USER,
    Filter.NEIGHBORS: Source.NEIGHBORS,
    Filter.MODEL: Source.MODEL,
}


class PhotoFilterProxy(QSortFilterProxyModel):
    """Sorts by ``SORT_ROLE`` and filters by ``Filter`` and a substring of the file or
    place name.

    ``threshold``: confidence (0-1) below which an estimate counts as unconfident.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._mode = Filter.ALL
        self._text = ""
        self.threshold = 0.5
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def mode(self) -> Filter:
        return self._mode

    def _refilter(self, change: Callable[[], None]) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            change()
            self.endFilterChange()
        else:
            change()
            self.invalidateFilter()

    def set_mode(self, mode: Filter) -> None:
        self._refilter(lambda: setattr(self, "_mode", mode))

    def set_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "_text", text.strip().lower()))

    def set_threshold(self, threshold: float) -> None:
        self._refilter(lambda: setattr(self, "threshold", threshold))

    def accepts(self, it: PhotoItem) -> bool:
        if self._text and not (
            self._text in it.name.lower() or self._text in place_text(it.prediction).lower()
        ):
            return False
        m = self._mode
        if m is Filter.ALL:
            return True
        if m is Filter.CONFIDENT:
            return it.is_confident(self.threshold)
        if m in SOURCE_FILTERS:
            return (
                it.prediction is not None
                and it.status in REVIEWABLE
                and it.prediction.source is SOURCE_FILTERS[m]
            )
        if m is Filter.REVIEW:
            return it.status is PhotoStatus.ESTIMATED
        if m is Filter.UNCONFIDENT:
            return (
                it.status in (PhotoStatus.ESTIMATED, PhotoStatus.ACCEPTED)
                and it.prediction is not None
                and it.prediction.confidence < self.threshold
            )
        if m is Filter.ACCEPTED:
            return it.status is PhotoStatus.ACCEPTED
        if m is Filter.HAS_GPS:
            return it.status is PhotoStatus.HAS_GPS or it.gps is not None
        if m is Filter.WRITTEN:
            return it.status is PhotoStatus.WRITTEN
        return it.status is PhotoStatus.ERROR

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, PhotoTableModel):
            return True
        return self.accepts(model.item(source_row))


class ConfidenceDelegate(QStyledItemDelegate):
    """Draws the confidence as a small bar behind the percentage."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        value = index.data(SORT_ROLE)
        if isinstance(value, float) and value >= 0:
            painter.save()
            if option.state & QStyle.StateFlag.State_Selected:  # type: ignore[operator]
                painter.fillRect(option.rect, option.palette.highlight())
            r = option.rect.adjusted(6, 9, -6, -9)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e6e8eb"))
            painter.drawRoundedRect(r, 3, 3)
            hue = int(120 * min(1.0, value))  # red (0) -> green (120)
            painter.setBrush(QColor.fromHsv(hue, 120, 225))
            painter.drawRoundedRect(
                QRect(r.left(), r.top(), int(r.width() * value), r.height()), 3, 3
            )
            painter.setPen(QColor("#1d2733"))
            painter.drawText(r, Qt.AlignmentFlag.AlignCenter, f"{value:.0%}")
            painter.restore()
            return
        super().paint(painter, option, index)
