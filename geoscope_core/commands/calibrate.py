"""``geoscope calibrate BUNDLE``: refit a bundle's error radius on labelled photos.

Needs the export package (``geoscope_export``, installed with GeoScope) but no
torch: the bundle runs as the runtime runs it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="unpacked bundle folder (rewritten in place)")
    parser.add_argument(
        "--labels",
        type=Path,
        help="labels CSV path,lat,lon[,scope] (default: the shared val split); "
        "with a scope column only its world photos are used",
    )
    parser.add_argument("--max-photos", type=int, default=0, help="sample this many (0: all)")
    parser.add_argument(
        "--quantile", type=float, default=0.68, help="share of photos within the radius"
    )


def run(args: argparse.Namespace) -> int:
    """Refit and print the new radius per confidence bin."""
    from geoscope_export.calibrate import refit_error_model

    logging.getLogger("geoscope_export").setLevel(logging.INFO)
    model = refit_error_model(args.bundle, args.labels, args.max_photos, args.quantile)
    for conf, radius in zip(model.confidence, model.radius_km, strict=True):
        print(f"confidence >= {conf:.3f}: radius {radius:,.1f} km")
    return 0
