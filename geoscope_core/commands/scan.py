"""``geoscope scan PHOTOS``: geolocate every photo under a folder (or a list of files).

Heavy modules (onnxruntime, the runtime, the writer) are imported inside ``run``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


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
    parser.add_argument("--provider", choices=("auto", "cpu", "cuda"), default="auto")
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


def run(args: argparse.Namespace) -> int:
    from geoscope_core.runtime.scan_cli import run_scan

    return run_scan(args)
