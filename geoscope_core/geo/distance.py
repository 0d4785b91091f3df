"""Great-circle distances and unit-sphere helpers (numpy only).

All angles are in degrees (WGS84 latitude/longitude), all distances in km, on
a spherical Earth of radius :data:`EARTH_RADIUS_KM` (the IUGG mean radius).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: Mean Earth radius in km (IUGG R1).
EARTH_RADIUS_KM = 6371.0088


def haversine_km(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> np.ndarray | float:
    """Great-circle distance in km between points given in degrees.

    Arguments broadcast like numpy arrays (e.g. ``lat1`` [N, 1] against
    ``lat2`` [1, M] gives an [N, M] matrix). Scalars in give a Python float out.
    """
    la1 = np.radians(np.asarray(lat1, dtype=np.float64))
    lo1 = np.radians(np.asarray(lon1, dtype=np.float64))
    la2 = np.radians(np.asarray(lat2, dtype=np.float64))
    lo2 = np.radians(np.asarray(lon2, dtype=np.float64))
    a = np.sin((la2 - la1) / 2.0) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2.0) ** 2
    d = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    if d.ndim == 0:
        return float(d)
    return d


def to_unit_vectors(lats: ArrayLike, lons: ArrayLike) -> np.ndarray:
    """Unit vectors float64 [N, 3] (x, y, z on the unit sphere) for lat/lon in degrees [N]."""
    la = np.radians(np.atleast_1d(np.asarray(lats, dtype=np.float64)))
    lo = np.radians(np.atleast_1d(np.asarray(lons, dtype=np.float64)))
    cos_la = np.cos(la)
    return np.stack([cos_la * np.cos(lo), cos_la * np.sin(lo), np.sin(la)], axis=-1)


def from_vectors(xyz: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes in degrees [N] of vectors [N, 3] (need not be unit length).

    A zero vector (e.g. the mean of antipodal points) maps to latitude 0, longitude 0.
    """
    v = np.atleast_2d(np.asarray(xyz, dtype=np.float64))
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon


def spherical_mean(
    lats: ArrayLike, lons: ArrayLike, weights: ArrayLike | None = None
) -> tuple[float, float]:
    """Weighted mean position (degrees) of points in degrees, averaged as 3-D unit vectors.

    Handles the antimeridian and the poles (unlike averaging degrees).
    ``weights`` [N] default to 1; they must not all be zero.
    """
    v = to_unit_vectors(lats, lons)
    w = np.ones(len(v)) if weights is None else np.asarray(weights, dtype=np.float64)
    lat, lon = from_vectors((v * w[:, None]).sum(axis=0, keepdims=True))
    return float(lat[0]), float(lon[0])


def chord_to_km(chord: ArrayLike) -> np.ndarray:
    """Great-circle km for straight-line (chord) distances between unit vectors."""
    c = np.clip(np.asarray(chord, dtype=np.float64), 0.0, 2.0)
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(c / 2.0)
