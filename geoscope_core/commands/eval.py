"""``geoscope eval LABELS.csv``: measure a bundle on a labelled photo set."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labels", type=Path, help="CSV with columns path,lat,lon[,country_code]")
    parser.add_argument(
        "--root", type=Path, default=None, help="folder the paths are relative to (default: CSV's)"
    )
    parser.add_argument("--model", default=None, help="bundle name or path (default geoscope-lite)")
    parser.add_argument("--json", type=Path, default=None, help="write the metrics JSON here")
    parser.add_argument(
        "--plot", type=Path, default=None, help="save the accuracy-vs-distance plot (PNG)"
    )
    parser.add_argument("--provider", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--batch-size", type=int, default=16, help="inference batch size")
    parser.add_argument("--workers", type=int, default=0, help="decode threads (0 = auto)")
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N rows")


def run(args: argparse.Namespace) -> int:
    from geoscope_core.runtime.eval_cli import run_eval

    return run_eval(args)
