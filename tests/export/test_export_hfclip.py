"""Any HF CLIP checkpoint (the StreetCLIP path) through the exporter, on a tiny random
CLIP: separate vision/text graphs, dynamic int8 chosen for transformer towers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from geoscope_core.cli import main
from geoscope_core.runtime.bundle import check_bundle
from geoscope_core.runtime.manifest import BundleKind, Manifest
from geoscope_core.runtime.predictor import Predictor


@pytest.mark.slow
def test_hf_clip_checkpoint_exports_as_zero_shot_int8_bundle(tmp_path: Path) -> None:
    from geoscope_core.training.testing import tiny_hf_clip

    clip_dir = tiny_hf_clip(tmp_path)
    ckpt = tmp_path / "ckpt"
    # a few photos: epochs=0 still embeds the training photos (every one by default)
    assert main(["train", "clip", "--set", f"clip_model={clip_dir}", "--set", "epochs=0",
                 "--set", "max_train=16", "--set", "feature_views=1", "--set", "max_val=4",
                 "--out", str(ckpt), "--no-progress"]) == 0  # fmt: skip
    out = tmp_path / "bundle"
    assert main(["export", str(ckpt), "--out", str(out), "--levels", "country",
                 "--quantize", "int8", "--no-val"]) == 0  # fmt: skip
    manifest = Manifest.read(out / "manifest.json")
    assert manifest.kind is BundleKind.ZERO_SHOT
    assert manifest.quantization["method"] == "int8-dynamic"
    assert "transformer" in manifest.quantization["choice"]
    for name in ("image_encoder.onnx", "text_encoder.onnx"):
        ops = {n.op_type for n in onnx.load(str(out / name)).graph.node}
        assert "DynamicQuantizeLinear" in ops or "MatMulInteger" in ops, name
    assert check_bundle(out) == []
    px = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    preds = Predictor.load(out, provider="cpu").predict(px)
    assert len(preds) == 2 and all(p.country_code for p in preds)
