"""One preprocessing spec: the manifest's ``input``, applied by the runtime and by training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from geoscope_core.runtime.bundle import load_bundle
from geoscope_core.runtime.images import load_image, preprocess
from geoscope_core.runtime.manifest import Interpolation, Manifest, PreprocessSpec, ResizeMode
from geoscope_core.training.data import FeatureCache, ViewRecipe, make_view


def _photo(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(path, quality=95)
    return path


def test_a_manifest_without_interpolation_reads_as_bicubic_and_writes_it() -> None:
    shipped = load_bundle(None)
    raw = json.loads((shipped.path / "manifest.json").read_text())
    del raw["input"]["interpolation"]  # as manifests written before the field existed
    spec = Manifest.from_dict(raw).input
    assert spec.interpolation is Interpolation.BICUBIC
    assert spec.resize is ResizeMode.CENTER_CROP
    d = Manifest.from_dict(raw).to_dict()
    assert d["input"]["interpolation"] == "bicubic"
    assert Manifest.from_dict(d).input == spec == shipped.manifest.input
    d["input"]["interpolation"] = "bilinear"
    assert Manifest.from_dict(d).input.interpolation is Interpolation.BILINEAR


def test_preprocess_follows_the_spec(tmp_path: Path) -> None:
    path = _photo(tmp_path / "p.jpg")
    bicubic = preprocess(path, PreprocessSpec(size=32))
    assert np.array_equal(bicubic, load_image(path, 32, ResizeMode.CENTER_CROP))
    bilinear = preprocess(path, PreprocessSpec(size=32, interpolation=Interpolation.BILINEAR))
    assert bilinear.shape == (32, 32, 3) and not np.array_equal(bicubic, bilinear)
    squash = preprocess(path, PreprocessSpec(size=32, resize=ResizeMode.SQUASH))
    assert not np.array_equal(bicubic, squash)


def test_training_view0_is_the_runtime_input_and_keeps_its_cache_key(tmp_path: Path) -> None:
    path = _photo(tmp_path / "p.jpg")
    recipe = ViewRecipe(32)
    assert np.array_equal(make_view(path, 0, recipe), preprocess(path, PreprocessSpec(size=32)))
    # the key features cached before the spec existed were stored under
    assert FeatureCache.make_key("b", "w", recipe) == "b-32-89af0aea5013"


def test_view0_is_the_backbones_input_spec(tmp_path: Path) -> None:
    """Training makes view 0 as the backbone's PreprocessSpec says (the one export writes
    into the manifest); the default spec keeps the old cache key, another one changes it."""
    from dataclasses import replace

    from geoscope_core.training.backbones import build_backbone
    from geoscope_core.training.config import CnnConfig

    path = _photo(tmp_path / "p.jpg")
    backbone = build_backbone("tiny", pretrained=False)
    spec = backbone.input_at(32)
    assert (
        spec == replace(backbone.preprocess, size=32) and backbone.input_at() == backbone.preprocess
    )
    recipe = ViewRecipe.of(CnnConfig(), spec)
    assert recipe.view0 is spec and recipe.size == 32
    assert FeatureCache.make_key("b", "w", recipe) == "b-32-89af0aea5013"
    bilinear = replace(spec, interpolation=Interpolation.BILINEAR)
    other = ViewRecipe.of(CnnConfig(), bilinear)
    assert FeatureCache.make_key("b", "w", other) != "b-32-89af0aea5013"
    assert np.array_equal(make_view(path, 0, other), preprocess(path, bilinear))
