"""The scan pipeline's per-photo state, its evidence for the placement model, and results."""

from __future__ import annotations

import calendar
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from geoscope_core.evidence.personal import PersonalEvidence, TimePlacement
from geoscope_core.geo.places import PlaceNames, names_at_many
from geoscope_core.photos.cache import FileKey
from geoscope_core.photos.metadata import PhotoMetadata
from geoscope_core.photos.neighbors import TIME_MODEL
from geoscope_core.placement import Hypothesis, PhotoEvidence, Placed, TravelModel, TripPlacer
from geoscope_core.prediction import Candidate, Prediction, Source, utc_iso
from geoscope_core.scan.types import (
    EXIF_RADIUS_KM,
    ScanOptions,
    ScanResult,
    ScanStatus,
    TripEvidence,
)

#: Model name written for a place a photo's trip-mates gave it (none of its own).
TRIP_MODEL = "trip"


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
    trip: TripEvidence | None = None  # its own evidence, once its folder was placed

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


def name_placements(named: list[tuple[Item, TimePlacement]]) -> None:
    """Predictions (with place names, reverse geocoded at once) of time placements."""
    if not named:
        return
    lats = np.array([tp.lat for _, tp in named])
    lons = np.array([tp.lon for _, tp in named])
    for (it, tp), place in zip(named, names_at_many(lats, lons), strict=True):
        source = tp.source
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
        trip = TripEvidence(photo_evidence(it))
        return ScanResult(it.path, ScanStatus.EXIF, pred, it.meta, reason="camera GPS", trip=trip)
    if it.pred is None:
        reason = it.meta_error or "no prediction"
        return ScanResult(it.path, ScanStatus.ERROR, None, it.meta, reason)
    status = ScanStatus.of(it.pred.source)
    reason = _reason(it)
    trip = it.trip or TripEvidence(photo_evidence(it), it.pred, reason)
    return ScanResult(it.path, status, it.pred, it.meta, reason=reason, trip=trip)


def _reason(it: Item) -> str:
    """What placed ``it`` in words (its own reason, else its estimate's kind)."""
    if it.reason or it.pred is None:
        return it.reason
    look_alike = "your GPS photos: they look alike"
    return look_alike if it.pred.source is Source.NEIGHBORS else "model"


def photo_evidence(it: Item) -> PhotoEvidence:
    """What ``it`` offers the placement model: its camera fix (fixed), its placement by
    time, or its estimate's alternatives (the model's and the gallery's), best first."""
    meta = it.meta
    device, time_s, day = "", float("nan"), ""
    if meta is not None and meta.taken_at is not None:
        device = meta.camera
        t = meta.taken_at
        # the device's clock as it runs, in UTC where the photo says its zone
        time_s = calendar.timegm(t.timetuple()) + t.microsecond / 1e6
        time_s -= 60.0 * (meta.utc_offset_min or 0)
        day = f"{t.day} {t:%b %Y}"
    if it.tagged and not it.error:
        lat, lon = it.camera_gps()
        fix = Hypothesis(lat, lon, EXIF_RADIUS_KM, 1.0, Source.EXIF, label="camera GPS")
        return PhotoEvidence(device, time_s, (fix,), fixed=True, day=day)
    p = it.pred
    if p is None or it.error:
        return PhotoEvidence(device, time_s, (), day=day)
    first = Hypothesis(
        p.lat,
        p.lon,
        p.radius_km,
        p.confidence,
        p.source,
        _place_of(p),
        it.reason,
        p.country_code,
    )
    rest = tuple(
        Hypothesis(
            c.lat,
            c.lon,
            c.radius_km or p.radius_km,
            c.confidence,
            Source.MODEL,
            _place_of(c),
            country_code=c.country_code,
        )
        for c in p.top_k
        if (c.lat, c.lon) != (p.lat, p.lon)
    )
    return PhotoEvidence(device, time_s, (first, *rest), day=day)


def _place_of(named: Prediction | Candidate) -> str:
    return named.city or named.admin1 or named.country or named.country_code


def place_trips(items: list[Item], options: ScanOptions) -> None:
    """Weigh the evidence of ``items`` together (see ``placement/model.py``): a photo whose
    trip-mates outweigh its own estimate follows them (its prediction moved, its own
    estimate kept among the alternatives, its ``reason`` saying why)."""
    trips = [TripEvidence(photo_evidence(it), it.pred, _reason(it)) for it in items]
    for it, trip in zip(items, trips, strict=True):
        it.trip = trip
    placed = _placer(options).place([t.evidence for t in trips])
    moved = [(it, p) for it, p in zip(items, placed, strict=True) if p is not None and not p.own]
    for (it, pl), pred in zip(
        moved, _predictions([(pl, it.pred) for it, pl in moved]), strict=True
    ):
        it.pred, it.reason = pred, pl.reason


def follow_decisions(
    trips: Sequence[TripEvidence], decided: Sequence[Prediction | None], options: ScanOptions
) -> list[tuple[Prediction, str] | None]:
    """Place a folder again after the user's decisions: ``decided[i]`` the location the
    user placed photo ``i`` at or accepted (it then holds its trip-mates as camera GPS
    would, within its radius), None where undecided. Returns, for each undecided photo
    with an estimate of its own, its (prediction, reason): its own again, unless its
    trip-mates now move it; None for the others."""
    evs = []
    for trip, p in zip(trips, decided, strict=True):
        ev = trip.evidence
        if p is not None:
            mine = Hypothesis(p.lat, p.lon, max(p.radius_km, EXIF_RADIUS_KM), 1.0, Source.USER)
            ev = PhotoEvidence(ev.device, ev.time_s, (mine,), fixed=True, day=ev.day)
        evs.append(ev)
    placed = _placer(options).place(evs)
    out: list[tuple[Prediction, str] | None] = [None] * len(trips)
    moved = []
    for i, (trip, p, pl) in enumerate(zip(trips, decided, placed, strict=True)):
        if p is not None or trip.own is None or trip.evidence.fixed:
            continue
        if pl is None or pl.own:
            out[i] = (trip.own, trip.own_reason)
        else:
            moved.append((i, pl))
    preds = _predictions([(pl, trips[i].own) for i, pl in moved])
    for (i, pl), pred in zip(moved, preds, strict=True):
        out[i] = (pred, pl.reason)
    return out


def _placer(options: ScanOptions) -> TripPlacer:
    return TripPlacer(TravelModel(anchor_window_s=options.time_window_s))


def _predictions(moved: list[tuple[Placed, Prediction | None]]) -> list[Prediction]:
    """Predictions (named, reverse geocoded at once) of photos their trip-mates moved;
    each keeps its own estimate among its alternatives."""
    if not moved:
        return []
    lats = np.array([pl.lat for pl, _ in moved])
    lons = np.array([pl.lon for pl, _ in moved])
    out = []
    for (pl, own), place in zip(moved, names_at_many(lats, lons), strict=True):
        pred = Prediction(
            lat=pl.lat,
            lon=pl.lon,
            confidence=pl.confidence,
            radius_km=pl.radius_km,
            source=pl.source,
            model=TRIP_MODEL if own is None else own.model or TRIP_MODEL,
            country_code=place.country_code,
            country=place.country,
            admin1=place.admin1,
            city=place.city,
        )
        alts = (own.as_candidate(), *own.top_k[1:]) if own is not None else ()
        out.append(replace(pred, top_k=(pred.as_candidate(), *alts)))
    return out
