"""A photo's evidence as a likelihood over places.

Each photo's evidence is a mixture of hypotheses (a camera fix, a track position, the
model's candidates, a gallery match): hypothesis ``k`` is a 2-D Gaussian of its own
radius ``r_k`` (km) around its point, weighted by its probability ``w_k``; what the
weights leave (at least ``NEVER_SURE``) is spread uniformly over the Earth, so no
estimate rules a place out. The likelihood of a place ``x`` is reported as log-odds
against knowing nothing: ``log(p(x) / U)`` with ``U = 1 / EARTH_KM2``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from geoscope_core.geo.distance import EARTH_RADIUS_KM, haversine_km
from geoscope_core.prediction import Prediction

#: Earth's surface, km^2: the uniform density 1/EARTH_KM2 is "knowing nothing".
EARTH_KM2 = 4.0 * math.pi * EARTH_RADIUS_KM**2
#: Probability always left to "somewhere else": no estimate rules a place out.
NEVER_SURE = 0.01


def distance_km(lat0: ArrayLike, lon0: ArrayLike, lat1: ArrayLike, lon1: ArrayLike) -> np.ndarray:
    """Great-circle distance (km) between points in degrees, always as an array."""
    return np.asarray(haversine_km(lat0, lon0, lat1, lon1), dtype=np.float64)


def mixtures(predictions: Sequence[Prediction]) -> tuple[np.ndarray, ...]:
    """Candidates of each prediction as arrays [N, K]: lat, lon (degrees), weight (its
    confidence, 0 pads; together at most 1 - NEVER_SURE) and radius (km; a candidate
    without one has its prediction's)."""
    k = max(max((len(p.top_k) for p in predictions), default=0), 1)
    lat, lon = np.zeros((len(predictions), k)), np.zeros((len(predictions), k))
    w, r = np.zeros((len(predictions), k)), np.ones((len(predictions), k))
    for i, p in enumerate(predictions):
        cands = p.top_k or (p.as_candidate(),)
        for j, c in enumerate(cands):
            lat[i, j], lon[i, j], w[i, j] = c.lat, c.lon, max(c.confidence, 0.0)
            r[i, j] = max(c.radius_km if c.radius_km is not None else p.radius_km, 0.01)
        w[i] *= min(1.0, (1.0 - NEVER_SURE) / max(float(w[i].sum()), 1e-12))
    return lat, lon, w, r


def log_odds(lat: np.ndarray, lon: np.ndarray, mix: tuple[np.ndarray, ...]) -> np.ndarray:
    """log(p(x) / U) [N, G] of places ``lat``/``lon`` [N, G] (NaN: no place, 0) under
    each photo's mixture ``mix`` [N, K] (see :func:`mixtures`)."""
    clat, clon, w, r = (a[:, None, :] for a in mix)
    d = distance_km(np.asarray(lat)[..., None], np.asarray(lon)[..., None], clat, clon)
    dens = (w / (2 * math.pi * r**2) * np.exp(-0.5 * (d / r) ** 2)).sum(axis=-1)
    rest = 1.0 - w.sum(axis=-1)
    out = np.log((dens + rest / EARTH_KM2) * EARTH_KM2)
    return np.where(np.isfinite(lat), out, 0.0)
