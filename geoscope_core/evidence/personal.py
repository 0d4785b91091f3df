"""The user's own evidence for a scan: track logs, GPS-tagged photos of any device, clock
offsets, brought together to place photos by time.

    evidence = PersonalEvidence.load(EvidenceOptions(track_files=(Path("walk.gpx"),)))
    evidence.add_reference_photos(tagged_metadata)       # every GPS-tagged photo is a fix
    evidence.resolve_offsets(untagged_metadata)          # --time-offset, anchors
    placed = evidence.place(untagged_metadata)           # [TimePlacement | None]

Order of evidence (the first that places a photo wins): the track logs (``source``
``Source.TRACK``), then the GPS-tagged photos of the user's devices (``NEIGHBORS``). A photo
with camera GPS is never placed here: its own fix is better than either.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from geoscope_core.errors import ConfigError
from geoscope_core.evidence.offsets import (
    OffsetEstimate,
    OffsetSearch,
    format_offset,
    from_anchors,
    from_model,
    from_photos,
)
from geoscope_core.evidence.phototime import (
    ClockOffset,
    PhotoTime,
    offset_for,
    parse_zone,
    photo_utc,
)
from geoscope_core.evidence.placement import PlacementLimits, Placements, place_by_time
from geoscope_core.evidence.tracks import Track, load_tracks
from geoscope_core.photos.metadata import PhotoMetadata
from geoscope_core.prediction import Prediction, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvidenceOptions:
    """``track_files`` track logs (any format :func:`~.tracks.load_track` reads);
    ``tz`` the zone of camera clocks that wrote no OffsetTimeOriginal (IANA name or
    +-HH:MM; None: inferred from positions); ``time_offsets`` per-camera clock corrections
    (``--time-offset``); ``limits`` ExifTool-style gap limits; ``estimate_offsets`` whether
    to estimate the clock offset of cameras not given one (applied only when clear);
    ``photo_limits`` the limits for the fixes of GPS-tagged photos (sparser than a log)."""

    track_files: tuple[Path, ...] = ()
    tz: str | None = None
    time_offsets: tuple[ClockOffset, ...] = ()
    limits: PlacementLimits = field(default_factory=PlacementLimits)
    photo_limits: PlacementLimits | None = None
    estimate_offsets: bool = True
    offset_search: OffsetSearch = field(default_factory=OffsetSearch)

    def __post_init__(self) -> None:
        if self.tz is not None:
            parse_zone(self.tz)  # raises ConfigError for an unknown zone
        for o in self.time_offsets:
            if not isinstance(o, ClockOffset):
                raise ConfigError(f"time_offsets must be ClockOffset values, got {o!r}")


@dataclass(frozen=True)
class TimePlacement:
    """Where a photo was by time: ``lat``/``lon`` degrees, ``radius_km``, ``confidence``
    0-1, ``source`` TRACK or NEIGHBORS, ``reason`` e.g. "track, 14 s from a fix",
    ``time`` its UTC time and where the zone came from, ``altitude_m`` metres above sea
    level from the fixes' elevations (None when they have none)."""

    lat: float
    lon: float
    radius_km: float
    confidence: float
    source: Source
    reason: str
    time: PhotoTime
    altitude_m: float | None = None


@dataclass(frozen=True)
class CameraOffset:
    """The clock correction used for one camera: ``seconds``, ``origin`` ("--time-offset",
    "estimated", or "none") and the ``estimate`` behind it, if any."""

    camera: str
    seconds: float
    origin: str
    estimate: OffsetEstimate | None = None


class PersonalEvidence:
    """Track logs plus reference photos; places photos by their UTC time."""

    def __init__(self, track: Track | None, options: EvidenceOptions | None = None) -> None:
        self.options = options or EvidenceOptions()
        self.track = track if track is not None and len(track) else None
        self.photo_track: Track | None = None
        # (utc s, lat, lon, camera, path, altitude m or NaN) of each GPS photo
        self._photo_fixes: list[tuple[float, float, float, str, Path, float]] = []
        self._ref_metas: list[PhotoMetadata] = []
        self.cameras: dict[str, CameraOffset] = {}
        self._zone = parse_zone(self.options.tz) if self.options.tz else None

    @classmethod
    def load(cls, options: EvidenceOptions) -> PersonalEvidence:
        """Read ``options.track_files`` (raises TrackError naming a bad file)."""
        track = load_tracks(list(options.track_files)) if options.track_files else None
        return cls(track, options)

    @property
    def empty(self) -> bool:
        return self.track is None and self.photo_track is None

    # -- time --------------------------------------------------------------------------
    def _position_at(self, t: float) -> tuple[float, float] | None:
        """Where the evidence says the user was nearest to time ``t`` (within a day)."""
        for tr in (self.track, self.photo_track):
            if tr is None:
                continue
            i = int(np.clip(np.searchsorted(tr.t, t), 0, len(tr) - 1))
            if i > 0 and abs(tr.t[i - 1] - t) < abs(tr.t[i] - t):
                i -= 1
            if abs(tr.t[i] - t) <= 86400:
                return float(tr.lat[i]), float(tr.lon[i])
        return None

    def set_offset(self, camera: str, seconds: float, origin: str = "set by you") -> None:
        """Use ``seconds`` as ``camera``'s clock correction from now on (the photo track
        of its GPS photos follows); raises ConfigError for an unusable offset."""
        ClockOffset(seconds, camera)  # the same bounds as --time-offset
        self.cameras[camera] = CameraOffset(camera, float(seconds), origin)
        self._rebuild()

    def offset_of(self, camera: str) -> float:
        if camera in self.cameras:
            return self.cameras[camera].seconds
        return offset_for(camera, self.options.time_offsets)

    def photo_time(self, meta: PhotoMetadata, extra_offset_s: float = 0.0) -> PhotoTime:
        """UTC capture time of ``meta`` with its camera's clock correction applied."""
        gps = meta.gps if meta.gps is not None and not meta.gps_is_estimate else None
        return photo_utc(
            meta.taken_at,
            meta.utc_offset_min,
            zone=self._zone,
            position=gps,
            position_at=self._position_at,
            offset_s=self.offset_of(meta.camera) + extra_offset_s,
        )

    # -- reference photos ----------------------------------------------------------------
    def add_reference_photos(self, metas: Sequence[PhotoMetadata]) -> int:
        """Make every camera-GPS photo (any device) a fix; returns how many were usable."""
        self._ref_metas.extend(
            m for m in metas if m.gps is not None and not m.gps_is_estimate and m.taken_at
        )
        return self._rebuild()

    def _rebuild(self) -> int:
        """The photo track from the reference photos, with the cameras' current offsets."""
        self._photo_fixes = []
        for m in self._ref_metas:
            t = self.photo_time(m)
            if t.known and m.gps is not None:
                alt = math.nan if m.gps_altitude_m is None else m.gps_altitude_m
                self._photo_fixes.append((t.utc, m.gps[0], m.gps[1], m.camera, m.path, alt))
        self.photo_track = None
        if self._photo_fixes:
            arr = np.array([(*f[:3], f[5]) for f in self._photo_fixes], dtype=np.float64)
            self.photo_track = Track.from_arrays(
                arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], name="GPS-tagged photos"
            )
        return len(self._photo_fixes)

    # -- clock offsets -------------------------------------------------------------------
    def resolve_offsets(
        self,
        metas: Sequence[PhotoMetadata],
        embeddings: dict[Path, np.ndarray] | None = None,
        predictions: dict[Path, Prediction] | None = None,
    ) -> list[CameraOffset]:
        """Settle the clock correction of every camera among ``metas`` (give all photos,
        tagged or not: a camera's own GPS times are its best anchors): the user's
        ``--time-offset`` if given, else (with ``estimate_offsets``) a clear estimate from
        anchors (photos with a GPS time), from look-alike photos of other devices
        (``embeddings``: path -> L2-normalised image embedding) or, where those are not
        clear, from agreement with the model's estimates (``predictions``: path -> the
        model's Prediction), else none."""
        by_cam: dict[str, list[PhotoMetadata]] = {}
        for m in metas:
            if m.taken_at is not None:
                by_cam.setdefault(m.camera, []).append(m)
        out = []
        for cam, ms in by_cam.items():
            given = [o for o in self.options.time_offsets if o.applies_to(cam)]
            if given:
                co = CameraOffset(cam, offset_for(cam, given), "--time-offset")
            elif self.options.estimate_offsets:
                est = self.estimate_offset(cam, ms, embeddings or {}, predictions or {})
                if est is not None and est.clear:
                    co = CameraOffset(cam, est.seconds, "estimated", est)
                else:
                    co = CameraOffset(cam, 0.0, "none", est)
            else:
                co = CameraOffset(cam, 0.0, "none")
            self.cameras[cam] = co
            out.append(co)
            if co.origin != "none":
                log.info("camera %r: clock %s (%s)", cam, format_offset(co.seconds), co.origin)
        self._rebuild()
        return out

    def cameras_to_estimate(self, metas: Sequence[PhotoMetadata]) -> set[str]:
        """Cameras among ``metas`` whose offset only their photos' looks can tell
        (look-alike photos of other devices, agreement of the track with the model's
        estimates): estimation on, no ``--time-offset`` for them, no photo of theirs with
        a GPS time, and a track or GPS photos of other devices to compare with."""
        if not self.options.estimate_offsets or (self.track is None and not self._photo_fixes):
            return set()
        given = {
            m.camera
            for m in metas
            if any(o.applies_to(m.camera) for o in self.options.time_offsets)
        }
        anchored = {m.camera for m in metas if m.gps_utc is not None}
        others = {f[3] for f in self._photo_fixes}
        return {
            m.camera
            for m in metas
            if m.taken_at is not None
            and m.gps is None
            and m.camera not in given | anchored
            and (self.track is not None or others - {m.camera})
        }

    def estimate_offset(
        self,
        camera: str,
        metas: Sequence[PhotoMetadata],
        embeddings: dict[Path, np.ndarray],
        predictions: dict[Path, Prediction] | None = None,
    ) -> OffsetEstimate | None:
        """The estimated correction for ``camera`` (None when nothing informs it): from
        anchors; else from look-alike photos; where those are absent or not clear, from
        agreement with the model's ``predictions`` of the camera's photos (which then
        decides between the look-alike offsets, or stands alone)."""
        search = self.options.offset_search
        times = np.array([self.photo_time(m, -self.offset_of(camera)).utc for m in metas])
        gps = np.array(
            [_utc(m.gps_utc) if m.gps_utc is not None else math.nan for m in metas], np.float64
        )
        local = np.array(
            [_utc(m.taken_at) if m.taken_at is not None else math.nan for m in metas], np.float64
        )
        zone_known = self._zone is not None or all(
            m.utc_offset_min is not None for m in metas if m.gps_utc is not None
        )
        est = from_anchors(times, gps, search.sigma_s, local, zone_known)
        if est is not None:
            return est
        refs = [f for f in self._photo_fixes if f[3] != camera and f[4] in embeddings]
        mine = [(i, m) for i, m in enumerate(metas) if m.path in embeddings]
        visual = None
        if refs and mine:
            e_cam = np.stack([embeddings[m.path] for _, m in mine]).astype(np.float32)
            e_ref = np.stack([embeddings[f[4]] for f in refs]).astype(np.float32)
            visual = from_photos(
                times[[i for i, _ in mine]], np.array([f[0] for f in refs]), e_cam @ e_ref.T, search
            )
        if visual is not None and visual.clear:
            return visual
        judged = [(i, p) for i, m in enumerate(metas) if (p := (predictions or {}).get(m.path))]
        if not judged:
            return visual
        model = from_model(
            times[[i for i, _ in judged]], [p for _, p in judged], self._positions, search
        )
        if model is None or not model.clear:
            return visual or model
        if visual is not None:  # the model decides where the look-alike photos do not
            model = replace(model, note=f"{model.note}; look-alike photos: {visual.note}")
        return model

    def _positions(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the track (else the GPS photos) places photos at UTC times ``t`` [M]:
        (lat, lon) degrees, NaN where nothing does."""
        lat, lon = np.full(t.shape[0], np.nan), np.full(t.shape[0], np.nan)
        todo = np.isfinite(t)
        plim = self.options.photo_limits or self.options.limits
        for tr, lim in ((self.track, self.options.limits), (self.photo_track, plim)):
            if tr is None or not todo.any():
                continue
            idx = np.nonzero(todo)[0]
            p = place_by_time(tr, t[idx], lim)
            hit = idx[p.ok]
            lat[hit], lon[hit] = p.lat[p.ok], p.lon[p.ok]
            todo[hit] = False
        return lat, lon

    # -- placement -----------------------------------------------------------------------
    def place(self, metas: Sequence[PhotoMetadata]) -> list[TimePlacement | None]:
        """Place each photo without camera GPS by time (None where no evidence does)."""
        out: list[TimePlacement | None] = [None] * len(metas)
        times = [self.photo_time(m) for m in metas]
        t = np.array([pt.utc for pt in times], np.float64)
        todo = np.array(
            [m.gps is None or m.gps_is_estimate for m in metas], dtype=bool
        ) & np.isfinite(t)
        plim = self.options.photo_limits or self.options.limits
        for label, tr, lim in (
            (Source.TRACK, self.track, self.options.limits),
            (Source.NEIGHBORS, self.photo_track, plim),
        ):
            if tr is None or not todo.any():
                continue
            idx = np.nonzero(todo)[0]
            p = place_by_time(tr, t[idx], lim)
            for k, i in enumerate(idx):
                if p.ok[k]:
                    out[i] = self._placement(p, k, label, times[i])
                    todo[i] = False
        return out

    @staticmethod
    def _placement(p: Placements, k: int, label: Source, time: PhotoTime) -> TimePlacement:
        what = "track" if label is Source.TRACK else "your GPS photos"
        reason = p.reason(k, what)
        if time.offset_s:
            reason += f"; clock {format_offset(time.offset_s)}"
        return TimePlacement(
            lat=float(p.lat[k]),
            lon=float(p.lon[k]),
            radius_km=float(p.radius_m[k]) / 1000.0,
            confidence=float(p.confidence[k]),
            source=label,
            reason=reason,
            time=time,
            altitude_m=float(p.ele[k]) if np.isfinite(p.ele[k]) else None,
        )


def _utc(dt: datetime) -> float:
    """Epoch seconds of a naive UTC datetime."""
    import calendar

    return calendar.timegm(dt.timetuple()) + dt.microsecond / 1e6
