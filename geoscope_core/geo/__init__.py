"""Offline geography: gazetteer, reverse geocoding, haversine, geocells, captions (numpy only).

Nothing is loaded at import; the gazetteer loads on the first :func:`get_gazetteer` call.
"""

from geoscope_core.geo.distance import EARTH_RADIUS_KM, haversine_km
from geoscope_core.geo.gazetteer import LEVELS, Gazetteer, Place, ReverseResult, get_gazetteer

__all__ = [
    "EARTH_RADIUS_KM",
    "LEVELS",
    "Gazetteer",
    "Place",
    "ReverseResult",
    "get_gazetteer",
    "haversine_km",
]
