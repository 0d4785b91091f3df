"""What a write is asked to do, what it will write into one photo, and what it did.

In order: the field values of ``tags.TAGS`` GeoScope writes for an estimate; the
options a write is given and the actions it reports (shared by the writer, ``geoscope
scan --write`` and the desktop app, so an action is spelled once, as an enum whose
values are the strings shown to users); and the per-photo :class:`Plan` (the values,
the place they name, the point that must read back) or the reason a photo is
skipped, with whether it goes in place or into an XMP sidecar. ``writer`` carries
a plan out.

Provenance is honest: every location not read from the photo itself (model,
neighbours, track, user) is written as an estimate with its source and its own
radius. A placement by time (the user's track, or their other devices' GPS photos) is
written like a camera fix, with the UTC date and time it was placed at and the
altitude the fixes give, yet still marked with its source (GPSAreaInformation and
the XMP estimate flag), so it never passes for the camera's own GPS; a model's or
the user's guess has no time or altitude to write. Place names are only as fine as
the estimate: no city (nor the user's sublocation within it) is named for a guess
whose radius is larger than a city's area, no region for one larger than a region's.
"""

from __future__ import annotations

import enum
import logging
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from geoscope_core.errors import ConfigError
from geoscope_core.formats import WriteMode, format_of
from geoscope_core.fsio import is_read_only
from geoscope_core.geo.countries import country_alpha3
from geoscope_core.geo.places import PlaceNames, names_at
from geoscope_core.geo.precision import round_to_radius
from geoscope_core.photos import editors
from geoscope_core.photos.metadata import PhotoMetadata, sidecar_path
from geoscope_core.photos.tags import ESTIMATE_NOTE_PREFIX, Field
from geoscope_core.prediction import Prediction, Source

log = logging.getLogger(__name__)

#: Sources that place a photo by its time, so have a fix time (and maybe an altitude).
BY_TIME = (Source.TRACK, Source.NEIGHBORS)


# --------------------------------------------------------------------------- values


def as_written(prediction: Prediction) -> Prediction:
    """``prediction`` with its point no finer than its radius warrants
    (``geo.precision.round_to_radius``): what is written, named and journaled. A
    placement by time is a fix (interpolated between the track's), written whole as
    ExifTool's geotagging writes it."""
    if prediction.source in BY_TIME:
        return prediction
    lat, lon = round_to_radius(prediction.lat, prediction.lon, prediction.radius_km)
    return replace(prediction, lat=lat, lon=lon)


def place_for(prediction: Prediction) -> PlaceNames:
    """Place names written with a prediction: ``geo.places.names_at`` of its point (its
    own names as the hint, so the names always contain the written point), cut to
    what its radius supports (``PlaceNames.as_fine_as``)."""
    place = names_at(prediction.lat, prediction.lon, PlaceNames.of(prediction))
    return place.as_fine_as(prediction.radius_km)


def estimate_note(prediction: Prediction) -> str:
    """The human-readable estimate mark, e.g.
    "GeoScope estimate (model geoscope-lite@ab12cd34ef56, confidence 0.42, radius 25 km)"."""
    parts = []
    if prediction.model and prediction.source is Source.MODEL:
        parts.append(f"model {prediction.model}")
    if prediction.source is not Source.MODEL:
        parts.append(f"from {prediction.source.value}")
    parts.append(f"confidence {prediction.confidence:.2f}")
    parts.append(f"radius {prediction.radius_km:.3g} km")
    return f"{ESTIMATE_NOTE_PREFIX} ({', '.join(parts)})"


def estimate_values(prediction: Prediction, place: PlaceNames) -> dict[Field, Any]:
    """Every field GeoScope writes for ``prediction`` (see ``tags.Field`` for units)."""
    values: dict[Field, Any] = {
        Field.GPS_VERSION: (2, 3, 0, 0),
        Field.LATITUDE: float(prediction.lat),
        Field.LONGITUDE: float(prediction.lon),
        Field.MAP_DATUM: "WGS-84",
        Field.H_ERROR: prediction.radius_km * 1000.0,
        Field.METHOD: "MANUAL",
        Field.NOTE: estimate_note(prediction),
        Field.ESTIMATE: True,
        Field.SOURCE: prediction.source.value,
        Field.MODEL: prediction.model,
        Field.CONFIDENCE: prediction.confidence,
        Field.RADIUS_KM: prediction.radius_km,
    }
    when = prediction.placed_time
    if prediction.source in BY_TIME and when is not None:
        values[Field.GPS_DATE] = when.strftime("%Y:%m:%d")
        values[Field.GPS_TIME] = when
        if prediction.altitude_m is not None and math.isfinite(prediction.altitude_m):
            values[Field.ALTITUDE] = abs(prediction.altitude_m)
            values[Field.ALTITUDE_REF] = 1 if prediction.altitude_m < 0 else 0
    values.update(name_values(place, prediction.sublocation))
    return values


def name_values(place: PlaceNames, sublocation: str = "") -> dict[Field, Any]:
    """The place-name fields of ``place`` (and ``sublocation`` within its city; none
    without a city): what an estimate carries, and all that filling a photo's names
    from its own GPS writes."""
    values: dict[Field, Any] = {}
    for f, name in (
        (Field.SUBLOCATION, sublocation.strip() if place.city else ""),
        (Field.CITY, place.city),
        (Field.STATE, place.admin1),
        (Field.COUNTRY, place.country),
        (Field.COUNTRY_CODE, place.country_code),
    ):
        if name:
            values[f] = name
    return values


def iptc_alpha3(place: PlaceNames) -> str:
    """The place's ISO alpha-3 country code, as IPTC-IIM wants it ("" if none)."""
    return country_alpha3(place.country_code) if place.country_code else ""


# --------------------------------------------------------------------------- options and outcomes


class WriteAction(str, enum.Enum):
    """What the writer did with one photo."""

    WRITTEN = "written"  # in place
    SIDECAR = "sidecar"
    SKIPPED = "skipped"
    WOULD_WRITE = "would-write"  # dry run
    FAILED = "failed"


#: Actions after which the photo (or its sidecar) carries the estimate.
WROTE = frozenset({WriteAction.WRITTEN, WriteAction.SIDECAR})


class SidecarPolicy(str, enum.Enum):
    """When to write an XMP sidecar instead of modifying the photo.

    AUTO: only for formats that cannot be written in place safely (HEIC, raw)
    and read-only files; ALWAYS: every photo; NEVER: never (such photos are
    skipped with a reason).
    """

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class WriteOptions:
    """How :func:`write_locations` behaves.

    ``overwrite_gps``: replace GPS already in the photo (camera fix or earlier
    estimate); ``sidecar``: see SidecarPolicy; ``keep_mtime``: give the
    written file its original modification time; ``dry_run``: report
    "would-write" and touch nothing; ``min_confidence`` (0-1): estimates below
    it are skipped (not those the user placed by hand); ``follow_links``: also write
    through symbolic links that lead out of the folders the user named;
    ``fill_names``: a photo's own camera GPS (a ``Source.EXIF`` prediction) gets its
    place names written from that point, the names only (its GPS is never touched),
    instead of being skipped.
    """

    overwrite_gps: bool = False
    sidecar: SidecarPolicy = SidecarPolicy.AUTO
    keep_mtime: bool = True
    dry_run: bool = False
    min_confidence: float = 0.0
    follow_links: bool = False
    fill_names: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "sidecar", SidecarPolicy(self.sidecar))
        except ValueError as e:
            raise ConfigError(
                f"sidecar must be one of auto|always|never, not {self.sidecar!r}"
            ) from e
        try:
            ok = 0.0 <= float(self.min_confidence) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"min_confidence must be in [0, 1], not {self.min_confidence!r}")


@dataclass(frozen=True)
class WriteResult:
    """Outcome for one photo; ``target`` is the file that was (or would be) written:
    the photo or its sidecar."""

    path: Path
    action: WriteAction
    reason: str = ""
    target: Path | None = None


@dataclass(frozen=True)
class WriteReport:
    """All results of a batch and the journal that records its changes
    (None when nothing was changed)."""

    results: list[WriteResult]
    journal: Path | None


# --------------------------------------------------------------------------- one photo's plan


#: Files larger than this are not rewritten in memory; they get a sidecar (bytes).
MAX_IN_PLACE_BYTES = 1 << 30


def _existing_gps_reason(meta: PhotoMetadata, options: WriteOptions) -> str:
    if meta.gps is None or options.overwrite_gps:
        return ""
    if meta.gps_is_estimate:
        return "already has a GeoScope estimate (use --overwrite-gps to replace it)"
    return "already has camera GPS (use --overwrite-gps to replace it)"


def invalid_reason(prediction: Prediction, options: WriteOptions) -> tuple[WriteAction, str]:
    if prediction.source is Source.EXIF:
        return WriteAction.SKIPPED, "location came from the photo's own GPS"
    lat, lon, radius = prediction.lat, prediction.lon, prediction.radius_km
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return WriteAction.FAILED, f"invalid location {lat}, {lon}"
    if not (math.isfinite(radius) and radius >= 0):
        return WriteAction.FAILED, f"invalid radius {radius} km"
    if prediction.source is not Source.USER and prediction.confidence < options.min_confidence:
        return (
            WriteAction.SKIPPED,
            f"confidence {prediction.confidence:.2f} below {options.min_confidence:.2f}",
        )
    return WriteAction.WRITTEN, ""


def sidecar_reason(path: Path, st: os.stat_result, options: WriteOptions) -> str:
    fmt = format_of(path)
    if options.sidecar == SidecarPolicy.ALWAYS:
        return "sidecar requested"
    if fmt is not None and fmt.write is WriteMode.SIDECAR:
        return f"{fmt.name} files are not modified in place"
    if is_read_only(st, path):
        return "file is read-only"
    if st.st_size > MAX_IN_PLACE_BYTES:
        return "file too large to rewrite"
    return ""


@dataclass(frozen=True)
class Plan:
    """What is written into one photo: the field ``values`` (``tags.Field``), the
    ``place`` they name, the point the photo reads back with afterwards (degrees),
    whether its GPS must stay as it was (names only), and the journal's ``written``."""

    values: dict[Field, Any]
    place: PlaceNames
    point: tuple[float, float]
    keep_gps: bool
    written: dict[str, object]


def estimate_plan(meta: PhotoMetadata, prediction: Prediction, options: WriteOptions) -> Plan | str:
    """The plan to write ``prediction`` as an estimate, or why not."""
    reason = _existing_gps_reason(meta, options)
    if reason:
        return reason
    place = place_for(prediction)
    return Plan(
        estimate_values(prediction, place),
        place,
        (prediction.lat, prediction.lon),
        keep_gps=False,
        written=_written(prediction),
    )


def names_plan(path: Path, meta: PhotoMetadata, prediction: Prediction) -> Plan | str:
    """The plan to write the names of the photo's own camera GPS point (names only: the
    GPS is never touched), or why not. The names are ``geo.places.names_at`` of that
    point with ``prediction``'s names as the hint (names the user typed are kept where
    they agree with the point's country), and its sublocation within the city."""
    if meta.gps is None:
        return "has no GPS to name"
    if meta.gps_is_estimate:
        return "its location is a GeoScope estimate (named when it was written)"
    sidecar = sidecar_path(path)
    for data in (path.read_bytes(), sidecar.read_bytes() if sidecar.is_file() else None):
        if data is not None and editors.names_place(data):
            return "already names its place"
    place = names_at(meta.gps[0], meta.gps[1], PlaceNames.of(prediction))
    values = name_values(place, prediction.sublocation)
    if not values:
        return "no place name known for its GPS point"
    written: dict[str, object] = {"names": {f.value: v for f, v in values.items()}}
    return Plan(values, place, meta.gps, keep_gps=True, written=written)


def _written(prediction: Prediction) -> dict[str, object]:
    return {
        "lat": prediction.lat,
        "lon": prediction.lon,
        "model": prediction.model,
        "source": prediction.source.value,
        "radius_km": prediction.radius_km,
    }
