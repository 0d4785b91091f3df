"""Estimating a camera's clock offset from the user's other evidence.

A camera without GPS whose clock is off by ``d`` seconds is placed ``d`` seconds wrong
on the track. Its photos tell ``d`` two ways:

- **anchors**: a photo of that camera which also carries a GPS time (GPSDateStamp/
  GPSTimeStamp, e.g. from a paired phone) gives ``gps_utc - camera_utc`` directly;
- **near-simultaneous photos**: the photographer shoots the same scene with the camera
  and the phone. For a candidate offset ``d``, every (camera photo i, reference photo j)
  pair adds ``w_ij * exp(-((t_i + d - t_j) / sigma)^2 / 2)`` to a score, where ``w_ij``
  is how much more alike the two images are than is usual for this trip (cosine
  similarity of the model's image embeddings above its 90th percentile over all pairs,
  or above the ``min(Nc, Nr)``-th most alike pair when that is lower, since each camera
  photo may have one twin; above the median when that leaves no pair).
  The offset is the best-scoring ``d``.
- **agreement with the model**, where the look-alike photos do not settle it: for a
  candidate offset ``d``, each of the camera's photos that the track places at ``t_i + d``
  adds the log-likelihood ratio of that position under the model's estimate of the
  photo against knowing nothing: ``log(p_i(x) / U)``, with ``p_i`` the mixture of the
  estimate's top-k candidates (a Gaussian of each candidate's own radius, weighted by
  its confidence; the rest of the probability spread over the Earth) and ``U`` the
  uniform density over the Earth. The offset is the best-scoring ``d``.

An estimate is *clear* when anchors agree (spread under ``sigma``) or the best score
beats every offset more than ``3 sigma`` away by ``min_ratio`` and at least
``min_pairs`` pairs support it (look-alike photos), or is at least ``min_odds`` times
as likely as every offset more than ``3 sigma`` away and as knowing nothing (agreement
with the model); only a clear estimate is applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from geoscope_core.errors import ConfigError
from geoscope_core.placement import likelihood
from geoscope_core.prediction import Prediction

#: (times [M] epoch s) -> (lat, lon) [M] degrees where the evidence places them, NaN else.
PositionsAt = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
#: Photo x offset x candidate cells scored at once (bounds the memory of the search).
_CELLS = 1 << 21


@dataclass(frozen=True)
class OffsetSearch:
    """``max_s``: offsets searched, -max_s..+max_s seconds; ``sigma_s`` the time scale of
    "near-simultaneous" (s); ``quantile`` of the pair similarities above which a pair
    counts; ``min_ratio`` best score over the best elsewhere for a clear estimate;
    ``min_pairs`` pairs that must support it; ``min_odds`` how many times likelier than
    any offset elsewhere agreement with the model must make the best one."""

    max_s: float = 3 * 3600.0
    sigma_s: float = 20.0
    quantile: float = 0.9
    min_ratio: float = 1.5
    min_pairs: int = 1
    min_odds: float = 100.0

    def __post_init__(self) -> None:
        if not (self.max_s > 0 and self.sigma_s > 0 and 0 <= self.quantile < 1):
            raise ConfigError("max_s and sigma_s must be > 0, quantile in [0, 1)")
        if self.min_ratio < 1 or self.min_pairs < 1 or self.min_odds < 1:
            raise ConfigError("min_ratio, min_pairs and min_odds must be >= 1")


@dataclass(frozen=True)
class OffsetEstimate:
    """``seconds`` to add to the camera's times (same sign as ``--time-offset``);
    ``clear`` whether the evidence is clear enough to apply it; ``method`` "anchors",
    "photos" or "model"; ``ratio`` best score over the best elsewhere (for "model": the
    odds of the best offset against the best elsewhere); ``support`` the pairs (camera
    index, reference index, residual s, similarity), anchors (index, offset s) or placed
    photos (index, log-odds of the position) behind it; ``note`` one line of evidence."""

    seconds: float
    clear: bool
    method: str
    ratio: float = 0.0
    support: tuple[tuple[float, ...], ...] = field(default_factory=tuple)
    note: str = ""


def from_anchors(
    camera_utc: np.ndarray, gps_utc: np.ndarray, sigma_s: float = 20.0
) -> OffsetEstimate | None:
    """Offset from photos carrying both a camera time and a GPS time (float [K] epoch s,
    NaN where missing): the median of ``gps - camera``; clear when at least two agree to
    within ``sigma_s`` (median absolute deviation) or there is only one."""
    cam = np.asarray(camera_utc, np.float64)
    gps = np.asarray(gps_utc, np.float64)
    ok = np.isfinite(cam) & np.isfinite(gps)
    if not ok.any():
        return None
    d = gps[ok] - cam[ok]
    med = float(np.median(d))
    mad = float(np.median(np.abs(d - med)))
    idx = np.nonzero(ok)[0]
    return OffsetEstimate(
        seconds=med,
        clear=bool(mad <= sigma_s),
        method="anchors",
        support=tuple((float(i), float(x)) for i, x in zip(idx, d, strict=True)),
        note=f"{len(d)} photo(s) with a GPS time: offset {med:+.0f} s (spread {mad:.0f} s)",
    )


def from_photos(
    camera_utc: np.ndarray,
    ref_utc: np.ndarray,
    similarity: np.ndarray,
    search: OffsetSearch | None = None,
) -> OffsetEstimate | None:
    """Offset aligning a camera's photos (times float [Nc] epoch s) with reference photos
    of other devices (float [Nr]) given their image similarities ``similarity`` [Nc, Nr]
    (cosine, -1..1). None when no pair is informative."""
    s = search or OffsetSearch()
    cam = np.asarray(camera_utc, np.float64)
    ref = np.asarray(ref_utc, np.float64)
    sim = np.asarray(similarity, np.float64)
    if sim.shape != (cam.shape[0], ref.shape[0]):
        raise ConfigError(f"similarity is {sim.shape}, expected {(cam.shape[0], ref.shape[0])}")
    if not cam.size or not ref.size:
        return None
    lag = ref[None, :] - cam[:, None]  # offset that makes the pair simultaneous
    near = np.isfinite(lag) & (np.abs(lag) <= s.max_s + 4 * s.sigma_s)
    if not near.any():
        return None
    ranked = np.sort(sim[near])[::-1]
    # each camera photo has at most one twin, so up to min(Nc, Nr) pairs may be real:
    # a small trip's 90th percentile would leave only its single most alike pair
    twins = min(cam.shape[0], ref.shape[0], len(ranked) - 1)
    base = min(float(np.quantile(ranked, s.quantile)), float(ranked[twins]) if twins else 1.0)
    w = np.where(near, np.maximum(sim - base, 0.0), 0.0)
    if not (w > 0).any():  # few pairs, the best all alike: above the median then
        w = np.where(near, np.maximum(sim - float(np.median(sim[near])), 0.0), 0.0)
    ii, jj = np.nonzero(w > 0)
    if not len(ii):
        return None
    lags, ws = lag[ii, jj], w[ii, jj]
    grid = np.arange(-s.max_s, s.max_s + 1.0, 1.0)
    # score(grid) = sum_k ws_k * gauss(grid - lags_k), evaluated on the 1 s grid
    hist = np.zeros(grid.shape[0])
    pos = np.clip(np.round(lags + s.max_s).astype(np.int64), 0, len(grid) - 1)
    np.add.at(hist, pos, ws)
    half = int(np.ceil(4 * s.sigma_s))
    kern = np.exp(-0.5 * (np.arange(-half, half + 1) / s.sigma_s) ** 2)
    score = np.convolve(hist, kern, mode="same")
    best = int(np.argmax(score))
    far = np.abs(grid - grid[best]) > 3 * s.sigma_s
    runner = float(score[far].max()) if far.any() else 0.0
    ratio = float(score[best] / runner) if runner > 0 else float("inf")
    close = np.abs(lags - grid[best]) <= 2 * s.sigma_s
    # refine: the weighted mean lag of the supporting pairs
    seconds = float(np.average(lags[close], weights=ws[close])) if close.any() else grid[best]
    support = tuple(
        (float(i), float(j), float(lag[i, j] - seconds), float(sim[i, j]))
        for i, j in zip(ii[close], jj[close], strict=True)
    )
    clear = ratio >= s.min_ratio and len(support) >= s.min_pairs
    note = (
        f"{len(support)} near-simultaneous look-alike pair(s) agree on {seconds:+.0f} s; "
        f"next best offset scores {1 / ratio if ratio else 0:.0%} of it"
        + ("" if clear else " (not clear enough to apply)")
    )
    return OffsetEstimate(seconds, bool(clear), "photos", ratio, support, note)


def from_model(
    camera_utc: np.ndarray,
    predictions: Sequence[Prediction],
    positions_at: PositionsAt,
    search: OffsetSearch | None = None,
    step_s: float = 5.0,
) -> OffsetEstimate | None:
    """Offset under which the track positions of a camera's photos (times float [N] epoch
    s, the model's ``predictions`` of them) agree best with the model (see the module
    docstring); searched every ``step_s`` seconds, then to the second around the best.
    None when no offset places a photo."""
    s = search or OffsetSearch()
    cam = np.asarray(camera_utc, np.float64)
    if len(predictions) != cam.shape[0]:
        raise ConfigError(f"{len(predictions)} predictions for {cam.shape[0]} photos")
    ok = np.isfinite(cam)
    cam, preds = cam[ok], [p for p, keep in zip(predictions, ok, strict=True) if keep]
    if not cam.size:
        return None
    mix = likelihood.mixtures(preds)

    def scores(grid: np.ndarray) -> np.ndarray:
        out = []
        chunk = max(1, _CELLS // (cam.shape[0] * mix[0].shape[1]))
        for g in np.array_split(grid, max(1, -(-len(grid) // chunk))):
            t = cam[:, None] + g[None, :]
            lat, lon = positions_at(t.reshape(-1))
            lo = likelihood.log_odds(lat.reshape(t.shape), lon.reshape(t.shape), mix)
            out.append(lo.sum(axis=0))
        return np.concatenate(out)

    grid = np.arange(-s.max_s, s.max_s + step_s / 2, step_s)
    coarse = float(grid[int(np.argmax(scores(grid)))])
    fine = np.arange(coarse - step_s, coarse + step_s + 0.5)
    grid = np.concatenate([grid, fine])
    score = scores(grid)
    best = int(np.argmax(score))
    seconds, top = float(grid[best]), float(score[best])
    t = cam + seconds
    lat, lon = positions_at(t)
    placed = np.isfinite(lat)
    if not placed.any():
        return None
    far = np.abs(grid - seconds) > 3 * s.sigma_s
    runner = max(float(score[far].max()) if far.any() else -math.inf, 0.0)  # 0: know nothing
    odds_log = top - runner
    clear = odds_log >= math.log(s.min_odds)
    d = likelihood.log_odds(lat[:, None], lon[:, None], mix)[:, 0]
    idx = np.nonzero(placed)[0]
    support = tuple((float(i), float(x)) for i, x in zip(idx, d[placed], strict=True))
    note = (
        f"the track positions of {len(idx)} photo(s) agree best with the model's estimates "
        f"at {seconds:+.0f} s, {_odds_text(odds_log)} as likely as at any offset more than "
        f"{3 * s.sigma_s:.0f} s away" + ("" if clear else " (not clear enough to apply)")
    )
    odds = math.exp(min(odds_log, 700.0))
    return OffsetEstimate(seconds, bool(clear), "model", odds, support, note)


def _odds_text(log_odds: float) -> str:
    if log_odds > math.log(1e6):
        return "over a million times"
    return f"{math.exp(max(log_odds, 0.0)):,.0f} times"
