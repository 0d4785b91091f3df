"""Out-of-source study: heads that cannot read a photo's source from its look.

A held-out source's photos share a look (camera, resolution, processing) that the heads
may read as the region of the training set with the nearest look (Street View frames as
Croatia's regional Street View set). Three ways to take the look away, each measured as
``geoscope train protocol`` measures (leave one ``world`` source out, heads trained on
the rest, the posterior's temperature fitted by NLL macro over sources, the mass-within
point at 750 km, the gallery gate shut):

* ``--nullspace N``: N rounds of iterative nullspace projection (Ravfogel et al., 2020):
  a ridge classifier of the training photos' set (sets weighing the same) is fitted on
  the fold's training features and the directions it reads are projected out, N times.
  Held-out photos go through the same projection; their source is never seen.
* ``--center``: each training set's mean feature is replaced by the pool's mean, and the
  held-out source's photos by the same rule with their own mean (a folder of one
  camera's photos, centred at run time).
* ``--views FILE``: the training photos' augmented views of ``FILE`` (``bench/
  study_oos_features.py --style-views``) trained on beside their centre views; the held-out
  photos are seen as the runtime sees them.

Prints per source and macro acc@750/2500 km and the macro NLL for prior mix 0 and 0.25,
with the same folds without the change first (``--baseline``), so the two compare.

    python bench/study_source_invariance.py --config configs/cnn-world.json \
        --features runs/features/lite0_int8.npz --set epochs=8 --set batch_size=256 \
        --set lr=0.004 [--baseline] [--nullspace 3 | --center | --views F.npz]

A study, not a test: it prints, chooses nothing (the protocol chooses).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.manifest import Point
from geoscope_core.training.config import CnnConfig, load_config
from geoscope_core.training.data import Sample
from geoscope_core.training.protocol import (
    Fold,
    build_fold,
    decode_fold,
    features_from_file,
    fit_temperature,
    held_out_splits,
    leaf_targets,
    macro_nll,
    split_features,
)

#: Ridge penalty of the source classifier, per photo and feature.
RIDGE = 1e-3


def nullspace(x: np.ndarray, sources: list[str], rounds: int) -> np.ndarray:
    """Projection [F, F] removing, ``rounds`` times, the directions a class-balanced
    ridge classifier of ``sources`` reads in the features ``x`` [N, F]."""
    names = sorted(set(sources))
    y = np.array([names.index(s) for s in sources])
    counts = np.bincount(y)
    w = 1.0 / counts[y]
    w /= w.mean()
    proj = np.eye(x.shape[1])
    for r in range(rounds):
        xp = x @ proj
        xc = xp - np.average(xp, axis=0, weights=w)
        onehot = np.eye(len(names))[y]
        onehot -= np.average(onehot, axis=0, weights=w)
        gram = (xc * w[:, None]).T @ xc + RIDGE * len(x) * np.eye(x.shape[1])
        coef = np.linalg.solve(gram, (xc * w[:, None]).T @ onehot)  # [F, S]
        acc = float(np.mean(np.argmax(xc @ coef, axis=1) == y))
        print(f"    round {r + 1}: the source classifier reads {acc:.1%} right", flush=True)
        basis, _ = np.linalg.qr(coef)
        proj = proj @ (np.eye(x.shape[1]) - basis @ basis.T)
    return proj


def centred(x: np.ndarray, groups: np.ndarray, to: np.ndarray) -> np.ndarray:
    """``x`` [N, F] with each group's mean feature replaced by ``to`` [F]."""
    out = x.astype(np.float64).copy()
    for g in np.unique(groups):
        out[groups == g] += to - out[groups == g].mean(axis=0)
    return out


def folds_with(
    config: CnnConfig,
    pool: list[Sample],
    pool_f: np.ndarray,
    val: list[Sample],
    val_f: np.ndarray,
    args: argparse.Namespace,
    change: bool,
) -> list[Fold]:
    """The protocol's folds (``protocol.held_out_folds``), with the asked change."""
    views = None
    if change and args.views is not None:
        with np.load(args.views, allow_pickle=False) as data:
            index = {str(Path(p).resolve()): i for i, p in enumerate(data["paths"])}
            views = data["features"].astype(np.float32)  # [V, N, F]
    folds = []
    for h in held_out_splits(pool, pool_f, val, val_f):
        train, test = h.train, h.test
        train_f, test_f = h.train_f.astype(np.float64), h.test_f.astype(np.float64)
        print(f"  holding out {h.name}", flush=True)
        if change and args.center:
            to = train_f.mean(axis=0)
            train_f = centred(train_f, np.array([s.set for s in train]), to)
            test_f = centred(test_f, np.zeros(len(test)), to)
        if change and args.nullspace:
            proj = nullspace(train_f, [s.set for s in train], args.nullspace)
            train_f, test_f = train_f @ proj, test_f @ proj
        if views is not None:
            rows = [index[str(Path(s.path).resolve())] for s in train]
            train_f = np.concatenate([train_f, *(v[rows] for v in views)])
            train = train * (1 + len(views))
        folds.append(
            build_fold(
                config, h.name, train, train_f.astype(np.float32), test, test_f.astype(np.float32)
            )
        )
    return folds


def report(label: str, folds: list[Fold]) -> None:
    leaves = [leaf_targets(f) for f in folds]
    for mix in (0.0, 0.25):
        t = fit_temperature(folds, leaves, 0.0, mix)
        nll = macro_nll(folds, leaves, 0.0, t, mix)
        accs = []
        for f in folds:
            a = decode_fold(f, 0.0, t, 1.0, Point.MAX_MASS_WITHIN, 750.0, mix)
            tlat = [s.lat for s in f.samples]
            tlon = [s.lon for s in f.samples]
            d = np.asarray(haversine_km(a.lat, a.lon, tlat, tlon))
            accs.append((np.mean(d <= 750), np.mean(d <= 2500)))
        cells = "  ".join(
            f"{f.name} {100 * a[0]:.1f}/{100 * a[1]:.1f}" for f, a in zip(folds, accs, strict=True)
        )
        m = np.mean(accs, axis=0)
        print(
            f"{label}, prior mix {mix:g}: T {t:.2f} NLL {nll:.3f}  macro @750/2500 "
            f"{100 * m[0]:.1f}/{100 * m[1]:.1f}\n    {cells}",
            flush=True,
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--baseline", action="store_true", help="the same folds unchanged first")
    p.add_argument("--nullspace", type=int, default=0, help="rounds of nullspace projection")
    p.add_argument("--center", action="store_true", help="each source's mean feature removed")
    p.add_argument("--views", type=Path, help="augmented training views (.npz)")
    args = p.parse_args()
    config = load_config("cnn", args.config, args.overrides)
    assert isinstance(config, CnnConfig)
    data = split_features(config, features_from_file(Path(args.features)))
    if args.baseline:
        report("unchanged", folds_with(config, *data, args, change=False))
    changes = [
        *([f"nullspace x{args.nullspace}"] if args.nullspace else []),
        *(["centred"] if args.center else []),
        *([f"views of {args.views.name}"] if args.views else []),
    ]
    if changes:
        report(" + ".join(changes), folds_with(config, *data, args, change=True))


if __name__ == "__main__":
    main()
