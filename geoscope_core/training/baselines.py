"""Floors every trained model must beat, on the same train/val split as a config.

- ``medoid``: always predict the training point that minimises the summed great-circle
  distance to all training points (and its country).
- ``nn1``: 1-nearest-neighbour in the frozen backbone's feature space (cosine, centre
  crops): predict the location and country of the most similar training photo.

Run ``python -m geoscope_core.training.baselines --config configs/cnn-lite0.json``
(features come from the same on-disk cache as training); prints the metrics JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geoscope_core.geo.distance import haversine_km
from geoscope_core.training.backbones import build_backbone
from geoscope_core.training.config import TrainConfig, load_config
from geoscope_core.training.data import Sample, ViewRecipe, feature_cache_for, load_samples

log = logging.getLogger(__name__)


def medoid(samples: Sequence[Sample]) -> Sample:
    """The training sample minimising the summed haversine distance (km) to all others."""
    coords = np.unique(np.array([[s.lat, s.lon] for s in samples]), axis=0)
    lat, lon = coords[:, 0], coords[:, 1]
    all_lat = np.array([s.lat for s in samples])
    all_lon = np.array([s.lon for s in samples])
    totals = np.array(
        [
            np.asarray(haversine_km(la, lo, all_lat, all_lon)).sum()
            for la, lo in zip(lat, lon, strict=True)
        ]
    )
    best = coords[int(np.argmin(totals))]
    return next(s for s in samples if s.lat == best[0] and s.lon == best[1])


def evaluate_samples(pred: Sequence[Sample], truth: Sequence[Sample]) -> dict[str, Any]:
    """Metrics of answering ``pred``'s places (and countries) for ``truth``: pooled, and
    ``by_set``/``by_scope`` when the truth names sets/scopes."""
    from geoscope_core.metrics import evaluate, evaluate_by

    coords = (
        np.array([p.lat for p in pred]), np.array([p.lon for p in pred]),
        np.array([t.lat for t in truth]), np.array([t.lon for t in truth]),
    )  # fmt: skip
    cc = {"pred_cc": [p.country_code for p in pred], "true_cc": [t.country_code for t in truth]}
    out = evaluate(*coords, **cc)
    for key, attr in (("by_set", "set"), ("by_scope", "scope")):
        groups = [getattr(t, attr) for t in truth]
        if any(groups):
            out[key] = evaluate_by(groups, *coords, **cc)
    return out


def unit_rows(x: np.ndarray) -> np.ndarray:
    """``x`` [N, F] with each row scaled to unit length (a zero row stays zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def nearest_neighbour(train_f: np.ndarray, val_f: np.ndarray) -> np.ndarray:
    """Index int [M] of the most cosine-similar row of ``train_f`` [N, F] per ``val_f`` row."""
    return np.argmax(unit_rows(val_f) @ unit_rows(train_f).T, axis=1)


def frozen_features(
    config: TrainConfig, samples: Sequence[Sample], progress: bool = False
) -> np.ndarray:
    """Float32 [N, F] features of ``config``'s frozen pretrained backbone, view 0 (the
    runtime's centre crop), read from the training feature cache (encoded where missing)."""
    from geoscope_core.training.models import PixelInput

    backbone = build_backbone(config.backbone, config.pretrained, config.backbone_weights)
    backbone.module.eval()
    pixels = backbone.input_at(config.input_size)
    pixel = PixelInput(pixels)
    recipe = ViewRecipe.of(config, pixels)
    cache = feature_cache_for(config, recipe, part_dims=backbone.part_dims)

    def encoder(px: torch.Tensor) -> torch.Tensor:
        return backbone.module(pixel(px))

    return cache.encode([s.path for s in samples], 1, recipe, encoder, progress=progress)[:, 0]


def run_baselines(config: TrainConfig, progress: bool = False) -> dict[str, Any]:
    """Metrics of the medoid and 1-NN floors on ``config``'s val split."""
    train_s = load_samples(config, config.train_split)
    val_s = load_samples(config, config.val_split)
    m = medoid(train_s)
    out: dict[str, Any] = {
        "medoid": {"lat": m.lat, "lon": m.lon, "country_code": m.country_code,
                   **evaluate_samples([m] * len(val_s), val_s)},
    }  # fmt: skip
    train_f = frozen_features(config, train_s, progress)
    val_f = frozen_features(config, val_s, progress)
    nn_idx = nearest_neighbour(train_f, val_f)
    out["nn1"] = {"backbone": config.backbone,
                  **evaluate_samples([train_s[i] for i in nn_idx], val_s)}  # fmt: skip
    out["n_train"] = len(train_s)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with open(args.config, encoding="utf-8") as fh:
        kind = json.load(fh).get("model_type", "cnn")
    result = run_baselines(load_config(kind, args.config, args.overrides), progress=True)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
