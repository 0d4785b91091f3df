"""Out-of-source study of the mass-within point on the posterior mixed with the training
prior: folds trained once, then temperature x prior mix x R (and the mode) scored on the
leaf posterior (no gallery, no naming: fast), macro over the held-out sources, with the
posterior's NLL at the nearest leaf and the worst margin over the better floor.

    python bench/study_prior_mix.py --config configs/cnn-world.json \
        --features runs/features/lite0_int8.npz --set epochs=8 --set batch_size=256 \
        --set lr=0.004 [--set smoothing_km=600] [--temperatures 1,2,4,8,20]

A study, not a test: it prints, chooses nothing (the protocol chooses).
"""

from __future__ import annotations

import argparse

import numpy as np

from geoscope_core.calibration import prior_of
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.decoding import BayesPoint, softmax
from geoscope_core.runtime.manifest import Point
from geoscope_core.training.config import CnnConfig, load_config
from geoscope_core.training.protocol import features_from_file, held_out_folds, split_features

RADII = (750.0, 1000.0, 1500.0, 2500.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--temperatures", default="1,2,4,8,20")
    p.add_argument("--mixes", default="0,0.25,0.5,0.75,0.9")
    args = p.parse_args()
    config = load_config("cnn", args.config, args.overrides)
    assert isinstance(config, CnnConfig)
    features = features_from_file(args.features)
    data = []
    for f in held_out_folds(config, *split_features(config, features)):
        test = f.samples
        chain = [f.decoder.table(n) for n in f.decoder.chain]
        bp = {r: BayesPoint(chain, Point.MAX_MASS_WITHIN, r) for r in RADII}
        prior = BayesPoint(
            chain, Point.MAX_MASS_WITHIN, 750.0, prior_of(f.priors[chain[-1].name]), 1.0
        ).prior
        tlat = np.array([s.lat for s in test])
        tlon = np.array([s.lon for s in test])
        b = bp[RADII[0]]
        d_true = np.asarray(haversine_km(b.lat[None], b.lon[None], tlat[:, None], tlon[:, None]))
        floors = []
        for pts in ([f.medoid] * len(test), f.nn1):
            d = np.asarray(haversine_km([s.lat for s in pts], [s.lon for s in pts], tlat, tlon))
            floors.append((np.mean(d <= 750), np.mean(d <= 2500)))
        data.append((f, bp, prior, d_true, np.max(floors, axis=0)))
    for t in (float(x) for x in args.temperatures.split(",")):
        posts = []
        for f, bp, _, _, _ in data:
            b = bp[RADII[0]]
            if len(b.chain) == 1:
                posts.append(softmax(np.asarray(f.logits[b.chain[0].name], np.float64) / t))
            else:
                rows = range(len(f.samples))
                posts.append(
                    np.stack([b.posterior({k: v[i] for k, v in f.logits.items()}, t) for i in rows])
                )
        for mix in (float(x) for x in args.mixes.split(",")):
            mixed = [(1 - mix) * q + mix * d[2][None] for q, d in zip(posts, data, strict=True)]
            nll = np.mean(
                [
                    -np.mean(np.log(np.clip(q[np.arange(len(q)), d[3].argmin(1)], 1e-12, None)))
                    for q, d in zip(mixed, data, strict=True)
                ]
            )
            for r in ("mode", *RADII):
                accs = []
                for q, (_, bp, _, d_true, _) in zip(mixed, data, strict=True):
                    leaf = q.argmax(1) if r == "mode" else (q @ bp[r].loss.T).argmin(1)
                    d = d_true[np.arange(len(leaf)), leaf]
                    accs.append((np.mean(d <= 750), np.mean(d <= 2500)))
                a = np.array(accs)
                margin = min(min(a[i] - d[4]) for i, d in enumerate(data))
                print(
                    f"T {t:5g} mix {mix:4g} R {r!s:>6}: NLL {nll:.3f} @750 {a[:, 0].mean():.3f} "
                    f"@2500 {a[:, 1].mean():.3f} worst margin over the better floor "
                    f"{margin:+.3f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
