"""Offline geography: gazetteer, naming a point, haversine, geocells, captions (numpy only).

Nothing is loaded at import; the gazetteer loads on the first :func:`get_gazetteer` call.
"""

from geoscope_core.geo.distance import EARTH_RADIUS_KM, haversine_km
from geoscope_core.geo.gazetteer import LEVELS, Gazetteer, get_gazetteer
from geoscope_core.geo.place import Place, ReverseResult
from geoscope_core.geo.places import PlaceNames, names_at

__all__ = [
    "EARTH_RADIUS_KM",
    "LEVELS",
    "Gazetteer",
    "Place",
    "PlaceNames",
    "ReverseResult",
    "get_gazetteer",
    "haversine_km",
    "names_at",
]
