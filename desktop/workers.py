"""Background work for the app: scanning, thumbnails and one-off tasks.

Workers only emit signals; widgets connect to them. Nothing here touches a
widget, and every exception is turned into a ``failed`` signal with details.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QObject,
    QRunnable,
    QSize,
    Qt,
    QThread,
    QThreadPool,
    Signal,
    Slot,
)
from PySide6.QtGui import QImage, QImageReader

from geoscope_core.errors import ConfigError
from geoscope_core.runtime.session import PROVIDER_NAMES

if TYPE_CHECKING:
    import numpy as np

    from geoscope_core.evidence.personal import PersonalEvidence
    from geoscope_core.photos.metadata import PhotoMetadata
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.types import ScanOptions

log = logging.getLogger(__name__)

PROVIDERS = PROVIDER_NAMES


@dataclass(frozen=True)
class ModelChoice:
    """Which bundle to run and where.

    ``model``: a bundle name or folder, None for the default bundle;
    ``provider``: auto|cpu|cuda.
    """

    model: str | None = None
    provider: str = "auto"

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ConfigError(f"provider must be one of {PROVIDERS}, got {self.provider!r}")

    @property
    def label(self) -> str:
        name = Path(self.model).name if self.model else "geoscope-lite (default)"
        return f"{name} · {self.provider.upper() if self.provider != 'auto' else 'auto'}"


def load_predictor(choice: ModelChoice) -> Predictor:
    """Load the predictor for ``choice`` (raises BundleError / ProviderError)."""
    from geoscope_core.runtime.predictor import Predictor

    return Predictor.load(choice.model, provider=choice.provider)


def _details() -> str:
    return traceback.format_exc()


class ScanWorker(QObject):
    """Scans ``paths`` with ``Scanner.scan``; lives in its own ``QThread``.

    Signals: ``model_ready(Predictor)`` once the model is loaded,
    ``progress(done, total)``, ``result(ScanResult)`` per photo,
    ``failed(message, details)``, ``finished(cancelled)`` always last.
    """

    model_ready = Signal(object)
    progress = Signal(int, int)
    result = Signal(object)
    failed = Signal(str, str)
    finished = Signal(bool)

    def __init__(
        self,
        paths: Sequence[Path],
        choice: ModelChoice,
        options: ScanOptions | None = None,
        predictor: Predictor | None = None,
    ) -> None:
        super().__init__()
        self._paths = list(paths)
        self._choice = choice
        self._options = options
        self._predictor = predictor
        self._cancel = threading.Event()
        #: the user's evidence the scan placed photos by (None: none); read after ``finished``
        self.evidence: PersonalEvidence | None = None

    def cancel(self) -> None:
        """Ask the scan to stop (thread-safe); ``finished(True)`` follows."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @Slot()
    def run(self) -> None:
        try:
            from geoscope_core.scan.pipeline import Scanner
            from geoscope_core.scan.types import ScanOptions

            predictor = self._predictor
            if predictor is None:
                predictor = load_predictor(self._choice)
                self.model_ready.emit(predictor)
            if self._cancel.is_set():
                return
            scanner = Scanner(predictor, self._options or ScanOptions())
            for res in scanner.scan(self._paths, progress=self.progress.emit, cancel=self._cancel):
                self.result.emit(res)
                if self._cancel.is_set():
                    break
            self.evidence = scanner.evidence
            predictor.release_memory()  # the app keeps the model between scans, not its arena
        except Exception as e:  # a worker is an edge: report, never crash the app
            log.exception("scan failed")
            self.failed.emit(f"The scan stopped: {e}", _details())
        finally:
            self.finished.emit(self._cancel.is_set())


class ScanJob(QObject):
    """Owns a ``ScanWorker`` and its ``QThread``; ``done`` fires after the thread ended."""

    done = Signal(bool)

    def __init__(self, worker: ScanWorker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("geoscope-scan")
        worker.moveToThread(self.worker_thread)
        self.worker_thread.started.connect(worker.run)
        worker.finished.connect(self._on_finished)

    def start(self) -> None:
        self.worker_thread.start()

    def cancel(self) -> None:
        self.worker.cancel()

    def wait(self, ms: int = 30_000) -> bool:
        self.worker.cancel()
        self.worker_thread.quit()
        return bool(self.worker_thread.wait(ms))

    @Slot(bool)
    def _on_finished(self, cancelled: bool) -> None:
        self.worker_thread.quit()
        self.worker_thread.wait()
        self.done.emit(cancelled)


class _TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(str, str)


class Task(QRunnable):
    """Runs ``fn()`` on a pool; emits ``signals.done(out)`` or ``signals.failed(msg, details)``."""

    def __init__(self, fn: Callable[[], Any], what: str) -> None:
        super().__init__()
        self._fn = fn
        self._what = what
        self.signals = _TaskSignals()
        self.setAutoDelete(False)

    def run(self) -> None:
        try:
            out = self._fn()
        except Exception as e:  # an edge: report what failed
            log.exception("%s failed", self._what)
            self.signals.failed.emit(f"{self._what} failed: {e}", _details())
        else:
            self.signals.done.emit(out)


class _ImageSignals(QObject):
    loaded = Signal(int, str, QImage)
    gps = Signal(int, str, object)


class _ImageTask(QRunnable):
    def __init__(
        self, signals: _ImageSignals, generation: int, path: Path, size: int, with_gps: bool
    ) -> None:
        super().__init__()
        self._signals = signals
        self._generation = generation
        self._path = path
        self._size = size
        self._with_gps = with_gps

    def run(self) -> None:
        image = read_scaled_image(self._path, self._size)
        self._signals.loaded.emit(self._generation, str(self._path), image)
        if self._with_gps:
            self._signals.gps.emit(
                self._generation, str(self._path), read_file_metadata(self._path)
            )


def read_file_metadata(path: Path) -> PhotoMetadata | None:
    """What the file (or its XMP sidecar) says: GPS, date taken, camera; None if unreadable."""
    from geoscope_core.errors import MetadataError
    from geoscope_core.photos.metadata import read_metadata

    try:
        return read_metadata(path)
    except MetadataError as e:
        log.debug("no metadata for %s: %s", path, e)
        return None


def read_scaled_image(path: Path, size: int) -> QImage:
    """``path`` decoded and scaled to fit ``size`` x ``size`` pixels (EXIF orientation applied).

    Uses Qt's scaled JPEG decoding; a camera raw file shows its embedded JPEG preview;
    formats Qt cannot read (HEIC) go through the runtime's decoder. Returns a null
    QImage when the file cannot be decoded.
    """
    from geoscope_core.formats import format_of

    fmt = format_of(path)
    if fmt is not None and fmt.raw:
        return _raw_preview_image(path, size)
    image = _fitted(QImageReader(str(path)), size).read()
    if not image.isNull():
        return image
    try:
        from geoscope_core.errors import ImageDecodeError
        from geoscope_core.runtime.images import load_image
        from geoscope_core.runtime.manifest import ResizeMode

        pixels = load_image(path, size, ResizeMode.CENTER_CROP)
    except (ImportError, ImageDecodeError) as e:
        log.debug("no preview for %s: %s", path, e)
        return QImage()
    return _qimage(pixels)


def _qimage(pixels: np.ndarray) -> QImage:
    """A QImage of its own of uint8 [H, W, 3] RGB ``pixels``."""
    h, w = int(pixels.shape[0]), int(pixels.shape[1])
    return QImage(pixels.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def _fitted(reader: QImageReader, size: int) -> QImageReader:
    """``reader`` set to decode scaled to fit ``size`` x ``size`` px (Qt's scaled JPEG
    decoding), its own EXIF orientation applied."""
    reader.setAutoTransform(True)
    src = reader.size()
    if src.isValid() and src.width() > 0 and src.height() > 0:
        reader.setScaledSize(src.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    return reader


def _raw_preview_image(path: Path, size: int) -> QImage:
    """The embedded JPEG preview of the camera raw file ``path``, scaled to fit ``size``
    px and turned (or mirrored) as the raw file says, by the scan's own decode of it (a
    null QImage when it has none)."""
    from geoscope_core.errors import ImageDecodeError
    from geoscope_core.runtime.images import raw_preview_fitted

    try:
        return _qimage(raw_preview_fitted(path, size))
    except (ImportError, ImageDecodeError) as e:
        log.debug("no preview for %s: %s", path, e)
        return QImage()


class ImageLoader(QObject):
    """Decodes previews on a background pool; ``loaded(path, QImage)`` in the GUI thread.

    ``clear()`` drops queued work and ignores answers still in flight (e.g. a
    new folder was opened).
    """

    loaded = Signal(Path, QImage)
    gps_read = Signal(Path, object)

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._signals = _ImageSignals(self)
        self._signals.loaded.connect(self._on_loaded)
        self._signals.gps.connect(self._on_gps)
        self._generation = 0

    def request(self, path: Path, size: int, priority: int = 0, with_gps: bool = False) -> None:
        """Decode ``path`` to fit ``size`` px; with ``with_gps`` also read its metadata
        (``gps_read(path, PhotoMetadata | None)``)."""
        task = _ImageTask(self._signals, self._generation, path, size, with_gps)
        self._pool.start(task, priority)

    def clear(self) -> None:
        self._generation += 1
        self._pool.clear()

    def wait(self, ms: int = 10_000) -> bool:
        return bool(self._pool.waitForDone(ms))

    @Slot(int, str, QImage)
    def _on_loaded(self, generation: int, path: str, image: QImage) -> None:
        if generation == self._generation:
            self.loaded.emit(Path(path), image)

    @Slot(int, str, object)
    def _on_gps(self, generation: int, path: str, gps: object) -> None:
        if generation == self._generation:
            self.gps_read.emit(Path(path), gps)


@dataclass
class TaskRunner:
    """Starts ``Task``s on a small pool and keeps them alive until they report."""

    pool: QThreadPool = field(default_factory=QThreadPool)
    _running: set[Task] = field(default_factory=set)

    def start(
        self,
        fn: Callable[[], Any],
        what: str,
        on_done: Callable[[Any], None],
        on_failed: Callable[[str, str], None],
    ) -> Task:
        task = Task(fn, what)
        self._running.add(task)

        def finish_done(out: Any) -> None:
            self._running.discard(task)
            on_done(out)

        def finish_failed(msg: str, details: str) -> None:
            self._running.discard(task)
            on_failed(msg, details)

        task.signals.done.connect(finish_done, Qt.ConnectionType.QueuedConnection)
        task.signals.failed.connect(finish_failed, Qt.ConnectionType.QueuedConnection)
        self.pool.start(task)
        return task

    def busy(self) -> bool:
        return bool(self._running)

    def wait(self, ms: int = 30_000) -> bool:
        return bool(self.pool.waitForDone(ms))
