"""Naming a point: the one rule every layer uses, so a point lies in the place it names.

``names_at(lat, lon)`` reverse geocodes the point (its nearest GeoNames city, that
city's admin-1 region and country). A caller that already has names for the
point (a model's label, a user's choice) passes them as ``hint``: they are kept
where the point lies in the hinted country, completed from the point's own names
where they are missing, and replaced by the point's own names where they name
another country. So an estimate is never written as "Croatia" at a point in Bosnia.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from geoscope_core.errors import GazetteerError
from geoscope_core.geo.countries import country_name
from geoscope_core.geo.place import PlaceNames, ReverseResult

if TYPE_CHECKING:
    from geoscope_core.geo.gazetteer import Gazetteer

__all__ = ["PlaceNames", "names_at", "names_at_many", "place_point"]

log = logging.getLogger(__name__)


def _of_result(r: ReverseResult, city_within_km: float) -> PlaceNames:
    return PlaceNames(
        country_code=r.country.country_code,
        country=r.country.name,
        admin1=r.admin1.name if r.admin1 is not None else "",
        city=r.city.name if r.distance_km <= city_within_km else "",
    )


def _merge(point: PlaceNames, hint: PlaceNames | None) -> PlaceNames:
    """The hint where it agrees with the point's country, completed from the point."""
    if hint is None or hint.country_code.upper() != point.country_code:
        return point
    same_region = not hint.admin1 or hint.admin1 == point.admin1
    return PlaceNames(
        country_code=point.country_code,
        country=hint.country or point.country,
        admin1=hint.admin1 or point.admin1,
        city=hint.city or (point.city if same_region else ""),
    )


def _without_gazetteer(hint: PlaceNames | None) -> PlaceNames:
    names = hint or PlaceNames()
    if names.country_code and not names.country:
        names = PlaceNames(
            names.country_code, country_name(names.country_code, unknown=""), names.admin1,
            names.city,
        )  # fmt: skip
    return names


def _gazetteer(gazetteer: Gazetteer | None) -> Gazetteer:
    if gazetteer is not None:
        return gazetteer
    from geoscope_core.geo.gazetteer import get_gazetteer

    return get_gazetteer()


def names_at(
    lat: float,
    lon: float,
    hint: PlaceNames | None = None,
    *,
    city_within_km: float = math.inf,
    gazetteer: Gazetteer | None = None,
) -> PlaceNames:
    """The names of the place that contains the point (``lat``/``lon`` in degrees).

    ``hint``: names the caller already has for the point, kept when they agree with
    the point's country (see the module docstring). ``city_within_km``: no city is
    named when the nearest city is farther than this (km). Without the offline
    gazetteer the hint is returned, its country name filled from its code.
    """
    try:
        r = _gazetteer(gazetteer).reverse(lat, lon)
    except (ImportError, GazetteerError) as e:
        log.debug("no gazetteer to name %.4f, %.4f: %s", lat, lon, e)
        return _without_gazetteer(hint)
    return _merge(_of_result(r, city_within_km), hint)


def names_at_many(
    lats: ArrayLike, lons: ArrayLike, *, gazetteer: Gazetteer | None = None
) -> list[PlaceNames]:
    """``names_at`` of many points [N] (degrees) at once, without hints."""
    la = np.atleast_1d(np.asarray(lats, dtype=np.float64))
    lo = np.atleast_1d(np.asarray(lons, dtype=np.float64))
    try:
        results = _gazetteer(gazetteer).reverse_many(la, lo)
    except (ImportError, GazetteerError) as e:
        log.debug("no gazetteer to name %d points: %s", len(la), e)
        return [PlaceNames() for _ in range(len(la))]
    return [_of_result(r, math.inf) for r in results]


def place_point(
    lat: float, lon: float, hint: PlaceNames, *, gazetteer: Gazetteer | None = None
) -> tuple[float, float, PlaceNames]:
    """An estimate's point and names when the estimator named a country: the point as it
    is where it lies in that country, else moved to that country's city nearest to it,
    so the point lies in the place it names. Degrees in and out; without a country in
    ``hint`` (or without the gazetteer) the point is named as it is."""
    return place_points([lat], [lon], [hint], gazetteer=gazetteer)[0]


def place_points(
    lats: Sequence[float],
    lons: Sequence[float],
    hints: Sequence[PlaceNames],
    *,
    gazetteer: Gazetteer | None = None,
) -> list[tuple[float, float, PlaceNames]]:
    """``place_point`` of many points [N] (degrees) with their hints, reverse geocoded in
    one vectorised look-up (a point is looked up again, alone, only when its hint names
    another country)."""
    try:
        gaz = _gazetteer(gazetteer)
        results = gaz.reverse_many(np.asarray(lats, np.float64), np.asarray(lons, np.float64))
    except GazetteerError as e:
        if len(lats) > 1:  # a bad point among them: each on its own
            return [
                p
                for la, lo, h in zip(lats, lons, hints, strict=True)
                for p in place_points([la], [lo], [h], gazetteer=gazetteer)
            ]
        log.debug("cannot place %s, %s: %s", lats, lons, e)
        return [(float(lats[0]), float(lons[0]), _without_gazetteer(hints[0]))]
    except ImportError as e:
        log.debug("no gazetteer to place %d points: %s", len(lats), e)
        return [
            (la, lo, _without_gazetteer(h)) for la, lo, h in zip(lats, lons, hints, strict=True)
        ]
    out = []
    for lat, lon, hint, r in zip(lats, lons, hints, results, strict=True):
        cc = hint.country_code.upper()
        if cc and cc != r.country.country_code:
            try:
                r = gaz.nearest_in_country(lat, lon, cc)
            except GazetteerError:  # a country the data has no city of: name the point
                out.append((lat, lon, _of_result(r, math.inf)))
                continue
            lat, lon = r.city.lat, r.city.lon
        out.append((lat, lon, _merge(_of_result(r, math.inf), hint)))
    return out
