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

Anchors are read with care: a GPS time equal to the camera's own wall time was written
from its clock (no anchor), whole days of difference are the GPS date's error, and
where the zone is known (OffsetTimeOriginal, ``--tz``) whole quarter hours are the
zone's; only the rest is the clock's.

An estimate is *clear* when anchors agree (spread under ``sigma``) or the best score
beats every offset more than ``3 sigma`` away, and no offset at all, by ``min_ratio``
and at least ``min_pairs`` pairs support it (look-alike photos: one pair is never
enough, a single look-alike may be another scene), or is at least ``min_odds`` times
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
from geoscope_core.words import count

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
    min_pairs: int = 2
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


def format_offset(seconds: float) -> str:
    """A clock offset as signed hours, minutes and seconds: "+0:01:30", "-8:00:00",
    "-0:00:00.5" (a fraction only where there is one)."""
    sign = "-" if seconds < 0 else "+"
    tenths = round(abs(float(seconds)) * 10)
    whole, frac = divmod(tenths, 10)
    text = f"{sign}{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return text + (f".{frac}" if frac else "")


#: An anchor whose GPS time is within this (s) of the camera's own wall time was
#: written from the camera's clock (a known habit), not by a GPS receiver.
_SAME_AS_CLOCK_S = 1.0
#: Below this (s), what an anchor says is a clock error; above, whole quarter hours
#: are a time zone (where the zone is known, the user's or the photo's wins).
_ZONE_LIKE_S = 25 * 60.0


def from_anchors(
    camera_utc: np.ndarray,
    gps_utc: np.ndarray,
    sigma_s: float = 20.0,
    local: np.ndarray | None = None,
    zone_known: bool = False,
) -> OffsetEstimate | None:
    """Offset from photos carrying both a camera time and a GPS time (float [K] epoch s,
    NaN where missing): the median of ``gps - camera``; clear when they agree to within
    ``sigma_s`` (median absolute deviation) or there is only one. ``local`` [K] the
    camera's wall times read as if UTC (epoch s): a GPS time equal to it was written
    from the clock and is no anchor. Whole days of difference are the GPS date's error,
    not the clock's; where the zone is known (``zone_known``: the photo's
    OffsetTimeOriginal or the user's --tz), whole quarter hours beyond
    ``_ZONE_LIKE_S`` are the zone's, not the clock's: only the rest is an offset."""
    cam = np.asarray(camera_utc, np.float64)
    gps = np.asarray(gps_utc, np.float64)
    ok = np.isfinite(cam) & np.isfinite(gps)
    notes = []
    if local is not None:
        clock = ok & (np.abs(gps - np.asarray(local, np.float64)) <= _SAME_AS_CLOCK_S)
        if clock.any():
            notes.append(f"{int(clock.sum())} GPS time(s) equal to the camera's own time ignored")
        ok &= ~clock
    if not ok.any():
        return None
    d = gps[ok] - cam[ok]
    days = np.round(d / 86400.0)
    if (days != 0).any():
        n = int(np.median(days))
        notes.append(f"GPS dates {n:+d} day(s) from the camera's taken as the GPS date's error")
        d = d - days * 86400.0
    if zone_known:
        zone = np.where(np.abs(d) >= _ZONE_LIKE_S, np.round(d / 900.0) * 900.0, 0.0)
        if (zone != 0).any():
            z = float(np.median(zone))
            notes.append(f"{format_offset(z)[:-3]} of it taken as the time zone's, not the clock's")
            d = d - zone
    med = float(np.median(d))
    mad = float(np.median(np.abs(d - med)))
    idx = np.nonzero(ok)[0]
    extra = "".join(f"; {n}" for n in notes)
    return OffsetEstimate(
        seconds=med,
        clear=bool(mad <= sigma_s),
        method="anchors",
        support=tuple((float(i), float(x)) for i, x in zip(idx, d, strict=True)),
        note=(
            f"{count(len(d), 'photo')} with a GPS time: offset {format_offset(med)} "
            f"(spread {mad:.0f} s){extra}"
        ),
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
    at_zero = float(score[int(np.argmin(np.abs(grid)))])
    beats_none = abs(seconds) <= 3 * s.sigma_s or score[best] >= s.min_ratio * at_zero
    clear = ratio >= s.min_ratio and len(support) >= s.min_pairs and beats_none
    note = (
        f"{len(support)} near-simultaneous look-alike pair(s) agree on "
        f"{format_offset(seconds)}; next best offset scores {1 / ratio if ratio else 0:.0%} "
        f"of it" + ("" if clear else " (not clear enough to apply)")
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
        f"the track positions of {count(len(idx), 'photo')} agree best with the model's estimates "
        f"at {format_offset(seconds)}, {_odds_text(odds_log)} as likely as at any offset more than "
        f"{3 * s.sigma_s:.0f} s away" + ("" if clear else " (not clear enough to apply)")
    )
    odds = math.exp(min(odds_log, 700.0))
    return OffsetEstimate(seconds, bool(clear), "model", odds, support, note)


def _odds_text(log_odds: float) -> str:
    if log_odds > math.log(1e6):
        return "over a million times"
    return f"{math.exp(max(log_odds, 0.0)):,.0f} times"
