"""A bigger view of one photo: what a double-click opens, as in every photo browser.

The photo is decoded off the GUI thread (``ImageLoader``) to fit the screen; Esc,
Space or a double-click closes it. It decides nothing about the photo.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QImage, QKeyEvent, QMouseEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from geoscope_desktop.workers import ImageLoader

#: the largest side the photo is decoded to (px), whatever the screen
MAX_SIDE = 2560


class PhotoViewer(QDialog):
    """Shows the photo at ``path`` as big as the window allows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.image = QImage()
        self.label = QLabel("Loading…")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setMinimumSize(1, 1)
        self.label.setStyleSheet("background: #111; color: #ddd;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        self._loader = ImageLoader(max_threads=1, parent=self)
        self._loader.loaded.connect(self._on_loaded)

    def open_photo(self, path: Path) -> None:
        """Show ``path`` (the window opens at once; the photo follows when decoded)."""
        self.path = Path(path)
        self.image = QImage()
        self.label.setPixmap(QPixmap())
        self.label.setText("Loading…")
        self.setWindowTitle(f"{self.path.name} — GeoScope")
        screen = self.screen().availableGeometry().size() if self.screen() else QSize(1280, 800)
        self.resize(screen * 0.8)
        self._loader.clear()
        self._loader.request(self.path, min(MAX_SIDE, max(screen.width(), screen.height())))
        self.show()
        self.raise_()

    def wait(self) -> None:
        self._loader.wait()

    @Slot(Path, QImage)
    def _on_loaded(self, path: Path, image: QImage) -> None:
        if path != self.path:
            return
        self.image = image
        if image.isNull():
            self.label.setText(f"{path.name} cannot be shown")
        self._fit()

    def _fit(self) -> None:
        if not self.image.isNull():
            self.label.setPixmap(
                QPixmap.fromImage(self.image).scaled(
                    self.label.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close()
            return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.close()
