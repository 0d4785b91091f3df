"""Fitting a model's calibration: its temperature, its error radius per confidence and
the training prior a Bayes point may mix in.

One piece of code for the exporter (fitted on val photos, ``geoscope_export``) and the
out-of-source protocol (fitted on held-out sources, ``training.protocol``); numpy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from geoscope_core.errors import GeoScopeError
from geoscope_core.runtime.manifest import TEMPERATURE_RANGE, ErrorModel

#: Share of photos an error radius holds (per confidence bin).
COVERAGE = 0.68
#: Confidence bins of an error model.
RADIUS_BINS = 5


class CalibrationError(GeoScopeError):
    """Nothing to fit a calibration on (no photos)."""


def fit_temperature(nll: Callable[[float], float], grid_points: int = 81) -> float:
    """The temperature in the manifest's ``TEMPERATURE_RANGE`` minimising ``nll(T)`` (the negative
    log-likelihood of the held-out photos at temperature T): a log-spaced grid, then a
    golden-section search between the best grid point's neighbours."""
    lo_t, hi_t = TEMPERATURE_RANGE
    grid = np.linspace(np.log(lo_t), np.log(hi_t), grid_points)
    values = [nll(float(np.exp(g))) for g in grid]
    k = int(np.argmin(values))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if nll(float(np.exp(a))) < nll(float(np.exp(b))):
            hi = b
        else:
            lo = a
    return float(np.clip(np.exp((lo + hi) / 2), lo_t, hi_t))  # exp(log(x)) may pass x


def softmax_nll(logits: np.ndarray, target: np.ndarray) -> Callable[[float], float]:
    """``nll(T)``: the mean NLL of ``softmax(logits / T)`` [N, C] at ``target`` [N]."""

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(lse - z[np.arange(len(z)), target]))

    return nll


def fit_error_model(
    confidence: np.ndarray,
    error_km: np.ndarray,
    weights: np.ndarray | None = None,
    bins: int = RADIUS_BINS,
    quantile: float = COVERAGE,
) -> ErrorModel:
    """Conformal radius per confidence bin: bins at the (weighted) confidence quantiles,
    each bin's radius the (weighted) ``quantile`` of its errors (km), so an uncertain
    guess reports the thousands of km its peers are off by, not the error of the
    confident photos beside it; radii never grow with confidence. Without ``weights``
    [N] the quantiles interpolate (numpy's default); with them (e.g. each source
    counting the same) they are the weighted inverted CDF."""
    if len(confidence) == 0:
        raise CalibrationError("cannot build an error model from zero photos")
    c = np.asarray(confidence, np.float64)
    e = np.asarray(error_km, np.float64)
    w = None if weights is None else np.asarray(weights, np.float64)

    def q(x: np.ndarray, wx: np.ndarray | None, at: np.ndarray | float) -> np.ndarray:
        if wx is None:
            return np.quantile(x, at)
        return np.quantile(x, at, weights=wx, method="inverted_cdf")

    qs = q(c, w, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    edges = np.unique(np.concatenate([[0.0], np.atleast_1d(qs)]))
    upper = np.append(edges[1:], np.inf)
    radii = []
    for lo, hi in zip(edges, upper, strict=True):
        m = (c >= lo) & (c < hi)
        radii.append(float(q(e[m], None if w is None else w[m], quantile)) if m.any() else 0.0)
    radii_arr = np.maximum.accumulate(np.asarray(radii)[::-1])[::-1]
    return ErrorModel(
        tuple(round(float(x), 6) for x in edges), tuple(round(float(r), 1) for r in radii_arr)
    )


def prior_of(log_prior: np.ndarray) -> tuple[float, ...]:
    """A level's training prior as a manifest's ``decoding.prior`` (sums to 1)."""
    p = np.exp(np.asarray(log_prior, np.float64))
    p = np.round(p / p.sum(), 7)
    return tuple(float(x) for x in p / p.sum())
