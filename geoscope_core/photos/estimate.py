"""What GeoScope writes for one estimate: the field values of ``tags.TAGS``.

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

import logging
import math
from dataclasses import replace
from typing import Any

from geoscope_core.geo.countries import country_alpha3
from geoscope_core.geo.places import PlaceNames, names_at
from geoscope_core.geo.precision import round_to_radius
from geoscope_core.photos.tags import ESTIMATE_NOTE_PREFIX, Field
from geoscope_core.prediction import Prediction, Source

log = logging.getLogger(__name__)

#: Sources that place a photo by its time, so have a fix time (and maybe an altitude).
BY_TIME = (Source.TRACK, Source.NEIGHBORS)


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
