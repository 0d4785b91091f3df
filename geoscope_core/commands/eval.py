"""``geoscope eval LABELS.csv``: measure a bundle on a labelled photo set."""

from __future__ import annotations

import argparse
from pathlib import Path

from geoscope_core.runtime.session import PROVIDER_NAMES, Provider
from geoscope_core.scan.types import ScanOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "labels", type=Path, help="CSV with columns path,lat,lon[,country_code][,set][,scope]"
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="folder the paths are relative to (default: CSV's)"
    )
    parser.add_argument("--model", default=None, help="bundle name or path (default geoscope-lite)")
    parser.add_argument("--json", type=Path, default=None, help="write the metrics JSON here")
    parser.add_argument(
        "--plot", type=Path, default=None, help="save the accuracy-vs-distance plot (PNG)"
    )
    parser.add_argument("--provider", choices=PROVIDER_NAMES, default=Provider.AUTO.value)
    parser.add_argument(
        "--batch-size", type=int, default=ScanOptions.batch_size, help="inference batch size"
    )
    parser.add_argument(
        "--workers", type=int, default=ScanOptions.workers, help="decode threads (0 = auto)"
    )
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N rows")


def run(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from geoscope_core.commands.checks import output_file, require_extra
    from geoscope_core.errors import DataError
    from geoscope_core.geo.distance import haversine_km
    from geoscope_core.metrics import (
        THRESHOLDS_KM,
        evaluate,
        evaluate_by,
        plot_accuracy_vs_distance,
    )
    from geoscope_core.records import read_labels_csv
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.pipeline import Scanner

    # refused before the evaluation, not after it
    if args.json:
        output_file(args.json, "--json")
    if args.plot:
        output_file(args.plot, "--plot", (".png",))
        require_extra("matplotlib", "plot", "geoscope eval --plot")
    records, problems = read_labels_csv(args.labels, args.root)
    for prob in problems:
        print(f"skipped {prob}")
    if args.limit:
        records = records[: args.limit]
    if not records:
        raise DataError(f"{args.labels}: no usable rows")
    predictor = Predictor.load(args.model, provider=args.provider)
    options = ScanOptions(
        use_cache=False,
        neighbors=False,
        repredict_gps=True,
        batch_size=args.batch_size,
        workers=args.workers,
    )
    scanner = Scanner(predictor, options)
    by_path = {r.path: r for r in scanner.scan([rec.path for rec in records])}
    scanned = [(rec, by_path[rec.path]) for rec in records]
    ok = [(rec, r.prediction) for rec, r in scanned if r.prediction is not None]
    failed = [r for _, r in scanned if r.prediction is None]
    for r in failed:
        print(f"failed  {r.path}: {r.error}")
    if not ok:
        raise DataError("no photo could be predicted")
    preds = [p for _, p in ok]
    truth = [rec for rec, _ in ok]
    has_cc = all(rec.country_code for rec in truth)
    coords = (
        np.array([p.lat for p in preds]),
        np.array([p.lon for p in preds]),
        np.array([t.lat for t in truth]),
        np.array([t.lon for t in truth]),
    )
    pred_cc = [p.country_code for p in preds] if has_cc else None
    true_cc = [t.country_code for t in truth] if has_cc else None
    radius = [p.radius_km for p in preds]  # how honest the +-radius is
    metrics = evaluate(*coords, pred_cc=pred_cc, true_cc=true_cc, pred_radius_km=radius)
    # per data set and per scope: pooled figures hide a model that names one place
    for key, attr in (("by_set", "set"), ("by_scope", "scope")):
        groups = [getattr(t, attr) for t in truth]
        if any(groups):
            metrics[key] = evaluate_by(groups, *coords, pred_cc, true_cc, radius)
    wall = scanner.stats.wall_s
    metrics.update(
        images_per_s=len(ok) / wall if wall > 0 else 0.0,
        model=predictor.model_id,
        failed=len(failed),
        skipped_rows=len(problems),
        provider=predictor.provider,
        labels=str(args.labels),
    )
    print(f"model      {metrics['model']} on {predictor.provider}")
    print(
        f"photos     {metrics['n']} evaluated, {len(failed)} failed, {len(problems)} rows skipped"
    )
    for t in THRESHOLDS_KM:
        print(f"acc@{t:<6g} {100 * metrics['acc_km'][f'{t:g}']:6.1f} %")
    print(f"median     {metrics['median_km']:.1f} km   mean {metrics['mean_km']:.1f} km")
    if metrics.get("country_acc") is not None:
        print(f"country    {100 * metrics['country_acc']:6.1f} %")
    print(f"geoscore   {metrics['geoscore']:.0f}")
    print(f"radius     {100 * metrics['within_radius']:6.1f} % of photos within their ± radius")
    print(f"speed      {metrics['images_per_s']:.1f} images/s")
    for key in ("by_scope", "by_set"):
        for name, m in metrics.get(key, {}).items():
            acc = " ".join(f"{100 * m['acc_km'][f'{t:g}']:5.1f}" for t in THRESHOLDS_KM)
            cc = m.get("country_acc")
            country = f"  country {100 * cc:5.1f} %" if cc is not None else ""
            print(f"{key[3:]:<6} {name:<22} n={m['n']:<5} acc@1/25/200/750/2500 {acc}{country}")
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    if args.plot:
        d = haversine_km(
            np.array([p.lat for p in preds]),
            np.array([p.lon for p in preds]),
            np.array([t.lat for t in truth]),
            np.array([t.lon for t in truth]),
        )
        out = plot_accuracy_vs_distance({predictor.model_id: np.asarray(d)}, args.plot)
        print(f"wrote {out}")
    return 1 if failed else 0
