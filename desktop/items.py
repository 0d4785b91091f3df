"""The app's per-photo state and progress arithmetic (plain Python, no Qt).

A ``PhotoItem`` is immutable; the table model replaces items as scans,
decisions and writes change them.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.geo.place import PlaceNames
from geoscope_core.geo.precision import coordinate_decimals, round_to_radius
from geoscope_core.photos.plan import WROTE, WriteAction
from geoscope_core.photos.undo import UNDONE, UndoAction
from geoscope_core.prediction import Candidate, Prediction, Source
from geoscope_core.words import duration

if TYPE_CHECKING:
    from geoscope_core.photos.metadata import PhotoMetadata
    from geoscope_core.scan.types import ScanResult


class PhotoStatus(str, enum.Enum):
    """Where a photo stands in the review workflow."""

    PENDING = "not scanned"
    HAS_GPS = "has GPS"  # the file already carries a location
    ESTIMATED = "estimated"  # the model (or neighbours) proposed a location
    ACCEPTED = "accepted"  # the user accepted the estimate; it will be written
    REJECTED = "rejected"  # the user rejected the estimate; it will not be written
    WRITTEN = "written"  # the estimate was written into the file (or its sidecar)
    ERROR = "error"


#: statuses whose estimate the user may accept or reject
REVIEWABLE = frozenset({PhotoStatus.ESTIMATED, PhotoStatus.ACCEPTED, PhotoStatus.REJECTED})


@dataclass(frozen=True)
class PlaceEdit:
    """Place names as the user typed them in the detail pane (any may be empty)."""

    sublocation: str = ""
    city: str = ""
    region: str = ""
    country: str = ""


@dataclass(frozen=True)
class PhotoItem:
    """One photo in the list.

    ``gps``: the location the file itself carries (lat, lon degrees) or None;
    ``prediction``: the estimate shown (possibly corrected by the user);
    ``model_prediction``: the model's estimate before any correction;
    ``message``: the last error or write note for this photo;
    ``result``: the scanner's raw result (kept for export);
    ``taken_at``: EXIF date taken (naive local time); ``camera``: make, model, serial.
    """

    path: Path
    gps: tuple[float, float] | None = None
    prediction: Prediction | None = None
    model_prediction: Prediction | None = None
    status: PhotoStatus = PhotoStatus.PENDING
    message: str = ""
    result: ScanResult | None = None
    taken_at: datetime | None = None
    camera: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def corrected(self) -> bool:
        """True when the user moved the estimate away from the model's."""
        return (
            self.prediction is not None
            and self.model_prediction is not None
            and (self.prediction.lat, self.prediction.lon)
            != (self.model_prediction.lat, self.model_prediction.lon)
        )

    @property
    def location(self) -> tuple[float, float] | None:
        """The location to show on the map (degrees): the estimate, else the file's GPS."""
        if self.prediction is not None:
            return (self.prediction.lat, self.prediction.lon)
        return self.gps

    def with_scan(self, result: ScanResult) -> PhotoItem:
        """This item updated from a scanner result: an error, the camera's own GPS, or an
        estimate (the model's or the user's evidence's)."""
        from geoscope_core.scan.types import ScanStatus

        meta = result.metadata
        base = replace(
            self,
            gps=meta.gps if meta is not None else self.gps,
            taken_at=meta.taken_at if meta is not None and meta.taken_at else self.taken_at,
            camera=meta.camera if meta is not None and meta.camera else self.camera,
            result=result,
            message=result.error,
        )
        if result.status is ScanStatus.ERROR:
            return replace(
                base,
                prediction=None,
                model_prediction=None,
                status=PhotoStatus.ERROR,
                message=result.error or "could not be read",
            )
        status = PhotoStatus.HAS_GPS if result.status is ScanStatus.EXIF else PhotoStatus.ESTIMATED
        if status is PhotoStatus.ESTIMATED and self.decided:
            # the user's decision (restored from an earlier session) outlives a rescan
            return replace(base, model_prediction=result.prediction, message="")
        return replace(
            base, prediction=result.prediction, model_prediction=result.prediction, status=status
        )

    def unplaced(self, message: str) -> PhotoItem:
        """Back to not scanned (``message`` says why): its evidence no longer places it
        and no other estimate is known (``result`` keeps what was read of the file). A
        decision of the user's stays."""
        if self.decided or self.status is not PhotoStatus.ESTIMATED:
            return self
        return replace(
            self,
            prediction=None,
            model_prediction=None,
            status=PhotoStatus.PENDING,
            message=message,
        )

    @property
    def decided(self) -> bool:
        """True when the user accepted, rejected, moved, placed or renamed this photo's
        location (the names of a photo's own GPS are written by themselves, not kept)."""
        return (
            self.prediction is not None
            and self.status is not PhotoStatus.HAS_GPS
            and (
                self.status in (PhotoStatus.ACCEPTED, PhotoStatus.REJECTED)
                or self.corrected
                or self.placed
                or (self.model_prediction is not None and self.prediction != self.model_prediction)
            )
        )

    def saved(self) -> dict[str, object] | None:
        """The user's decision on this photo as JSON-able data (None when there is none)."""
        if not self.decided or self.prediction is None:
            return None
        return {
            "status": self.status.value,
            "prediction": self.prediction.to_dict(),
            "model_prediction": (
                self.model_prediction.to_dict() if self.model_prediction is not None else None
            ),
        }

    def restored(self, saved: dict[str, object]) -> PhotoItem:
        """This (freshly listed) item with a decision ``saved`` earlier; raises KeyError,
        TypeError, ValueError or DataError when ``saved`` is malformed."""
        pred = Prediction.from_dict(saved["prediction"])  # type: ignore[arg-type]
        model = saved.get("model_prediction")
        status = PhotoStatus(saved["status"])
        if status not in REVIEWABLE:
            raise DataError(f"not a review decision: {status.value}")
        return replace(
            self,
            prediction=pred,
            model_prediction=Prediction.from_dict(model) if isinstance(model, dict) else None,
            status=status,
        )

    def is_confident(self, threshold: float) -> bool:
        """True for an unreviewed estimate at or above ``threshold`` (0-1): what
        "accept all confident" accepts."""
        return (
            self.status is PhotoStatus.ESTIMATED
            and self.prediction is not None
            and self.prediction.confidence >= threshold
        )

    def after_write(
        self, action: WriteAction, reason: str = "", target: Path | None = None
    ) -> PhotoItem:
        """This item after the writer's ``action`` on it."""
        if action in WROTE and self.status is PhotoStatus.HAS_GPS:  # its names, filled
            where = f" to {target.name}" if action is WriteAction.SIDECAR and target else ""
            return replace(self, message=f"place names written{where}")
        if action in WROTE:
            sidecar = target if action is WriteAction.SIDECAR else None
            note = f"written to {sidecar.name}" if sidecar is not None else ""
            return replace(self, status=PhotoStatus.WRITTEN, message=note)
        if action is WriteAction.FAILED:
            return replace(self, message=f"not written: {reason}")
        return replace(self, message=f"skipped: {reason or action.value}")

    def with_file(self, meta: PhotoMetadata) -> PhotoItem:
        """This item knowing its file as ``meta`` read it now (after GeoScope changed it):
        the location it carries, and the file a later write checks it still is."""
        result = replace(self.result, metadata=meta) if self.result is not None else None
        return replace(self, gps=meta.gps, result=result)

    def after_undo(
        self,
        action: UndoAction,
        meta: PhotoMetadata | None = None,
        earlier: Prediction | None = None,
    ) -> PhotoItem:
        """This item after undo's ``action`` on its file, as ``meta`` read the file then:
        a file back to an earlier write of GeoScope's shows that write (``earlier``, the
        location written then, when it is the one the file carries; else the file's
        point, named by the one naming rule), written; a file back to no location keeps
        the user's decision, accepted again; camera GPS is the photo's own."""
        if action not in UNDONE:
            return self
        if meta is None:  # not read again: only the status can follow
            if self.status is PhotoStatus.WRITTEN:
                return replace(self, status=PhotoStatus.ACCEPTED, message="")
            return self
        item = self.with_file(meta)
        if meta.gps is not None and meta.gps_is_estimate and self.status is not PhotoStatus.HAS_GPS:
            return replace(
                item,
                prediction=_as_carried(meta.gps, earlier or self.prediction),
                status=PhotoStatus.WRITTEN,
                message="",
            )
        if self.status is PhotoStatus.WRITTEN:
            return replace(item, status=PhotoStatus.ACCEPTED, message="")
        return item

    def accepted(self) -> PhotoItem:
        if self.status not in REVIEWABLE or self.prediction is None:
            return self
        return replace(self, status=PhotoStatus.ACCEPTED, message="")

    def rejected(self) -> PhotoItem:
        if self.status not in REVIEWABLE or self.prediction is None:
            return self
        return replace(self, status=PhotoStatus.REJECTED, message="")

    def corrected_to(self, candidate: Candidate) -> PhotoItem:
        """Move the estimate to ``candidate`` (one of its alternatives), with the
        candidate's own confidence, names and error radius: what is written and
        exported is the alternative as the model rated it. Photos that carry GPS are
        never moved; only a candidate without a radius (saved by an older GeoScope)
        keeps the estimate's radius."""
        if self.prediction is None or self.status not in REVIEWABLE:
            return self
        radius = candidate.radius_km
        moved = self.prediction.with_location(
            candidate.lat,
            candidate.lon,
            confidence=candidate.confidence,
            radius_km=self.prediction.radius_km if radius is None else radius,
            country_code=candidate.country_code,
            country=candidate.country,
            admin1=candidate.admin1,
            city=candidate.city,
            sublocation="",  # the part of the old place is not a part of the new one
            unsure=self.prediction.unsure,  # an alternative is as unsure as the estimate
        )
        return replace(self, prediction=moved, status=PhotoStatus.ESTIMATED, message="")

    def placed_at(
        self, candidate: Candidate, radius_km: float, move_written: bool = False
    ) -> PhotoItem:
        """Placed by hand at ``candidate`` (a map drop or a place searched for): the
        location is the user's (source ``user``, ``radius_km`` from what they did, km)
        and accepted. Photos that carry GPS or could not be read stay; so do written
        ones unless ``move_written`` (the user agreed to write them again)."""
        movable = (*REVIEWABLE, PhotoStatus.PENDING, *((PhotoStatus.WRITTEN,) * move_written))
        if self.status not in movable:
            return self
        c = candidate
        placed = replace(
            self.prediction or Prediction(c.lat, c.lon, 1.0, radius_km),
            lat=c.lat,
            lon=c.lon,
            confidence=1.0,
            radius_km=radius_km,
            country_code=c.country_code,
            country=c.country,
            admin1=c.admin1,
            city=c.city,
            sublocation="",
            source=Source.USER,
            placed_utc="",
            altitude_m=None,
        )
        return replace(self, prediction=placed, status=PhotoStatus.ACCEPTED, message="")

    @property
    def names_fillable(self) -> bool:
        """Whether this photo carries its own GPS whose place names can be written."""
        return self.status is PhotoStatus.HAS_GPS and self.prediction is not None

    def renamed(self, names: PlaceEdit) -> PhotoItem:
        """The estimate's place names as the user typed them (written with the location;
        for a photo with its own GPS, by "Fill Place Names from GPS")."""
        if self.prediction is None or not (self.status in REVIEWABLE or self.names_fillable):
            return self
        named = replace(
            self.prediction,
            sublocation=names.sublocation.strip(),
            city=names.city.strip(),
            admin1=names.region.strip(),
            country=names.country.strip(),
        )
        return replace(self, prediction=named, message="")

    @property
    def placed(self) -> bool:
        return self.prediction is not None and self.prediction.source is Source.USER

    def reverted(self) -> PhotoItem:
        """Back to the model's own estimate."""
        if self.model_prediction is None or self.status not in REVIEWABLE:
            return self
        return replace(self, prediction=self.model_prediction, status=PhotoStatus.ESTIMATED)


def place_text(pred: Prediction | Candidate | None) -> str:
    """'Sublocation, City, Region, Country' from the parts known and supported by the
    estimate's radius ('' when none)."""
    if pred is None:
        return ""
    parts: list[str] = []
    names = PlaceNames.of_estimate(pred)  # no finer than its radius, as it is written
    sub = pred.sublocation if isinstance(pred, Prediction) and names.city else ""
    for part in (sub, names.city, names.admin1, pred.country or pred.country_code):
        if part and part not in parts:
            parts.append(part)
    return ", ".join(parts)


#: the most decimals a location is shown with (about 1 m)
SHOWN_DECIMALS = 5


def is_unsure(pred: Prediction) -> bool:
    """Whether the model does not know where this is: its decoder's own ``unsure`` (the
    bundle's ``decoding.unsure_below``); a placement by the user's evidence never is."""
    return pred.source is Source.MODEL and pred.unsure


def format_latlon(lat: float, lon: float, radius_km: float = 0.0) -> str:
    """'45.81502° N, 15.98193° E' (degrees), with no more decimals than a location known
    to ±``radius_km`` warrants (``geo.precision``, as it is written): ±2,164 km shows
    '13° S, 78° W'; 0 (a camera fix) shows the most."""
    d = min(SHOWN_DECIMALS, coordinate_decimals(radius_km))
    lat, lon = round_to_radius(lat, lon, radius_km)
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.{d}f}° {ns}, {abs(lon):.{d}f}° {ew}"


def estimate_text(pred: Prediction) -> str:
    """The one line that says how well a location is known: 'confidence 62% · within
    ±12 km'; an unsure one says so first."""
    known = f"confidence {pred.confidence:.0%} · within ±{format_km(pred.radius_km)}"
    return f"unsure: {known}" if is_unsure(pred) else known


def format_km(km: float) -> str:
    """A distance for people: '350 m', '12 km', '1,200 km'."""
    if km < 1:
        return f"{km * 1000:.0f} m"
    if km < 10:
        return f"{km:.1f} km"
    return f"{km:,.0f} km"


class ProgressMeter:
    """Rate (photos/s) and ETA over a sliding window of recent progress reports.

    ``window_s``: seconds of history the rate is measured over; ``settle_s``:
    seconds of reports needed before an ETA is given. The rate is measured from
    the first report, not from ``reset``: loading the model and the first
    decodes would otherwise make the first ETA far too long. The clock is
    injectable for tests.
    """

    def __init__(
        self, window_s: float = 10.0, clock: object = time.monotonic, settle_s: float = 2.0
    ) -> None:
        if window_s <= 0:
            raise ConfigError(f"window_s must be > 0, got {window_s}")
        if settle_s < 0:
            raise ConfigError(f"settle_s must be >= 0, got {settle_s}")
        self._window_s = window_s
        self._settle_s = settle_s
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self.done = 0
        self.total = 0

    def reset(self, total: int) -> None:
        self._samples.clear()
        self.done = 0
        self.total = total

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def update(self, done: int, total: int) -> None:
        now = self._now()
        self.done, self.total = done, total
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window_s:
            self._samples.popleft()

    @property
    def rate(self) -> float:
        """Photos per second over the window (0 until two reports are apart in time)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate; None until the rate has settled."""
        rate = self.rate
        if rate <= 0 or self._samples[-1][0] - self._samples[0][0] < self._settle_s:
            return None
        return max(0, self.total - self.done) / rate

    def text(self) -> str:
        """'120 / 2,000 · 14.3 photos/s · 2 min left'."""
        parts = [f"{self.done:,} / {self.total:,}"]
        if self.rate > 0:
            parts.append(f"{self.rate:.1f} photos/s")
        eta = self.eta_s
        if eta is not None and self.done < self.total:
            parts.append(f"{duration(eta)} left")
        return " · ".join(parts)


def _as_carried(gps: tuple[float, float], written: Prediction | None) -> Prediction:
    """The estimate a file carries at ``gps`` (degrees): ``written`` where that is the
    point it wrote (no finer than its radius, as written), else the file's point named
    as the writer names it (with ``written``'s radius and confidence, or a 1 km fix)."""
    from geoscope_core.photos.plan import as_written, place_for

    lat, lon = gps
    if written is not None:
        was = as_written(written)
        if abs(was.lat - lat) < 1e-6 and abs(was.lon - lon) < 1e-6:
            return written
    base = written or Prediction(lat, lon, confidence=1.0, radius_km=1.0, source=Source.USER)
    moved = base.with_location(lat, lon, sublocation="")
    return replace(moved, **place_for(moved).fields())
