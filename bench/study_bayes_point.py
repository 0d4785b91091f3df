"""Out-of-source study of the decoding point: folds trained once, then every decoding
point x temperature x prior weight decoded on the held-out sources (macro figures).

    python bench/study_bayes_point.py --config configs/cnn-world.json \
        --features runs/features/lite0_int8.npz --set epochs=8 --set batch_size=256 \
        --set lr=0.004 [--temperatures 2,5,10,20,50] [--taus 0,-1,-3]

A negative ``tau`` adds ``|tau|`` times the log prior of the training labels (the
protocol's logit adjustment with the other sign): an unsure posterior then leans on
where training photos were instead of spreading evenly over the cells. A study, not a
test: it prints, chooses nothing.
"""

from __future__ import annotations

import argparse

from geoscope_core.runtime.manifest import Point
from geoscope_core.training.config import CnnConfig, load_config
from geoscope_core.training.protocol import (
    decode_fold,
    features_from_file,
    floor_answers,
    held_out_folds,
    macro,
    source_metrics,
    split_features,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--temperatures", default="2,5,10,20,50")
    p.add_argument("--taus", default="0,-1,-3")
    args = p.parse_args()
    config = load_config("cnn", args.config, args.overrides)
    assert isinstance(config, CnnConfig)
    features = features_from_file(args.features)
    folds = held_out_folds(config, *split_features(config, features))
    med = macro({f.name: source_metrics(floor_answers([f.medoid] * len(f.samples)), f.samples)
                 for f in folds})  # fmt: skip
    print(f"{'floor medoid':>44}: @750 {med['acc_km']['750']:.3f} "
          f"@2500 {med['acc_km']['2500']:.3f} GeoScore {med['geoscore']:.0f}")  # fmt: skip
    for tau in (float(t) for t in args.taus.split(",")):
        for t in (float(x) for x in args.temperatures.split(",")):
            for point in Point:
                per = {
                    f.name: source_metrics(decode_fold(f, tau, t, None, point), f.samples)
                    for f in folds
                }
                m = macro(per)
                print(
                    f"tau {tau:5g} T {t:5g} {point.value:>22}: @750 {m['acc_km']['750']:.3f} "
                    f"@2500 {m['acc_km']['2500']:.3f} GeoScore {m['geoscore']:.0f} "
                    f"country {m['country_acc']:.3f} AUC {m.get('confidence_auc', 0):.2f} "
                    f"share {m['max_share_ratio']:.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
