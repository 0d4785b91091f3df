"""``geoscope train cnn|clip --config FILE.json [--set key=value ...] --out DIR [--resume]``;
``geoscope train protocol --config FILE.json --out DIR [--features F.npz] [--taus 0,0.5]``
runs the leave-one-source-out evaluation (``training.protocol``).

Torch is imported inside :func:`run` only, so building the CLI parser stays light.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model_type",
        choices=("cnn", "clip", "protocol"),
        help="what to train (protocol: a cnn config held out one world source at a time)",
    )
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
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (its stored config; --set epochs=N trains longer)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    protocol = parser.add_argument_group("protocol")
    protocol.add_argument(
        "--features",
        type=Path,
        default=None,
        help=".npz of precomputed features (paths, features); default: the config's frozen "
        "backbone through the feature cache",
    )
    protocol.add_argument("--taus", default="0", help="logit adjustments to try, e.g. 0,0.5,1")
    protocol.add_argument(
        "--points",
        default="",
        help="decoding points to try, e.g. mode,min_expected_distance,max_expected_geoscore "
        "(default: the config's)",
    )
    protocol.add_argument(
        "--within-km",
        default="",
        help="radii (km) the max_mass_within point is tried with, e.g. 750,1000,2500 "
        "(default: the config's within_km)",
    )
    protocol.add_argument(
        "--temperature-scales",
        default="1",
        help="factors on the out-of-source temperature to try, e.g. 1,2,4 (1: the NLL fit)",
    )
    protocol.add_argument(
        "--prior-mixes",
        default="0",
        help="shares of the training prior a Bayes point mixes into its posterior, e.g. 0,0.5",
    )
    protocol.add_argument(
        "--select",
        default="geoscore",
        choices=("geoscore", "acc_750_2500", "nll"),
        help="macro figure the protocol's choice optimises (nll: the posterior with the "
        "lowest NLL of the true places, then its point by acc_750_2500)",
    )
    protocol.add_argument(
        "--gallery-min-sims",
        default="",
        help="gallery similarity thresholds to try, e.g. -1,0.8 (default: the config's; a "
        "Bayes point's gate is chosen among them after the point, shut when none are given)",
    )
    protocol.add_argument(
        "--no-same-source", action="store_true", help="skip the same-source val table"
    )


def run(args: argparse.Namespace) -> int:
    if args.model_type == "protocol":
        from geoscope_core.training import protocol

        return protocol.run(args)
    from geoscope_core.training.config import load_config
    from geoscope_core.training.loop import train

    if args.resume and args.config is None:
        from geoscope_core.training.checkpoint import load_config_of

        stored = load_config_of(args.out).to_dict()
        from geoscope_core.training.config import config_from_dict, parse_override

        stored.update(dict(parse_override(o) for o in args.overrides))
        config = config_from_dict(stored, args.model_type)
    else:
        config = load_config(args.model_type, args.config, args.overrides)
    metrics = train(config, args.out, resume=args.resume, progress=not args.no_progress)
    print(json.dumps(metrics.get("final", metrics), indent=2))
    print(f"checkpoint: {args.out}")
    return 0
