"""The result of geolocating one photo, shared by the CLI, the writer and the app."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any


class Source(str, enum.Enum):
    """Where a location came from."""

    MODEL = "model"  # the bundle's image encoder
    TRACK = "track"  # the user's GPS track logs, by time
    NEIGHBORS = "neighbors"  # the user's own GPS-tagged photos (time or visual neighbours)
    EXIF = "exif"  # the photo already carried GPS
    USER = "user"  # placed by hand; its radius is the one the user chose


@dataclass(frozen=True)
class Candidate:
    """One place hypothesis. ``lat``/``lon`` in degrees, ``confidence`` in 0-1.

    ``radius_km``: the hypothesis's own error radius (km), by the same rule as its
    prediction's radius applied to its own confidence, so an alternative the user
    chooses is written with the radius it has. None for a place that is no estimate
    (a point clicked or a place searched for): the user's action gives its radius.
    """

    lat: float
    lon: float
    confidence: float
    country_code: str = ""
    country: str = ""
    admin1: str = ""
    city: str = ""
    radius_km: float | None = None


@dataclass(frozen=True)
class Prediction:
    """A photo's estimated location.

    ``lat``/``lon`` in degrees (WGS84); ``confidence`` calibrated probability
    (0-1) that the chosen place is right at the bundle's finest level;
    ``radius_km`` the estimated error radius; ``top_k`` alternatives, best
    first (the first equals the prediction itself); ``model`` is
    ``"<bundle name>@<sha256 prefix>"``; ``sublocation`` the part of the city (a
    district, a landmark) as the user typed it ("" unless they did). A placement by
    time (``track``, or ``neighbors`` on the user's GPS photos) also has
    ``placed_utc``, the photo's UTC time it was placed at (ISO 8601, e.g.
    "2024-01-29T09:40:05Z"; "" otherwise), and ``altitude_m``, metres above sea level
    interpolated from the fixes (None unknown). ``unsure``: the model does not know
    (its confidence is below the bundle's ``decoding.unsure_below``): the point is its
    best guess, it names no place (no country, no town), and tables and files show it
    as unsure.
    """

    lat: float
    lon: float
    confidence: float
    radius_km: float
    country_code: str = ""
    country: str = ""
    admin1: str = ""
    city: str = ""
    top_k: tuple[Candidate, ...] = field(default_factory=tuple)
    source: Source = Source.MODEL
    model: str = ""
    sublocation: str = ""
    placed_utc: str = ""
    altitude_m: float | None = None
    unsure: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["source"] = self.source.value
        d["top_k"] = [asdict(c) for c in self.top_k]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Prediction:
        return cls(
            **{
                **d,
                "source": Source(d.get("source", "model")),
                "top_k": tuple(Candidate(**c) for c in d.get("top_k", ())),
            }
        )

    def as_candidate(self) -> Candidate:
        """This prediction as the first of its alternatives (its point, names and radius)."""
        names = {k: getattr(self, k) for k in ("country_code", "country", "admin1", "city")}
        return Candidate(self.lat, self.lon, self.confidence, radius_km=self.radius_km, **names)

    def with_location(self, lat: float, lon: float, **changes: Any) -> Prediction:
        """A copy moved to ``lat``/``lon`` (e.g. a user's correction): the time and
        altitude of a placement by time no longer belong to it."""
        return replace(
            self,
            lat=lat,
            lon=lon,
            **{"placed_utc": "", "altitude_m": None, "unsure": False, **changes},
        )

    @property
    def placed_time(self) -> datetime | None:
        """``placed_utc`` as an aware UTC datetime (None when there is none)."""
        if not self.placed_utc:
            return None
        return datetime.fromisoformat(self.placed_utc).astimezone(timezone.utc)


def utc_iso(epoch_s: float) -> str:
    """ISO 8601 UTC text of epoch seconds, to the millisecond when there is a fraction
    ("2024-01-29T09:40:05Z", "2024-01-29T09:40:05.379Z")."""
    dt = datetime.fromtimestamp(round(epoch_s, 3), tz=timezone.utc)
    spec = "milliseconds" if dt.microsecond else "seconds"
    return dt.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
