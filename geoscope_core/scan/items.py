"""The scan pipeline's per-photo state, the time index of tagged photos, and results."""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from geoscope_core.evidence.personal import TRACK, PersonalEvidence, TimePlacement
from geoscope_core.geo.places import PlaceNames, names_at_many
from geoscope_core.photos.cache import FileKey
from geoscope_core.photos.metadata import PhotoMetadata
from geoscope_core.photos.neighbors import TIME_MODEL
from geoscope_core.prediction import Prediction, Source, utc_iso
from geoscope_core.scan.types import EXIF_RADIUS_KM, ScanResult, ScanStatus


@dataclass
class Item:
    path: Path
    key: FileKey | None = None
    meta: PhotoMetadata | None = None
    meta_error: str = ""
    pred: Prediction | None = None
    emb: np.ndarray | None = None
    error: str = ""
    dirty: bool = False  # needs writing to the cache
    exif_names: PlaceNames = field(default_factory=PlaceNames)
    reason: str = ""  # what placed it, when the user's own evidence did

    @property
    def tagged(self) -> bool:
        return self.meta is not None and self.meta.gps is not None and not self.meta.gps_is_estimate

    def camera_gps(self) -> tuple[float, float]:
        """(lat, lon) of a ``tagged`` item."""
        assert self.meta is not None and self.meta.gps is not None, f"{self.path} has no GPS"
        return self.meta.gps

    def embedding(self) -> np.ndarray:
        """``emb`` of an item known to be embedded."""
        assert self.emb is not None, f"{self.path} has no embedding"
        return self.emb


def default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


class TimeIndex:
    """Tagged photos grouped by camera and sorted by time, for window look-ups."""

    def __init__(self, tagged: Sequence[PhotoMetadata]) -> None:
        groups: dict[str, list[tuple[datetime, PhotoMetadata]]] = {}
        for m in tagged:
            if m.taken_at is not None:
                groups.setdefault(m.camera, []).append((m.taken_at, m))
        self._groups = {
            cam: (
                [m for _, m in sorted(tms, key=lambda tm: tm[0])],
                sorted(t.timestamp() for t, _ in tms),
            )
            for cam, tms in groups.items()
        }

    def near(self, target: PhotoMetadata, window_s: float) -> list[PhotoMetadata]:
        if target.taken_at is None or target.camera not in self._groups:
            return []
        ms, ts = self._groups[target.camera]
        t = target.taken_at.timestamp()
        lo = bisect.bisect_left(ts, t - window_s)
        hi = bisect.bisect_right(ts, t + window_s)
        return ms[lo:hi]


def name_placements(named: list[tuple[Item, TimePlacement]]) -> None:
    """Predictions (with place names, reverse geocoded at once) of time placements."""
    if not named:
        return
    lats = np.array([tp.lat for _, tp in named])
    lons = np.array([tp.lon for _, tp in named])
    for (it, tp), place in zip(named, names_at_many(lats, lons), strict=True):
        source = Source.TRACK if tp.source == TRACK else Source.NEIGHBORS
        pred = Prediction(
            lat=tp.lat,
            lon=tp.lon,
            confidence=tp.confidence,
            radius_km=tp.radius_km,
            source=source,
            model="track" if source is Source.TRACK else TIME_MODEL,
            top_k=(),
            placed_utc=utc_iso(tp.time.utc),
            altitude_m=tp.altitude_m,
            **place.fields(),
        )
        it.pred = replace(pred, top_k=(pred.as_candidate(),))
        it.reason = f"{tp.reason} (time zone: {tp.time.zone_note})"


def placed_by_time(
    evidence: PersonalEvidence, metas: Sequence[PhotoMetadata]
) -> list[ScanResult | None]:
    """The results ``evidence`` gives photos without camera GPS (``metas``) by time, as the
    scan would report them (None where it places none): how a changed clock offset moves
    photos without running the model again."""
    items = [Item(m.path, meta=m) for m in metas]
    placed = evidence.place(metas)
    name_placements([(it, tp) for it, tp in zip(items, placed, strict=True) if tp is not None])
    return [
        result_of(it, False) if tp is not None else None
        for it, tp in zip(items, placed, strict=True)
    ]


def name_exif(items: list[Item], repredict_gps: bool) -> None:
    """Country/admin1/city names of camera fixes (reverse geocoding, vectorised)."""
    if not items or repredict_gps:
        return
    lats = np.array([it.camera_gps()[0] for it in items])
    lons = np.array([it.camera_gps()[1] for it in items])
    for it, names in zip(items, names_at_many(lats, lons), strict=True):
        it.exif_names = names


def result_of(it: Item, repredict_gps: bool) -> ScanResult:
    """The ScanResult of a finished item."""
    return replace(_result_of(it, repredict_gps), file=it.key)


def _result_of(it: Item, repredict_gps: bool) -> ScanResult:
    if it.error:
        return ScanResult(it.path, ScanStatus.ERROR, None, it.meta, it.error)
    if it.tagged and not repredict_gps:
        lat, lon = it.camera_gps()
        pred = Prediction(
            lat=float(lat),
            lon=float(lon),
            confidence=1.0,
            radius_km=EXIF_RADIUS_KM,
            source=Source.EXIF,
            country_code=it.exif_names.country_code,
            country=it.exif_names.country,
            admin1=it.exif_names.admin1,
            city=it.exif_names.city,
        )
        return ScanResult(it.path, ScanStatus.EXIF, pred, it.meta, reason="camera GPS")
    if it.pred is None:
        reason = it.meta_error or "no prediction"
        return ScanResult(it.path, ScanStatus.ERROR, None, it.meta, reason)
    status = ScanStatus.of(it.pred.source)
    look_alike = "your GPS photos: they look alike"
    reason = it.reason or (look_alike if status is ScanStatus.NEIGHBORS else "model")
    return ScanResult(it.path, status, it.pred, it.meta, reason=reason)
