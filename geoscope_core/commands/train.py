"""``geoscope train cnn|clip --config FILE.json [--set key=value ...] --out DIR [--resume]``.

Torch is imported inside :func:`run` only, so building the CLI parser stays light.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_type", choices=("cnn", "clip"), help="what to train")
    parser.add_argument(
        "--config", type=Path, default=None, help="training config JSON (see configs/)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config field (JSON value or plain string; repeatable)",
    )
    parser.add_argument("--out", type=Path, required=True, help="checkpoint directory")
    parser.add_argument("--resume", action="store_true", help="continue from --out")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from geoscope_core.training.config import load_config
    from geoscope_core.training.loop import train

    config = load_config(args.model_type, args.config, args.overrides)
    metrics = train(config, args.out, resume=args.resume, progress=not args.no_progress)
    print(json.dumps(metrics.get("final", metrics), indent=2))
    print(f"checkpoint: {args.out}")
    return 0
