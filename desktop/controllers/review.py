"""The review state of the open folder: its photos, their decisions and what was written.

``ReviewController`` owns the ``PhotoTableModel``; scans, the user's decisions,
writes and undo all change the photos through it. It emits ``changed(message)``
after every change the user made (the message is for the status bar).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from geoscope_core.geo.places import names_at
from geoscope_core.photos.plan import WROTE
from geoscope_core.photos.undo import UNDONE
from geoscope_core.prediction import Candidate, Prediction, Source
from geoscope_core.words import count
from geoscope_desktop.controllers.persistence import load_review, save_review
from geoscope_desktop.items import (
    PhotoItem,
    PhotoStatus,
    PlaceEdit,
)
from geoscope_desktop.map_markers import MapPhoto
from geoscope_desktop.photo_model import PhotoTableModel

if TYPE_CHECKING:
    from geoscope_core.photos.metadata import PhotoMetadata
    from geoscope_core.photos.plan import WriteReport
    from geoscope_core.photos.undo import UndoResult
    from geoscope_core.scan.types import ScanResult

log = logging.getLogger(__name__)

#: decisions are kept this long after the last change (ms)
SAVE_DELAY_MS = 500

#: sources that are the user's own evidence, not the model's guess (square on the map)
BY_EVIDENCE = frozenset({Source.TRACK, Source.NEIGHBORS, Source.USER})

#: statuses counted in the status bar, in this order
COUNTED = (
    PhotoStatus.HAS_GPS,
    PhotoStatus.ESTIMATED,
    PhotoStatus.ACCEPTED,
    PhotoStatus.WRITTEN,
    PhotoStatus.ERROR,
)


@dataclass(frozen=True)
class Outcome:
    """What a write or an undo did: ``done`` photos, one line per photo it did not
    do (``problems``), ``failed`` of them because of an error (the rest were skipped)."""

    done: int
    problems: tuple[str, ...] = ()
    failed: int = 0


class ReviewController(QObject):
    """The photos of the open folder and every transition they go through.

    ``threshold``: the confidence (0-1) at or above which "accept all confident"
    accepts an estimate (and below which the list calls it unconfident).
    """

    changed = Signal(str)

    def __init__(
        self,
        request_thumbnail: Callable[[Path], None] | None = None,
        threshold: float = 0.5,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = PhotoTableModel(request_thumbnail, self)
        self.folder: Path | None = None
        self.threshold = threshold
        #: decisions restored when the folder was opened
        self.restored = 0
        #: each photo's estimates written this session, the last the one its file holds
        self._written: dict[Path, list[Prediction]] = {}
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_now)
        self.changed.connect(lambda _m: self.save_soon())

    # -- folder -------------------------------------------------------------
    def open_folder(self, folder: Path) -> list[Path]:
        """List the photos under ``folder`` (recursively) and make them the list.

        Raises OSError or GeoScopeError when the folder cannot be read; the
        current list is then kept.
        """
        from geoscope_core.photos.walk import iter_photos

        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is not a folder")
        paths = list(iter_photos(folder))
        self.save_now()  # the folder being left
        self.folder = folder
        self._written = {}
        items = load_review(folder, [PhotoItem(path=p) for p in paths])
        self.model.set_items(items)
        self.restored = sum(1 for it in items if it.decided)
        return paths

    # -- kept work ------------------------------------------------------------
    def save_soon(self) -> None:
        self._save_timer.start()

    def save_now(self) -> None:
        """Keep the open folder's decisions now (also on close); logs when it cannot."""
        self._save_timer.stop()
        if self.folder is None:
            return
        try:
            save_review(self.folder, self.model.items())
        except OSError as e:
            log.warning("review state of %s not kept: %s", self.folder, e)

    # -- reading ------------------------------------------------------------
    def items(self) -> list[PhotoItem]:
        return self.model.items()

    def item_for(self, path: Path) -> PhotoItem | None:
        try:
            return self.model.item_for(Path(path))
        except KeyError:
            return None

    def accepted_items(self) -> list[PhotoItem]:
        """Photos whose accepted estimate is waiting to be written."""
        return [
            it
            for it in self.model.items()
            if it.status is PhotoStatus.ACCEPTED and it.prediction is not None
        ]

    def markers(self) -> list[MapPhoto]:
        """Every photo with a location to show (degrees), rejected ones left out."""
        out = []
        for it in self.model.items():
            loc = it.location
            if loc is not None and it.status is not PhotoStatus.REJECTED:
                p = it.prediction
                own = (
                    p is not None
                    and p.source in BY_EVIDENCE
                    and it.status is not PhotoStatus.HAS_GPS
                )
                out.append(MapPhoto(loc[0], loc[1], it.status, it.path, own))
        return out

    def counts_text(self) -> str:
        """'12 photos · 3 has GPS · 9 estimated' ('' for an empty list)."""
        if not len(self.model):
            return ""
        c = self.model.counts()
        parts = [count(len(self.model), "photo")]
        parts += [f"{c[s]:,} {s.value}" for s in COUNTED if c[s]]
        return " · ".join(parts)

    def opened_text(self) -> str:
        """'120 photos in /f · 12 decisions kept from before' after ``open_folder``."""
        n = len(self.model)
        if not n:
            return f"No photos in {self.folder}"
        kept = f" · {self.restored:,} decisions kept from before" if self.restored else ""
        return f"{count(n, 'photo')} in {self.folder}{kept}"

    def scan_summary(self) -> str:
        c = self.model.counts()
        return (
            f"Scanned {count(len(self.model), 'photo')}: {c[PhotoStatus.ESTIMATED]:,} estimated,"
            f" {c[PhotoStatus.HAS_GPS]:,} with GPS, {c[PhotoStatus.ERROR]:,} errors"
        )

    # -- what the scan and the file say ---------------------------------------
    def apply_scan(self, result: ScanResult) -> PhotoItem | None:
        """Take one scanner result; returns the updated item (None if not listed)."""
        old = self.item_for(Path(result.path))
        if old is None:
            log.debug("result for a photo not in the list: %s", result.path)
            return None
        new = old.with_scan(result)
        self.model.replace_item(new)
        return new

    def unplace(self, path: Path, message: str) -> PhotoItem | None:
        """Take back a photo's estimate that its evidence no longer gives (see
        ``PhotoItem.unplaced``); returns the item (None if not listed)."""
        old = self.item_for(path)
        if old is None:
            return None
        new = old.unplaced(message)
        self.model.replace_item(new)
        return new

    def set_file_metadata(self, path: Path, meta: PhotoMetadata | None) -> None:
        """What the file says before any scan: its own GPS (degrees), date taken, camera."""
        item = self.item_for(path)
        if item is None or meta is None:
            return
        gps = (
            item.gps if item.gps is not None or item.status is not PhotoStatus.PENDING else meta.gps
        )
        self.model.replace_item(
            replace(item, gps=gps, taken_at=meta.taken_at or item.taken_at, camera=meta.camera)
        )

    # -- the user's decisions -------------------------------------------------
    def _update(self, fn: Callable[[PhotoItem], PhotoItem], rows: Iterable[int]) -> int:
        return self.model.update_items(fn, rows)

    def accept(self, rows: Sequence[int]) -> int:
        n = self._update(PhotoItem.accepted, rows)
        self.changed.emit(f"Accepted {count(n, 'estimate')}")
        return n

    def reject(self, rows: Sequence[int]) -> int:
        n = self._update(PhotoItem.rejected, rows)
        self.changed.emit(f"Rejected {count(n, 'estimate')}")
        return n

    def accept_confident(self) -> int:
        """Accept every unreviewed estimate at or above ``threshold``."""
        t = self.threshold
        rows = [i for i, it in enumerate(self.model.items()) if it.is_confident(t)]
        n = self._update(PhotoItem.accepted, rows)
        self.changed.emit(f"Accepted {count(n, 'estimate')} at or above {t:.0%}")
        return n

    def correct(self, path: Path, candidate: Candidate) -> bool:
        """Move one photo's estimate to its alternative ``candidate`` (with the
        candidate's own radius); False when it cannot move."""
        item = self.item_for(path)
        if item is None:
            return False
        new = item.corrected_to(candidate)
        self.model.replace_item(new)
        self.changed.emit("Moved the estimate" if new != item else "")
        return new != item

    def place(
        self,
        paths: Sequence[Path],
        candidate: Candidate,
        radius_km: float,
        move_written: bool = False,
    ) -> int:
        """Place these photos by hand at ``candidate`` (radius in km); returns how many moved.
        Written photos stay unless ``move_written``; the message says why they stayed."""
        rows = [self.model.row_of(p) for p in paths if self.item_for(p) is not None]
        n = self._update(lambda it: it.placed_at(candidate, radius_km, move_written), rows)
        where = candidate.city or candidate.admin1 or candidate.country or "the map"
        stayed = len(self.written_among(paths)) if not move_written else 0
        why = f"; {count(stayed, 'written photo')} stayed (already written)" if stayed else ""
        self.changed.emit(f"Placed {count(n, 'photo')} at {where}{why}")
        return n

    def written_among(self, paths: Sequence[Path]) -> list[Path]:
        """Those of ``paths`` whose location is already written into the file."""
        return [
            p
            for p in paths
            if (it := self.item_for(p)) is not None and it.status is PhotoStatus.WRITTEN
        ]

    def rename(self, paths: Sequence[Path], names: PlaceEdit) -> int:
        """Give these photos' locations the place names the user typed."""
        rows = [self.model.row_of(p) for p in paths if self.item_for(p) is not None]
        n = self._update(lambda it: it.renamed(names), rows)
        self.changed.emit(f"Renamed the place of {count(n, 'photo')}")
        return n

    def revert(self, path: Path) -> None:
        item = self.item_for(path)
        if item is not None:
            self.model.replace_item(item.reverted())
            self.changed.emit("Back to the model's estimate")

    # -- writes and undo -----------------------------------------------------
    def apply_written(
        self, report: WriteReport, files: Mapping[Path, PhotoMetadata] | None = None
    ) -> Outcome:
        """Mark what the writer did to each photo, knowing each file written as ``files``
        read it after the write; returns how many were written."""
        problems: list[str] = []
        files = files or {}
        for res in report.results:
            item = self.item_for(Path(res.path))
            if item is None:
                continue
            pred = item.prediction if item.status is not PhotoStatus.HAS_GPS else None
            if res.action in WROTE and pred is not None:  # what the file holds until an undo
                self._written.setdefault(item.path, []).append(pred)
            item = item.after_write(res.action, res.reason, res.target)
            meta = files.get(item.path)
            self.model.replace_item(item.with_file(meta) if meta is not None else item)
            if res.action not in WROTE:
                problems.append(f"{Path(res.path).name}: {res.reason or res.action}")
        written = sum(1 for r in report.results if r.action in WROTE)
        failed = sum(1 for r in report.results if r.action == "failed")
        self.changed.emit(f"Wrote {count(written, 'photo')}")
        return Outcome(written, tuple(problems), failed)

    def apply_undone(
        self, results: Sequence[UndoResult], files: Mapping[Path, PhotoMetadata] | None = None
    ) -> Outcome:
        """Show the photos undo restored as ``files`` read them after the undo (the
        location their files carry again); returns how many were restored."""
        from geoscope_desktop.controllers.writing import photo_of

        problems: list[str] = []
        files = files or {}
        for res in results:
            item = self.item_for(photo_of(Path(res.path)))
            if item is not None:
                earlier = None
                if res.action in UNDONE and (stack := self._written.get(item.path)):
                    stack.pop()  # the write undone
                    earlier = stack[-1] if stack else None
                self.model.replace_item(item.after_undo(res.action, files.get(item.path), earlier))
            if res.action not in UNDONE:
                problems.append(f"{Path(res.path).name}: {res.action} {res.reason}")
        restored = sum(1 for r in results if r.action in UNDONE)
        self.changed.emit(f"Restored {count(restored, 'photo')}")
        return Outcome(restored, tuple(problems), len(problems))


def candidate_at(lat: float, lon: float) -> Candidate:
    """A candidate at a clicked point, named by the place that contains it (degrees); a
    city only within 25 km of the click."""
    names = names_at(lat, lon, city_within_km=25.0)
    return Candidate(lat=lat, lon=lon, confidence=1.0, radius_km=None, **names.fields())
