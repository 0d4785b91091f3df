"""Sample weights that keep dense places from dominating a training set.

A photo collection is lumpy: one campus gives hundreds of photos within 300 m, one
Street View set thousands in one country, while the world beyond gets a handful per
region. Weighting each photo by ``1 / n**(1 - power)``, where ``n`` counts the photos
in its grid square of side ``bin_km``, gives every square a total weight of
``n**power``: ``power = 0`` counts each square once (one campus = one place),
``power = 1`` is the unweighted set, ``0.5`` lies between.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from geoscope_core.errors import ConfigError
from geoscope_core.geo.distance import EARTH_RADIUS_KM


def grid_squares(lat: ArrayLike, lon: ArrayLike, bin_km: float) -> np.ndarray:
    """Integer id [N] of the roughly ``bin_km`` x ``bin_km`` square each point (degrees)
    lies in: rows of ``bin_km`` of latitude, each cut into as many columns as its
    circumference holds (so squares keep their size towards the poles)."""
    if bin_km <= 0:
        raise ConfigError(f"bin_km must be > 0, got {bin_km}")
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    deg = np.degrees(bin_km / EARTH_RADIUS_KM)
    row = np.floor((la + 90.0) / deg).astype(np.int64)
    centre = np.radians(np.clip(-90.0 + (row + 0.5) * deg, -89.9, 89.9))
    columns = np.maximum(1, np.floor(360.0 * np.cos(centre) / deg)).astype(np.int64)
    col = np.floor((lo + 180.0) / 360.0 * columns).astype(np.int64) % columns
    return row * 1_000_000 + col


def place_weights(lat: ArrayLike, lon: ArrayLike, bin_km: float, power: float) -> np.ndarray:
    """Weights [N] (mean 1) giving each ``bin_km`` grid square a total of ``n**power``
    for its ``n`` points (degrees)."""
    if not 0.0 <= power <= 1.0:
        raise ConfigError(f"power must be in 0..1, got {power}")
    return rebalance(np.ones(len(np.atleast_1d(lat))), grid_squares(lat, lon, bin_km), power)


def rebalance(weights: ArrayLike, groups: ArrayLike, power: float) -> np.ndarray:
    """Weights [N] (mean 1) where each group of ``groups`` [N] (a grid square, a country,
    a data source), holding a total weight ``W`` in ``weights`` [N], holds ``W**power``
    instead, its members keeping their proportions: ``power`` 1 changes nothing, 0 gives
    every group the same total (no dense country or source outweighs a sparse one)."""
    if not 0.0 <= power <= 1.0:
        raise ConfigError(f"power must be in 0..1, got {power}")
    w = np.asarray(weights, dtype=np.float64)
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    totals = np.bincount(inverse.reshape(-1), weights=w)
    out = w * totals[inverse.reshape(-1)] ** (power - 1.0)
    return out / out.mean()
