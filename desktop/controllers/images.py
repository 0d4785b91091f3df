"""Thumbnails for the list and the preview of the selected photo, decoded off the GUI thread."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from geoscope_desktop.workers import ImageLoader


class ImageFeeder(QObject):
    """Asks for thumbnails (with the file's own GPS) and previews, and hands them on.

    Signals: ``thumbnail(path, QPixmap)`` scaled to ``thumb_size`` px,
    ``gps_read(path, PhotoMetadata | None)`` (the file's GPS, date taken, camera),
    ``preview(path, QImage)``.
    """

    thumbnail = Signal(Path, QPixmap)
    gps_read = Signal(Path, object)
    preview = Signal(Path, QImage)

    def __init__(self, thumb_size: int, preview_size: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size
        self.preview_size = preview_size
        self._thumbs = ImageLoader(max_threads=2, parent=self)
        self._thumbs.loaded.connect(self._on_thumbnail)
        self._thumbs.gps_read.connect(self.gps_read)
        self._previews = ImageLoader(max_threads=1, parent=self)
        self._previews.loaded.connect(self.preview)

    def request_thumbnail(self, path: Path) -> None:
        self._thumbs.request(path, self.thumb_size * 2, with_gps=True)

    def request_preview(self, path: Path) -> None:
        self._previews.clear()
        self._previews.request(path, self.preview_size * 2)

    def clear(self) -> None:
        """Forget queued work (another folder is opened)."""
        self._thumbs.clear()
        self._previews.clear()

    def wait(self) -> None:
        self.clear()
        self._thumbs.wait()
        self._previews.wait()

    @Slot(Path, QImage)
    def _on_thumbnail(self, path: Path, image: QImage) -> None:
        if image.isNull():
            return
        pix = QPixmap.fromImage(image).scaled(
            self.thumb_size,
            self.thumb_size,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.thumbnail.emit(path, pix)
