"""``geoscope export``: turn a training checkpoint into a model bundle.

Needs the ``export`` extra (torch, onnx, onnxruntime); everything heavy is
imported inside :func:`run` so building the CLI parser stays light.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from geoscope_core.errors import ExportError
from geoscope_export.config import ExportConfig, Quantize  # settings only: no torch

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint directory written by training")
    parser.add_argument("--out", type=Path, required=True, help="bundle directory to write")
    parser.add_argument(
        "--quantize",
        choices=[q.value for q in Quantize],
        default=Quantize(ExportConfig.quantize).value,
        help="weights of the shipped image encoder (default: %(default)s)",
    )
    parser.add_argument(
        "--levels",
        default=",".join(ExportConfig.levels),
        help="comma-separated levels of a zero-shot bundle (default: %(default)s)",
    )
    parser.add_argument(
        "--cities-per-country",
        type=int,
        default=None,
        help="most populous cities per country in a zero-shot city level "
        "(default: the training run's top_cities, else 30)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="labels CSV of photos for int8 calibration (default: the shared geo train split)",
    )
    parser.add_argument(
        "--val",
        type=Path,
        default=None,
        help="labels CSV of photos for validation metrics (default: the shared geo val split)",
    )
    parser.add_argument(
        "--calibration-images",
        type=int,
        default=ExportConfig.calibration_images,
        help="number of calibration photos (default: %(default)s)",
    )
    parser.add_argument(
        "--max-val",
        type=int,
        default=ExportConfig.max_val,
        help="use at most this many validation photos (0 = all)",
    )
    parser.add_argument(
        "--gallery-dim",
        type=int,
        default=ExportConfig.gallery_dim,
        help="classifiers: ship a retrieval gallery of the training photos with this many "
        "dimensions (0 = none; 256 for the default model)",
    )
    parser.add_argument(
        "--oos-calibration",
        type=Path,
        default=None,
        help="calibration.json of `geoscope train protocol`: temperature, error radius and "
        "unsure threshold fitted out of source (default: fitted on the val photos)",
    )
    parser.add_argument(
        "--views",
        default="",
        help="squares of each photo the encoder runs on, outputs averaged (test-time "
        "augmentation), from center, start, end, mirror (default: center only; the default model "
        "ships center,mirror)",
    )
    parser.add_argument("--no-val", action="store_true", help="skip validation metrics")
    parser.add_argument("--no-text", action="store_true", help="omit the text encoder")
    parser.add_argument("--name", default=None, help="bundle name (default: the --out folder name)")
    parser.add_argument("--description", default="", help="free text stored in the manifest")
    parser.add_argument("--zip", action="store_true", help="also write BUNDLE.zip")
    parser.add_argument("--force", action="store_true", help="replace an existing --out folder")


def run(args: argparse.Namespace) -> int:
    try:
        from geoscope_export.bundle_writer import ExportConfig, export_bundle
    except ImportError as e:  # the extra is missing
        raise ExportError(
            f"geoscope export needs the 'export' extra (pip install 'geoscope[export]'): {e}"
        ) from e
    config = ExportConfig(
        quantize=args.quantize,
        levels=tuple(s.strip() for s in args.levels.split(",") if s.strip()),
        cities_per_country=args.cities_per_country,
        calibration_csv=args.calibration,
        val_csv=args.val,
        calibration_images=args.calibration_images,
        max_val=args.max_val,
        gallery_dim=args.gallery_dim,
        oos_calibration=args.oos_calibration,
        views=tuple(s.strip() for s in args.views.split(",") if s.strip()),
        validate=not args.no_val,
        text_encoder=not args.no_text,
        name=args.name,
        description=args.description,
        zip=args.zip,
        overwrite=args.force,
    )
    out = export_bundle(args.checkpoint, args.out, config)
    print(out)
    return 0
