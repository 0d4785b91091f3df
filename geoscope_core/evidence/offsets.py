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

An estimate is *clear* when anchors agree (spread under ``sigma``) or the best score
beats every offset more than ``3 sigma`` away by ``min_ratio`` and at least
``min_pairs`` pairs support it; only a clear estimate is applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from geoscope_core.errors import ConfigError


@dataclass(frozen=True)
class OffsetSearch:
    """``max_s``: offsets searched, -max_s..+max_s seconds; ``sigma_s`` the time scale of
    "near-simultaneous" (s); ``quantile`` of the pair similarities above which a pair
    counts; ``min_ratio`` best score over the best elsewhere for a clear estimate;
    ``min_pairs`` pairs that must support it."""

    max_s: float = 3 * 3600.0
    sigma_s: float = 20.0
    quantile: float = 0.9
    min_ratio: float = 1.5
    min_pairs: int = 1

    def __post_init__(self) -> None:
        if not (self.max_s > 0 and self.sigma_s > 0 and 0 <= self.quantile < 1):
            raise ConfigError("max_s and sigma_s must be > 0, quantile in [0, 1)")
        if self.min_ratio < 1 or self.min_pairs < 1:
            raise ConfigError("min_ratio must be >= 1 and min_pairs >= 1")


@dataclass(frozen=True)
class OffsetEstimate:
    """``seconds`` to add to the camera's times (same sign as ``--time-offset``);
    ``clear`` whether the evidence is clear enough to apply it; ``method`` "anchors" or
    "photos"; ``ratio`` best score over the best elsewhere; ``support`` the pairs (camera
    index, reference index, residual s, similarity) or anchors (index, offset s) behind
    it; ``note`` one line of evidence to print."""

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
