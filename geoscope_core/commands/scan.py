"""``geoscope scan PHOTOS``: geolocate every photo under a folder (or a list of files).

Heavy modules (onnxruntime, the runtime, the writer) are imported inside ``run``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from geoscope_core.runtime.session import PROVIDER_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photos", type=Path, nargs="+", help="photo folder(s) or file(s)")
    parser.add_argument("--model", default=None, help="bundle name or path (default geoscope-lite)")
    parser.add_argument(
        "--out", type=Path, default=None, help="write results to FILE.csv, .json or .geojson"
    )
    parser.add_argument(
        "--write", action="store_true", help="write estimated locations into the photos"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show what --write would do, change nothing"
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        metavar="P",
        help="only write predictions with confidence >= P (0-1)",
    )
    parser.add_argument(
        "--overwrite-gps", action="store_true", help="replace GPS the camera recorded"
    )
    parser.add_argument(
        "--sidecar",
        choices=("auto", "always", "never"),
        default="auto",
        help="XMP sidecar policy when writing",
    )
    parser.add_argument("--provider", choices=PROVIDER_NAMES, default="auto")
    parser.add_argument("--no-cache", action="store_true", help="ignore and bypass the scan cache")
    parser.add_argument(
        "--no-neighbors",
        action="store_true",
        help="do not use the folder's own GPS-tagged photos as evidence",
    )
    parser.add_argument(
        "--repredict-gps", action="store_true", help="also predict photos that carry GPS"
    )
    parser.add_argument(
        "--keep-mtime",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the files' modification times when writing",
    )
    parser.add_argument(
        "--time-window",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="time-neighbour window in seconds (default 300)",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="inference batch size")
    parser.add_argument("--workers", type=int, default=0, help="decode threads (0 = auto)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _collect(targets: list[Path]) -> list[Path]:
    from geoscope_core.errors import DataError
    from geoscope_core.photos.walk import iter_photos

    photos: list[Path] = []
    for t in targets:
        if not t.exists():
            raise DataError(f"{t} does not exist")
        photos.extend(iter_photos(t) if t.is_dir() else [t])
    seen: set[Path] = set()
    unique = []
    for p in photos:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def _print_table(results: list, root: Path | None) -> None:
    print(f"{'status':9s} {'lat':>9s} {'lon':>10s} {'conf':>5s} {'±km':>7s}  place  |  photo")
    for r in results:
        try:
            name = str(r.path.relative_to(root)) if root else str(r.path)
        except ValueError:
            name = str(r.path)
        p = r.prediction
        if p is None:
            print(f"{r.status:9s} {'':>9s} {'':>10s} {'':>5s} {'':>7s}  -  |  {name}")
            continue
        place = ", ".join(x for x in (p.city, p.admin1, p.country or p.country_code) if x)
        print(
            f"{r.status:9s} {p.lat:9.4f} {p.lon:10.4f} {p.confidence:5.2f} "
            f"{p.radius_km:7.1f}  {place or '-'}  |  {name}"
        )


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from tqdm import tqdm

    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.output import write_results
    from geoscope_core.scan.pipeline import Scanner
    from geoscope_core.scan.types import STATUSES, ScanOptions

    t0 = time.perf_counter()
    options = ScanOptions(
        use_cache=not args.no_cache,
        neighbors=not args.no_neighbors,
        repredict_gps=args.repredict_gps,
        batch_size=args.batch_size,
        workers=args.workers,
        time_window_s=args.time_window,
    )
    predictor = Predictor.load(args.model, provider=args.provider)
    photos = _collect(args.photos)
    scanner = Scanner(predictor, options)
    results = []
    with tqdm(
        total=len(photos),
        unit="photo",
        file=sys.stderr,
        disable=args.no_progress,
        dynamic_ncols=True,
        desc="scanning",
    ) as bar:
        for r in scanner.scan(photos):
            results.append(r)
            bar.update(1)
    elapsed = time.perf_counter() - t0

    if args.out:
        out = write_results(results, args.out)
        print(f"wrote {len(results)} results to {out}")
    else:
        root = args.photos[0] if len(args.photos) == 1 and args.photos[0].is_dir() else None
        _print_table(results, root)

    failed = [r for r in results if r.status == "error"]
    write_failed = 0
    if args.write or args.dry_run:
        from geoscope_core.photos.writer import SidecarPolicy, WriteOptions, write_locations

        items = [
            (r.path, r.prediction)
            for r in results
            if r.status in ("predicted", "neighbors") and r.prediction is not None
        ]
        report = write_locations(
            items,
            WriteOptions(
                overwrite_gps=args.overwrite_gps,
                sidecar=SidecarPolicy(args.sidecar),
                keep_mtime=args.keep_mtime,
                dry_run=args.dry_run or not args.write,
                min_confidence=args.min_confidence,
            ),
        )
        actions: dict[str, int] = {}
        for w in report.results:
            actions[w.action] = actions.get(w.action, 0) + 1
            if w.action in ("failed", "skipped", "would-write"):
                reason = f"  ({w.reason})" if w.reason else ""
                print(f"{w.action:12s} {w.path}{reason}")
        write_failed = actions.get("failed", 0)
        print("write: " + ", ".join(f"{k} {v}" for k, v in sorted(actions.items())))
        if report.journal is not None:
            print(f"journal: {report.journal}  (undo with: geoscope undo {report.journal})")

    if failed:
        print(f"{len(failed)} file(s) failed:")
        for r in failed:
            print(f"  {r.path}: {r.error}")
    counts = ", ".join(f"{s} {scanner.stats.counts.get(s, 0)}" for s in STATUSES)
    rate = len(results) / elapsed if elapsed > 0 else 0.0
    print(
        f"{len(results)} photos in {elapsed:.1f} s ({rate:.1f} photos/s): {counts}; "
        f"{scanner.stats.cached} from cache; model {predictor.model_id} on {predictor.provider}"
    )
    return 1 if failed or write_failed else 0
