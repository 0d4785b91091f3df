"""View ▸ Filmstrip: bigger thumbnails of the current photo and its neighbours in the list.

A dock along the bottom of the window shows as many frames as fit its width, centred
on the list's current photo, in the list's order (its sort and filter); clicking a frame
selects that photo. Only the frames shown are decoded (one background thread), and a
small cache keeps the last ones; hidden, the strip does nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QToolButton, QWidget

from geoscope_desktop.photo_model import STATUS_COLORS
from geoscope_desktop.workers import ImageLoader

if TYPE_CHECKING:
    from geoscope_desktop.main_window import MainWindow

#: a frame's thumbnail (px)
FRAME_PX = 150
#: frame width with its margins (px)
FRAME_STEP = FRAME_PX + 16
#: decoded thumbnails kept
CACHE_SIZE = 64


class Filmstrip(QWidget):
    """The strip of frames over ``window``'s list (its table, proxy and model)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self._window = window
        self.frames: list[QToolButton] = []
        self.paths: list[Path] = []
        self._cache: OrderedDict[Path, QPixmap] = OrderedDict()
        self._asked: set[Path] = set()
        self._loader = ImageLoader(max_threads=1, parent=self)
        self._loader.loaded.connect(self._on_loaded)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(6, 4, 6, 4)
        self._layout.setSpacing(4)
        self.setMinimumHeight(FRAME_PX + 44)
        proxy = window.proxy
        window.table.selectionModel().currentRowChanged.connect(lambda *_: self.refresh())
        proxy.modelReset.connect(self._forget)
        for signal in (proxy.layoutChanged, proxy.modelReset, proxy.rowsInserted,
                       proxy.rowsRemoved, window.review.changed):  # fmt: skip
            signal.connect(lambda *_: self.refresh())

    def frame_count(self) -> int:
        """Frames that fit the strip's width (odd, so the current one is in the middle)."""
        n = max(1, (self.width() - 12) // FRAME_STEP)
        return n if n % 2 else max(1, n - 1)

    def refresh(self) -> None:
        """Show the frames around the list's current photo (nothing while hidden)."""
        if not self.isVisible():
            return
        w = self._window
        n = self.frame_count()
        while len(self.frames) < n:
            self.frames.append(self._new_frame())
        rows = w.proxy.rowCount()
        current = w.table.currentIndex().row()
        start = max(0, min(current - n // 2, rows - n))
        model = w.review.model
        items = [
            model.item(w.proxy.mapToSource(w.proxy.index(r, 0)).row())
            for r in range(start, min(rows, start + n))
        ]
        paths = [it.path for it in items]
        if paths != self.paths:  # decode what is shown now, first
            self._loader.clear()
            self._asked.clear()
            self.paths = paths
        for k, frame in enumerate(self.frames):
            if k >= len(items):
                frame.hide()
                continue
            it = items[k]
            pix = self._cache.get(it.path)
            if pix is None and it.path not in self._asked:
                self._asked.add(it.path)
                self._loader.request(it.path, FRAME_PX)
            frame.setIcon(pix if pix is not None else QPixmap())
            frame.setText(_short(it.name))
            frame.setToolTip(f"{it.name} — {it.status.value}")
            is_current = start + k == current
            frame.setStyleSheet(
                f"QToolButton {{ border: {3 if is_current else 1}px solid "
                f"{'#d32f2f' if is_current else STATUS_COLORS[it.status]}; border-radius: 4px;"
                f" padding: 2px; }}"
            )
            frame.show()

    def _forget(self) -> None:
        """Another folder: nothing decoded or asked for is of use."""
        self._loader.clear()
        self._asked.clear()
        self._cache.clear()
        self.paths = []

    def _new_frame(self) -> QToolButton:
        frame = QToolButton()
        frame.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        frame.setIconSize(QSize(FRAME_PX, FRAME_PX))
        frame.setFixedWidth(FRAME_STEP - 4)
        k = len(self.frames)
        frame.clicked.connect(lambda _=False: self._clicked(k))
        self._layout.insertWidget(k, frame)
        if k == 0:
            self._layout.addStretch(1)
        return frame

    def _clicked(self, k: int) -> None:
        if k < len(self.paths):
            self._window.selection.select_paths([self.paths[k]])

    @Slot(Path, QImage)
    def _on_loaded(self, path: Path, image: QImage) -> None:
        if image.isNull():
            return
        pix = QPixmap.fromImage(image)
        self._cache[path] = pix
        while len(self._cache) > CACHE_SIZE:
            self._asked.discard(self._cache.popitem(last=False)[0])
        if path in self.paths:
            self.frames[self.paths.index(path)].setIcon(pix)

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        self.refresh()

    def showEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().showEvent(event)
        self.refresh()

    def wait(self) -> None:
        self._loader.clear()
        self._loader.wait()


def _short(name: str, keep: int = 20) -> str:
    """A file name shortened in the middle to about ``keep`` characters."""
    if len(name) <= keep:
        return name
    half = (keep - 1) // 2
    return f"{name[:half]}…{name[-half:]}"


def install(window: MainWindow) -> Filmstrip:
    """The filmstrip in a dock at the bottom of ``window``, toggled by its View ▸ Filmstrip
    action and shown as the settings last left it."""
    strip = Filmstrip(window)
    dock = QDockWidget("Filmstrip", window)
    dock.setObjectName("filmstrip")
    dock.setWidget(strip)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    act = window.acts.filmstrip
    shown = window.settings.filmstrip_shown()
    dock.setVisible(shown)
    act.setChecked(shown)
    act.toggled.connect(dock.setVisible)
    act.toggled.connect(window.settings.set_filmstrip_shown)
    dock.visibilityChanged.connect(lambda _v: act.setChecked(not dock.isHidden()))
    return strip
