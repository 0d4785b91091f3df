"""Re-calibrate an exported bundle out of source, without re-exporting it.

    python -m geoscope_export.recalibrate BUNDLE --config configs/cnn-world.json \\
        --oos-calibration runs/loso/calibration.json

For a bundle whose training run is not at hand (its heads are what they are): the
recipe ``--config`` the bundle was trained with owns the decoding point
(``CnnConfig.point``, ``within_km``) and the logit adjustment its heads carry; the protocol's
``calibration.json`` brings the temperature, error radius and unsure threshold fitted
out of source for that point (refused when fitted for another point or logit
adjustment, as ``geoscope export --oos-calibration`` refuses it), and the share of the
training prior mixed into a Bayes point's posterior (the prior of the bundle's cells
computed from the recipe's training photos). Only
``manifest.json`` is rewritten: every hashed file stays as it is, and the bundle's
model id changes with its manifest.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from geoscope_core.errors import ConfigError, GeoScopeError
from geoscope_core.runtime.bundle import load_bundle
from geoscope_core.runtime.manifest import MANIFEST_NAME, Manifest
from geoscope_core.training.config import CnnConfig, load_config
from geoscope_export.bundle_writer import with_oos_calibration

log = logging.getLogger(__name__)


def recalibrate(bundle_dir: Path, config: CnnConfig, calibration: Path) -> str:
    """Rewrite ``bundle_dir``'s manifest with ``config``'s decoding point (and its
    ``within_km``) and the out-of-source ``calibration``; returns the bundle's new model
    id."""
    path = Path(bundle_dir) / MANIFEST_NAME
    manifest = Manifest.read(path)
    spec = config.decoding_spec()
    point = spec.point
    manifest = replace(
        manifest, decoding=replace(manifest.decoding, point=point, within_km=spec.within_km)
    )
    finest = manifest.decoding_level

    def prior() -> tuple[float, ...]:
        from geoscope_core.training.cnn import training_prior

        return training_prior(config, finest, load_bundle(Path(bundle_dir)).labels(finest))

    manifest = with_oos_calibration(manifest, calibration, config.logit_adjust_tau, prior)
    manifest.write(path)
    model_id = load_bundle(Path(bundle_dir)).model_id  # hashes and decoding still valid
    log.info("%s: decoding point %s, now %s", bundle_dir, point.value, model_id)
    return model_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="bundle directory to rewrite")
    parser.add_argument("--config", type=Path, required=True, help="the bundle's recipe")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="KEY=VALUE on the recipe"
    )
    parser.add_argument(
        "--oos-calibration", type=Path, required=True, help="the protocol's calibration.json"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        config = load_config("cnn", args.config, args.overrides)
        if not isinstance(config, CnnConfig):
            raise ConfigError(f"{args.config} is not a classifier recipe")
        sys.stdout.write(recalibrate(args.bundle, config, args.oos_calibration) + "\n")
    except GeoScopeError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
