"""The user's track logs and camera clocks in the app.

Tracks come from Scan ▸ Add Track Logs or a drop on the window; they place the photos
of the next scan by time and, after a scan, the photos already listed at once. A
camera's clock offset changed in the Camera Clocks panel moves its photos live: the
evidence of the last scan places them again by time (``scan.items.placed_by_time``),
no model is run and nothing is read again.

The folder is one trip (``geoscope_core/placement``): after every decision of the user
(a photo placed, accepted, moved to an alternative) and every clock change, the
placement runs again over each photo's own evidence from the scan, the decided photos
holding their trip-mates as camera GPS would (``scan.items.follow_decisions``); an
undecided photo follows them, its reason saying so, or goes back to its own estimate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from geoscope_desktop.controllers.review import ReviewController
from geoscope_desktop.controllers.scan import ScanController

if TYPE_CHECKING:
    from geoscope_core.evidence.personal import PersonalEvidence
    from geoscope_core.photos.metadata import PhotoMetadata
    from geoscope_core.prediction import Prediction
    from geoscope_core.scan.types import ScanResult, TripEvidence
    from geoscope_desktop.items import PhotoItem

log = logging.getLogger(__name__)

#: what a photo the evidence no longer places says until it is scanned again
OFF_TRACK = "not on your track with this clock offset: scan again for the model's estimate"


@dataclass(frozen=True)
class CameraClock:
    """One camera of the scanned photos: its ``camera`` name, clock correction
    ``seconds`` (added to its clock to get true time), where that came from (``origin``:
    "estimated", "set by you", "--time-offset", "none"), how many ``photos`` and the
    evidence behind an estimate in words (``note``; "" for none)."""

    camera: str
    seconds: float
    origin: str
    photos: int
    note: str = ""


@dataclass(frozen=True)
class ZoneSuggestion:
    """A time zone where the photos were: its IANA ``zone``, ``where`` it was found in
    words ("your track", "your GPS photos") and its offset from UTC on the photos' day
    (``utc_offset_min``, minutes east; None when no photo has a date)."""

    zone: str
    where: str
    utc_offset_min: int | None = None


class TrackController(QObject):
    """Track logs, the evidence of the last scan and its cameras' clocks.

    Signals: ``tracks_changed(list)`` the lines to draw ([K, 2] lat, lon degrees);
    ``cameras_changed()`` after a scan or a change of the tracks; ``moved(n)`` after
    photos were placed again (``n`` photos changed); ``followed(n)`` after ``n``
    undecided photos moved with their trip-mates (or back to their own estimate).
    """

    tracks_changed = Signal(list)
    cameras_changed = Signal()
    moved = Signal(int)
    followed = Signal(int)

    def __init__(
        self, scanner: ScanController, review: ReviewController, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._scanner = scanner
        self._review = review
        self.evidence: PersonalEvidence | None = None
        #: the loaded tracks' lines ([K, 2] lat, lon degrees each)
        self.lines: list[np.ndarray] = []
        #: photos the evidence placed by time (the rest are the model's or their own GPS)
        self._by_time: set[Path] = set()
        #: each photo's last result not placed by the evidence, to go back to
        self._fallback: dict[Path, ScanResult] = {}
        #: each scanned photo's own evidence, for placing the folder again as a trip
        self._trip: dict[Path, TripEvidence] = {}
        #: what the last placement of the folder as a trip read (``_trip_inputs``)
        self._followed: tuple | None = None
        scanner.result.connect(self._on_result)
        scanner.finished.connect(self._on_scan_done)
        review.changed.connect(self._on_decision)

    # -- tracks ----------------------------------------------------------------------
    def add(self, paths: Sequence[Path]) -> int:
        """Use these track logs too (raises GeoScopeError naming a file that cannot be
        read; the tracks in use stay). Photos already scanned are placed by them at once;
        returns how many moved."""
        if not paths:
            return 0
        self.lines = self._scanner.add_tracks(paths)
        self.tracks_changed.emit(self.lines)
        if not any(it.result is not None for it in self._review.items()):
            return 0
        from geoscope_core.scan.pipeline import load_evidence

        evidence = load_evidence(self._scanner.options)
        self._settle(evidence, estimate=self.evidence is None)
        return self._place_again()

    def _settle(self, evidence: PersonalEvidence, estimate: bool) -> None:
        """Use ``evidence`` (its tracks read) from now on, with the scanned GPS photos as
        fixes, as the scan adds them; the clock offsets in use are kept, or (``estimate``)
        settled again as the scan settles them: the user's stay, the others are estimated
        from their anchors and the model's estimates of the photos at hand."""
        from geoscope_core.prediction import Source

        metas = self._metas()
        if self._scanner.options.neighbors:
            evidence.add_reference_photos([m for m in metas if _tagged(m)])
        if not estimate and self.evidence is not None:
            for co in self.evidence.cameras.values():
                evidence.set_offset(co.camera, co.seconds, co.origin)
        else:
            need = evidence.cameras_to_estimate(metas)
            judged = {
                path: r.prediction
                for path, r in self._fallback.items()
                if r.prediction is not None
                and r.prediction.source is Source.MODEL
                and r.metadata is not None
                and r.metadata.camera in need
            }
            evidence.resolve_offsets(metas, predictions=judged)
        self.evidence = evidence
        self.cameras_changed.emit()

    def forget(self) -> None:
        """Drop the track logs, clock offsets and time zone in use, and the evidence of
        the last scan (another folder is opened: it has its own)."""
        self._scanner.forget_evidence()
        self.evidence = None
        self.lines = []
        self.tracks_changed.emit(self.lines)
        self.cameras_changed.emit()

    # -- time zone ---------------------------------------------------------------------
    def zone(self) -> str | None:
        """The zone of camera clocks that wrote no OffsetTimeOriginal (None: where the
        photos were), as ``geoscope scan --tz`` takes it."""
        evidence = self._scanner.options.evidence
        return evidence.tz if evidence else None

    def set_zone(self, zone: str | None) -> int:
        """Read the clocks of cameras that wrote no OffsetTimeOriginal in ``zone`` (an IANA
        name or +-HH:MM, as ``geoscope scan --tz``; None: from where the photos were) and
        place the scanned photos again by time, as a scan with that zone places them;
        returns how many moved. The clock offsets the user gave stay; the estimated ones
        are estimated again (a zone changes what their anchors say). Raises ConfigError
        for a zone that is none (nothing changes)."""
        self._scanner.set_zone(zone)
        given = self._scanner.options.evidence
        if self.evidence is None or given is None:
            return 0
        from geoscope_core.evidence.personal import PersonalEvidence

        options = replace(self.evidence.options, tz=given.tz, time_offsets=given.time_offsets)
        self._settle(PersonalEvidence(self.evidence.track, options), estimate=True)
        return self._place_again()

    def zone_suggestions(self) -> list[ZoneSuggestion]:
        """The IANA zones where the photos were, told by the tracks' ends and the GPS
        photos' points (offline, ``tzfpy``), the most common first; empty when neither
        is there."""
        from zoneinfo import ZoneInfo

        from geoscope_core.evidence.phototime import zone_at

        points = [
            ("your track", float(line[k, 0]), float(line[k, 1]))
            for line in self.lines
            if len(line)
            for k in (0, -1)
        ]
        metas = self._metas()
        points += [("your GPS photos", *m.gps) for m in metas if _tagged(m) and m.gps]
        found: dict[str, tuple[str, int]] = {}
        for where, lat, lon in points:
            zone = zone_at(round(lat, 2), round(lon, 2))  # ~1 km: the look-ups repeat
            if zone:
                first, n = found.get(zone, (where, 0))
                found[zone] = (first, n + 1)
        times = sorted(m.taken_at for m in metas if m.taken_at is not None)
        day = times[len(times) // 2] if times else None
        out = []
        for zone, (where, _n) in sorted(found.items(), key=lambda kv: -kv[1][1]):
            offset = ZoneInfo(zone).utcoffset(day) if day is not None else None
            minutes = None if offset is None else round(offset.total_seconds() / 60)
            out.append(ZoneSuggestion(zone, where, minutes))
        return out

    # -- clocks ------------------------------------------------------------------------
    def cameras(self) -> list[CameraClock]:
        """The cameras of the scanned photos with a capture time, most photos first."""
        counts: dict[str, int] = {}
        for m in self._metas():
            if m.taken_at is not None:
                counts[m.camera] = counts.get(m.camera, 0) + 1
        out = []
        for cam, n in counts.items():
            co = self.evidence.cameras.get(cam) if self.evidence is not None else None
            seconds = co.seconds if co is not None else 0.0
            origin = co.origin if co is not None else "none"
            note = co.estimate.note if co is not None and co.estimate is not None else ""
            out.append(CameraClock(cam, seconds, origin, n, note))
        return sorted(out, key=lambda c: (-c.photos, c.camera))

    def set_offset(self, camera: str, seconds: float) -> int:
        """Correct ``camera``'s clock by ``seconds`` and place the photos again by time;
        returns how many photos moved (0 without evidence: no track, no GPS photo)."""
        self._scanner.set_time_offset(camera, seconds)
        if self.evidence is None:
            return 0
        self.evidence.set_offset(camera, seconds)
        return self._place_again()

    # -- placing -------------------------------------------------------------------------
    def scanned_metadata(self) -> list[PhotoMetadata]:
        """What the scan read of each listed photo that carries no camera GPS."""
        return [m for m in self._metas() if not _tagged(m)]

    def _metas(self) -> list[PhotoMetadata]:
        return [
            it.result.metadata
            for it in self._review.items()
            if it.result is not None and it.result.metadata is not None
        ]

    def _place_again(self) -> int:
        """Every scanned photo without camera GPS placed again by the evidence; those it
        no longer places go back to their earlier estimate (or wait for a scan)."""
        from geoscope_core.scan.items import placed_by_time

        if self.evidence is None:
            return 0
        metas = [m for m in self._metas() if not _tagged(m)]
        moved = 0
        for meta, result in zip(metas, placed_by_time(self.evidence, metas), strict=True):
            before = self._review.item_for(meta.path)
            if result is not None and result.trip is not None:
                self._trip[meta.path] = result.trip
            elif meta.path in self._by_time and meta.path in self._fallback:
                back_trip = self._fallback[meta.path].trip
                if back_trip is not None:
                    self._trip[meta.path] = back_trip
            if result is not None:
                self._by_time.add(meta.path)
                after = self._review.apply_scan(result)
            elif meta.path in self._by_time:
                self._by_time.discard(meta.path)
                back = self._fallback.get(meta.path)
                after = (
                    self._review.apply_scan(back)
                    if back is not None
                    else self._review.unplace(meta.path, OFF_TRACK)
                )
            else:
                continue
            moved += after is not None and before is not None and after.location != before.location
        self.moved.emit(moved)
        self.follow()
        return moved

    def follow(self) -> int:
        """Place the folder again as one trip after the user's decisions; returns how many
        undecided photos moved (with their trip-mates, or back to their own estimate)."""
        from geoscope_core.scan.items import follow_decisions
        from geoscope_core.scan.types import ScanResult, ScanStatus
        from geoscope_desktop.items import PhotoStatus

        items = [it for it in self._review.items() if it.path in self._trip]
        if len(items) < 2:
            return 0
        decided = [_decision(it) for it in items]
        placed = follow_decisions(
            [self._trip[it.path] for it in items], decided, self._scanner.options
        )
        moved = 0
        for it, new in zip(items, placed, strict=True):
            if new is None or it.status is not PhotoStatus.ESTIMATED or it.result is None:
                continue
            pred, reason = new
            old = it.prediction
            if old is not None and (old.lat, old.lon) == (pred.lat, pred.lon):
                continue
            result = ScanResult(
                it.path,
                ScanStatus.of(pred.source),
                pred,
                it.result.metadata,
                reason=reason,
                trip=it.result.trip,
            )
            moved += self._review.apply_scan(result) is not None
        if moved:
            self.followed.emit(moved)
        self._followed = self._trip_inputs()
        return moved

    def _trip_inputs(self) -> tuple:
        """Everything ``follow`` reads (each listed photo's trip evidence, status, point,
        radius, source, the model's point, whether it has a result; the time window):
        while it is what the last placement read (and left), placing the folder again
        gives what it gave and moves nothing."""
        from geoscope_desktop.items import PhotoStatus

        window = self._scanner.options.time_window_s
        rows = []
        for it in self._review.items():
            trip = self._trip.get(it.path)
            if trip is None:
                continue
            d, p = _decision(it), it.prediction
            rows.append((
                it.path, trip, it.status is PhotoStatus.ESTIMATED, it.result is not None,
                None if d is None else (d.lat, d.lon, d.radius_km),
                None if p is None else (p.lat, p.lon),
            ))  # fmt: skip
        return (window, tuple(rows))

    def _on_decision(self, message: str) -> None:
        # a change the placement does not read (place names typed, a write of what was
        # accepted) cannot move a photo: the folder is not placed again for it
        if message and self._trip and self._trip_inputs() != self._followed:
            self.follow()

    def _on_result(self, result: ScanResult) -> None:
        from geoscope_core.scan.types import ScanStatus

        if result.trip is not None:
            self._trip[Path(result.path)] = result.trip
        self._by_time.discard(Path(result.path))
        if (
            result.status in (ScanStatus.PREDICTED, ScanStatus.NEIGHBORS)
            and result.prediction is not None
        ):
            self._fallback[Path(result.path)] = result

    def _on_scan_done(self, _cancelled: bool) -> None:
        from geoscope_core.scan.items import placed_by_time

        self.evidence = self._scanner.evidence
        if self.evidence is not None:
            metas = [m for m in self._metas() if not _tagged(m)]
            placed = placed_by_time(self.evidence, metas)
            self._by_time = {m.path for m, r in zip(metas, placed, strict=True) if r is not None}
            for path in self._by_time:
                self._fallback.pop(path, None)
        self.cameras_changed.emit()


def _decision(it: PhotoItem) -> Prediction | None:
    """The location the user decided for ``it`` (accepted, written, placed or moved by
    hand), which holds its trip-mates; None while undecided."""
    from geoscope_core.prediction import Source
    from geoscope_desktop.items import PhotoStatus

    p = it.prediction
    if p is None or it.status in (PhotoStatus.REJECTED, PhotoStatus.ERROR):
        return None
    by_hand = p.source is Source.USER or it.corrected
    return p if it.status in (PhotoStatus.ACCEPTED, PhotoStatus.WRITTEN) or by_hand else None


def _tagged(meta: PhotoMetadata) -> bool:
    return meta.gps is not None and not meta.gps_is_estimate
