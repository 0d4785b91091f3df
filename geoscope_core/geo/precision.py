"""How many decimals of a degree a location deserves, given its error radius.

One rule for every place that shows or writes coordinates: a location known to
±``radius_km`` gets the fewest decimals whose step (one unit of the last decimal, in
km along a meridian) is no larger than a tenth of the radius, so rounding moves the
point by less than a twentieth of its radius, and a ±2,000 km guess is never written
or shown to the metre. Degrees in, degrees out.
"""

from __future__ import annotations

import math

from geoscope_core.geo.distance import EARTH_RADIUS_KM

#: km one degree of latitude spans
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180.0
#: a location known less well than this (km) is coarse: wider than a town
COARSE_KM = 25.0
#: decimals of a camera fix (about 0.1 m): the finest any location gets
MAX_DECIMALS = 6


def coordinate_decimals(radius_km: float) -> int:
    """Decimals of a degree (0..MAX_DECIMALS) for a location known to ±``radius_km``;
    a radius of 0 (a fix whose error is unknown) or not finite gets ``MAX_DECIMALS``."""
    if not math.isfinite(radius_km) or radius_km <= 0:
        return MAX_DECIMALS
    return max(0, min(MAX_DECIMALS, math.ceil(math.log10(10.0 * KM_PER_DEGREE / radius_km))))


def round_to_radius(lat: float, lon: float, radius_km: float) -> tuple[float, float]:
    """(lat, lon) degrees rounded to ``coordinate_decimals(radius_km)``."""
    d = coordinate_decimals(radius_km)
    return round(lat, d) + 0.0, round(lon, d) + 0.0  # + 0.0: no "-0.0"
