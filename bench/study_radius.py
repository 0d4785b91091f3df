"""Out-of-source study of the error radius: can a photo's own posterior say how far off
it is, where the confidence bins cannot?

Folds as ``geoscope train protocol`` builds them, decoded with a protocol run's
``calibration.json`` (its temperature, prior mix, point, radius and gallery gate). Per
held-out source it prints the median error beside the median spread of each photo's own
posterior around its answer (the distance holding 50% and 68% of it, and the expected
distance), how well each of those and the confidence rank the answers right within 750 km
above the wrong ones (AUC, higher = more sure), and the share of photos within a radius
fitted on the *other* sources (each weighing the same) by two rules: the shipped one (the
0.68 quantile of the errors per confidence bin, ``calibration.fit_error_model``) and a
per-photo one (the photo's spread times the 0.68 quantile of error / spread: a normalised
conformal radius).

    python bench/study_radius.py --config configs/cnn-world.json \
        --features runs/features/lite0_int8.npz --set epochs=8 --set batch_size=256 \
        --set lr=0.004 --calibration runs/oos-shipped/calibration.json

A study, not a test: it prints, chooses nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from geoscope_core.calibration import fit_error_model
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.decoding import BayesPoint
from geoscope_core.runtime.manifest import Point
from geoscope_core.training.config import CnnConfig, load_config
from geoscope_core.training.protocol import (
    adjusted_logits,
    auc,
    decode_fold,
    features_from_file,
    held_out_folds,
    split_features,
)

COVERAGE = 0.68


def spread_km(post: np.ndarray, d: np.ndarray, share: float) -> np.ndarray:
    """Per row, the distance (km) from the answer holding ``share`` of the posterior
    ``post`` [N, L], given the answers' distances ``d`` [N, L] to the leaves."""
    order = np.argsort(d, axis=1)
    ds = np.take_along_axis(d, order, 1)
    cum = np.cumsum(np.take_along_axis(post, order, 1), 1)
    cum /= cum[:, -1:]
    idx = np.minimum((cum < share).sum(1), d.shape[1] - 1)
    return ds[np.arange(len(d)), idx]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--calibration", required=True, type=Path)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args()
    config = load_config("cnn", args.config, args.overrides)
    assert isinstance(config, CnnConfig)
    cal = json.loads(args.calibration.read_text())
    tau, t, mix = cal["logit_adjust_tau"], cal["temperature"], cal.get("prior_mix", 0.0)
    point, within = Point(cal["point"]), cal["within_km"]
    sim = cal.get("gallery_min_similarity")
    rows: dict[str, dict[str, np.ndarray]] = {}
    for f in held_out_folds(config, *split_features(config, features_from_file(args.features))):
        ans = decode_fold(f, tau, t, sim, point, within, mix)
        bp = BayesPoint([f.decoder.table(n) for n in f.decoder.chain], Point.MAX_MASS_WITHIN)
        post = bp.posterior(adjusted_logits(f, tau), t)  # the photo's own, as the runtime's
        tlat = np.array([s.lat for s in f.samples])
        tlon = np.array([s.lon for s in f.samples])
        d = np.asarray(haversine_km(ans.lat[:, None], ans.lon[:, None], bp.lat[None], bp.lon[None]))
        rows[f.name] = {
            "error": np.asarray(haversine_km(ans.lat, ans.lon, tlat, tlon)),
            "confidence": ans.confidence,
            "r50": spread_km(post, d, 0.5),
            "r68": spread_km(post, d, COVERAGE),
            "expected": (post * d).sum(1),
        }
    names = list(rows)
    spreads = ("r50", "r68", "expected")
    print(f"{'held out':18s} {'photos':>6} {'error':>7} " + " ".join(f"{s:>8}" for s in spreads))
    for n, r in rows.items():
        med = " ".join(f"{np.median(r[s]):8.0f}" for s in spreads)
        print(f"{n:18s} {len(r['error']):6d} {np.median(r['error']):7.0f} {med}   (medians, km)")
    print("\nAUC of each score ranking the answers right within 750 km above the wrong ones")
    for n, r in rows.items():
        hit = r["error"] <= 750
        scores = {"confidence": r["confidence"], **{f"-{s}": -r[s] for s in spreads}}
        cells = " ".join(f"{k} {auc(v, hit) or float('nan'):.2f}" for k, v in scores.items())
        print(f"{n:18s} {cells}")
    print(f"\nwithin a radius fitted on the other sources ({COVERAGE:.0%} wanted; median km)")
    for n in names:
        others = [m for m in names if m != n]
        sizes = [len(rows[m]["error"]) for m in others]
        w = np.concatenate([np.full(k, 1 / k) for k in sizes])
        err = np.concatenate([rows[m]["error"] for m in others])
        model = fit_error_model(np.concatenate([rows[m]["confidence"] for m in others]), err, w)
        cells = []
        radius = np.array([model.radius(c) for c in rows[n]["confidence"]])
        cells.append(("bins", radius))
        for s in spreads:
            ratio = err / np.maximum(np.concatenate([rows[m][s] for m in others]), 1.0)
            scale = np.quantile(ratio, COVERAGE, weights=w, method="inverted_cdf")
            cells.append((f"{s} x {scale:.2f}", np.minimum(scale * rows[n][s], 20_038.0)))
        line = "  ".join(
            f"{k}: {np.mean(rows[n]['error'] <= r):6.1%} ({np.median(r):5.0f})" for k, r in cells
        )
        print(f"{n:18s} {line}")


if __name__ == "__main__":
    main()
