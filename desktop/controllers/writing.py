"""Writing accepted locations into the photos, and undoing the last write.

After either, the photos changed are read again (in the worker): the app then shows what
each file holds, and knows it as the file a later write may change."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from geoscope_core.errors import MetadataError
from geoscope_core.geo.precision import COARSE_KM
from geoscope_core.photos.plan import WROTE
from geoscope_core.photos.undo import UNDONE
from geoscope_core.words import count
from geoscope_desktop.workers import TaskRunner

if TYPE_CHECKING:
    from geoscope_core.photos.metadata import FileFingerprint, PhotoMetadata
    from geoscope_core.photos.plan import WriteReport
    from geoscope_core.photos.undo import UndoResult
    from geoscope_core.prediction import Prediction
    from geoscope_desktop.items import PhotoItem
    from geoscope_desktop.settings_store import AppSettings

log = logging.getLogger(__name__)


class WriteController(QObject):
    """Runs the safe writer and undo on a small pool and remembers the last journal.

    Signals: ``written(WriteReport, files)``, ``undone(list[UndoResult], files)`` with
    ``files`` what each photo changed holds now ({path: PhotoMetadata}, read again after
    the change), ``failed(message, details)``; ``busy_changed()`` when a task starts or
    ends.
    The last journal is kept in ``settings`` so "Undo last write" survives a restart.
    """

    written = Signal(object, object)
    undone = Signal(object, object)
    failed = Signal(str, str)
    busy_changed = Signal()

    def __init__(self, settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._tasks = TaskRunner()
        self._tasks.pool.setMaxThreadCount(2)
        self.last_journal: Path | None = settings.last_journal()

    def busy(self) -> bool:
        return self._tasks.busy()

    def write(
        self,
        pairs: Sequence[tuple[Path, Prediction]],
        scanned: Mapping[Path, FileFingerprint] | None = None,
        replace_gps: bool = False,
        roots: Sequence[Path] | None = None,
        names_only: bool = False,
    ) -> bool:
        """Write each (photo, prediction) in a worker; False when busy or nothing to write.
        ``scanned``: each photo's file as it was scanned (a photo replaced since fails);
        ``replace_gps``: replace the location the photos carry (only for photos GeoScope
        wrote, moved by the user); ``roots``: the folders opened (a link out of them is
        not written through); ``names_only``: write only the place names of photos that
        carry camera GPS, from their own point (``WriteOptions.fill_names``)."""
        if not pairs or self.busy():
            return False
        pairs = list(pairs)
        scanned = dict(scanned or {})

        def work() -> tuple[WriteReport, dict[Path, PhotoMetadata]]:
            from geoscope_core.photos.plan import WriteOptions
            from geoscope_core.photos.writer import write_locations

            report = write_locations(
                pairs,
                WriteOptions(overwrite_gps=replace_gps, fill_names=names_only),
                scanned=scanned,
                roots=roots,
            )
            return report, read_again(Path(r.path) for r in report.results if r.action in WROTE)

        what = "Writing place names" if names_only else "Writing locations"
        self._tasks.start(work, what, self._on_written, self._on_failed)
        self.busy_changed.emit()
        return True

    def undo(self) -> bool:
        """Restore the files the last write changed; False when busy or there is none."""
        journal = self.last_journal
        if journal is None or self.busy():
            return False

        def work() -> tuple[list[UndoResult], dict[Path, PhotoMetadata]]:
            from geoscope_core.photos.undo import undo

            results = undo(journal)
            return results, read_again(photo_of(r.path) for r in results if r.action in UNDONE)

        self._tasks.start(work, "Undo", self._on_undone, self._on_failed)
        self.busy_changed.emit()
        return True

    def wait(self) -> None:
        self._tasks.wait()

    def _set_journal(self, journal: Path | None) -> None:
        self.last_journal = journal
        self._settings.set_last_journal(journal)

    def _on_written(self, done: tuple[WriteReport, dict[Path, PhotoMetadata]]) -> None:
        report, files = done
        if report.journal is not None:
            self._set_journal(report.journal)
        self.busy_changed.emit()
        self.written.emit(report, files)

    def _on_undone(self, done: tuple[list[UndoResult], dict[Path, PhotoMetadata]]) -> None:
        results, files = done
        if all(r.action in UNDONE for r in results):
            self._set_journal(None)
        self.busy_changed.emit()
        self.undone.emit(results, files)

    def _on_failed(self, message: str, details: str) -> None:
        self.busy_changed.emit()
        self.failed.emit(message, details)


def photo_of(changed: Path) -> Path:
    """The photo a changed file belongs to: itself, or the photo of its XMP sidecar
    (``name.ext.xmp``, ``metadata.sidecar_path``)."""
    changed = Path(changed)
    if changed.suffix.lower() == ".xmp" and Path(changed.stem).suffix:
        return changed.with_name(changed.stem)
    return changed


def read_again(paths: Iterable[Path]) -> dict[Path, PhotoMetadata]:
    """What each photo's file holds now (a file that cannot be read is left out, logged)."""
    from geoscope_core.photos.metadata import read_metadata

    out: dict[Path, PhotoMetadata] = {}
    for path in dict.fromkeys(paths):
        try:
            out[path] = read_metadata(path)
        except MetadataError as e:
            log.warning("not read again after the change: %s", e)
    return out


def write_question(items: Sequence[PhotoItem]) -> tuple[str, str]:
    """The question (text, details) asked before writing ``items``."""
    n = len(items)
    folders = sorted({str(it.path.parent) for it in items})
    text = f"Write estimated locations into {count(n, 'photo')}?"
    radii = [it.prediction.radius_km for it in items if it.prediction is not None]
    coarse = [r for r in radii if r > COARSE_KM]
    if coarse:
        if len(radii) == 1:
            which = "This location is coarse"
        elif len(coarse) == len(radii):
            which = f"All {len(radii):,} locations are coarse"
        else:
            which = f"{len(coarse):,} of these {len(radii):,} locations are coarse"
        text += (
            f"\n\n{which} (wider than ±{COARSE_KM:g} km, up to ±{max(coarse):,.0f} km): "
            "written with only the decimals their radius warrants, and the radius itself "
            "(GPSHPositioningError)."
        )
    details = (
        "GeoScope writes GPS latitude and longitude (and the place name) into each "
        "photo's metadata, marked as an estimate. The image data is not touched. "
        "Photos that already carry camera GPS are left alone, formats that cannot be "
        "changed safely get an .xmp sidecar instead, and every change is journaled so "
        "“Undo Last Write” restores the files exactly.\n\n"
        + "\n".join(f"• {f}" for f in folders[:5])
        + (f"\n• … and {len(folders) - 5} more folders" if len(folders) > 5 else "")
    )
    return text, details
