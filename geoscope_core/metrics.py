"""Geolocation evaluation metrics (numpy; matplotlib only inside the plot function).

Field names follow the DESIGN ``eval`` contract: ``n``, ``acc_km`` (fractions
0-1 of predictions within 1/25/200/750/2500 km, keys are the thresholds as
strings), ``median_km``, ``mean_km``, ``country_acc``, ``admin1_acc``,
``city_acc`` and ``geoscore`` (mean of 5000·exp(−d/1492.7), d in km; the
GeoGuessr-style score used by PIGEON).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.geo.distance import haversine_km

log = logging.getLogger(__name__)

#: Distance thresholds of the acc@km metrics (street, city, region, country, continent).
THRESHOLDS_KM: tuple[int, ...] = (1, 25, 200, 750, 2500)
#: GeoScore: 5000 * exp(-d / GEOSCORE_SCALE_KM) per prediction, d in km.
GEOSCORE_MAX = 5000.0
GEOSCORE_SCALE_KM = 1492.7


def geoscore(d_km: ArrayLike) -> float:
    """Mean GeoScore (0-5000) of error distances in km (a scalar or [N])."""
    d = np.atleast_1d(np.asarray(d_km, dtype=np.float64))
    if d.size == 0:
        raise DataError("GeoScore of no distances")
    if not np.isfinite(d).all() or (d < 0).any():
        raise DataError("distances must be finite and >= 0 km")
    return float(np.mean(GEOSCORE_MAX * np.exp(-d / GEOSCORE_SCALE_KM)))


def accuracy_at(d_km: ArrayLike, thresholds: Sequence[float] = THRESHOLDS_KM) -> dict[str, float]:
    """Fraction (0-1) of distances (km) <= each threshold, keyed by the threshold as text."""
    d = np.asarray(d_km, dtype=np.float64)
    if d.size == 0:
        raise DataError("accuracy of no distances")
    return {f"{t:g}": float(np.mean(d <= t)) for t in thresholds}


def _label_accuracy(
    pred: Sequence[str] | None, true: Sequence[str] | None, n: int, name: str
) -> float | None:
    """Fraction of rows whose predicted label equals the true one (case-insensitive),
    over the rows that have a true label; None when there are no labels to compare."""
    if pred is None or true is None:
        return None
    if len(pred) != n or len(true) != n:
        raise DataError(f"{name}: {len(pred)} predictions and {len(true)} truths for {n} photos")
    pairs = [
        ((p or "").strip().casefold(), t.strip().casefold())
        for p, t in zip(pred, true, strict=True)
        if t and t.strip()
    ]
    if not pairs:
        return None
    return float(np.mean([p == t for p, t in pairs]))


def evaluate(
    pred_lat: ArrayLike,
    pred_lon: ArrayLike,
    true_lat: ArrayLike,
    true_lon: ArrayLike,
    pred_cc: Sequence[str] | None = None,
    true_cc: Sequence[str] | None = None,
    pred_admin1: Sequence[str] | None = None,
    true_admin1: Sequence[str] | None = None,
    pred_city: Sequence[str] | None = None,
    true_city: Sequence[str] | None = None,
    pred_radius_km: ArrayLike | None = None,
) -> dict[str, Any]:
    """Metrics of N predictions against the truth (all coordinates in degrees, [N]).

    Returns ``{"n", "acc_km": {"1", "25", "200", "750", "2500"}, "median_km",
    "mean_km", "country_acc", "admin1_acc", "city_acc", "geoscore"}``, and with
    ``pred_radius_km`` [N] the predictions' error radii, ``"within_radius"``: the share
    of photos no farther off than their radius says. A label accuracy is computed over
    the rows with a non-empty true label (case-insensitive comparison) and is None when
    no labels were given. Raises DataError for empty, mismatched or invalid input.
    """
    arrays = [
        np.atleast_1d(np.asarray(a, dtype=np.float64))
        for a in (pred_lat, pred_lon, true_lat, true_lon)
    ]
    n = len(arrays[0])
    if n == 0:
        raise DataError("nothing to evaluate: no predictions")
    if any(a.shape != (n,) for a in arrays):
        raise DataError(f"coordinate arrays differ in shape: {[a.shape for a in arrays]}")
    for a, name, limit in zip(
        arrays, ("pred_lat", "pred_lon", "true_lat", "true_lon"), (90, 180, 90, 180), strict=True
    ):
        if not np.isfinite(a).all() or (np.abs(a) > limit).any():
            raise DataError(f"{name} holds non-finite or out-of-range degrees")
    d = np.asarray(haversine_km(*arrays), dtype=np.float64)
    extra: dict[str, Any] = {}
    if pred_radius_km is not None:
        radius = np.atleast_1d(np.asarray(pred_radius_km, dtype=np.float64))
        if radius.shape != (n,):
            raise DataError(f"{radius.shape[0]} radii for {n} predictions")
        extra["within_radius"] = float(np.mean(d <= radius))
    return {
        "n": n,
        "acc_km": accuracy_at(d),
        "median_km": float(np.median(d)),
        "mean_km": float(np.mean(d)),
        "country_acc": _label_accuracy(pred_cc, true_cc, n, "country"),
        "admin1_acc": _label_accuracy(pred_admin1, true_admin1, n, "admin1"),
        "city_acc": _label_accuracy(pred_city, true_city, n, "city"),
        "geoscore": geoscore(d),
        **extra,
    }


def evaluate_by(
    groups: Sequence[str],
    pred_lat: ArrayLike,
    pred_lon: ArrayLike,
    true_lat: ArrayLike,
    true_lon: ArrayLike,
    pred_cc: Sequence[str] | None = None,
    true_cc: Sequence[str] | None = None,
    pred_radius_km: ArrayLike | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`evaluate` per distinct non-empty value of ``groups`` [N] (a data set or a
    scope), in sorted order; rows whose group is "" are left out."""
    keys = np.asarray(groups, dtype=object)
    plat, plon, tlat, tlon = (
        np.asarray(a, dtype=np.float64) for a in (pred_lat, pred_lon, true_lat, true_lon)
    )
    pcc = None if pred_cc is None else np.asarray(pred_cc, dtype=object)
    tcc = None if true_cc is None else np.asarray(true_cc, dtype=object)
    radius = None if pred_radius_km is None else np.asarray(pred_radius_km, dtype=np.float64)
    out: dict[str, dict[str, Any]] = {}
    for key in sorted({str(k) for k in keys if k}):
        rows = np.flatnonzero(keys == key)
        out[key] = evaluate(
            plat[rows],
            plon[rows],
            tlat[rows],
            tlon[rows],
            pred_cc=None if pcc is None else [str(v) for v in pcc[rows]],
            true_cc=None if tcc is None else [str(v) for v in tcc[rows]],
            pred_radius_km=None if radius is None else radius[rows],
        )
    return out


def plot_accuracy_vs_distance(curves: dict[str, np.ndarray], out_png: Path) -> Path:
    """Plot, for each named array of error distances (km), the fraction of photos within
    x km against x (log scale, 0.1 to 20,000 km) on one PNG; the acc@km thresholds are
    marked. Returns ``out_png``. Raises ConfigError for no curves, DataError for an
    empty or invalid curve or an unwritable ``out_png``."""
    if not curves:
        raise ConfigError("no curves to plot")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ConfigError(
            f"plotting needs matplotlib, which is not installed ({e}); install the plot extra"
            " (pip install 'geoscope[plot]')"
        ) from e

    fig = Figure(figsize=(7.0, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x_min, x_max = 0.1, 20_000.0
    for name, dist in curves.items():
        d = np.sort(np.asarray(dist, dtype=np.float64).ravel())
        if d.size == 0 or not np.isfinite(d).all() or (d < 0).any():
            raise DataError(f"curve {name!r} needs finite, non-negative distances in km")
        frac = np.arange(1, d.size + 1) / d.size
        xs = np.concatenate([[x_min], np.clip(d, x_min, x_max), [x_max]])
        ys = np.concatenate([[0.0], frac, [frac[-1]]])
        ax.step(xs, ys, where="post", label=f"{name} (n={d.size}, median {np.median(d):.0f} km)")
    for t in THRESHOLDS_KM:
        ax.axvline(t, color="0.8", linestyle=":", linewidth=1)
        ax.text(t, 1.01, f"{t} km", ha="center", va="bottom", fontsize=7, color="0.4")
    ax.set_xscale("log")
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("error distance (km)")
    ax.set_ylabel("fraction of photos within distance")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out_png = Path(out_png)
    try:
        out_png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, format="png")
    except OSError as e:
        raise DataError(f"cannot write plot {out_png}: {e}") from e
    log.info("wrote accuracy-vs-distance plot %s", out_png)
    return out_png
