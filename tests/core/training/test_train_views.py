"""Training makes its view 0 of a photo as the runtime preprocesses it (the manifest's
``input`` spec), under the feature-cache key it always had."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from geoscope_core.runtime.images import preprocess
from geoscope_core.runtime.manifest import Interpolation, PreprocessSpec
from geoscope_core.training.data import FeatureCache, ViewRecipe, make_view


def _photo(path: Path, height: int = 90, width: int = 120) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path, quality=95)
    return path


def test_training_view0_is_the_runtime_input_and_keeps_its_cache_key(tmp_path: Path) -> None:
    path = _photo(tmp_path / "p.jpg")
    recipe = ViewRecipe(32)
    assert np.array_equal(make_view(path, 0, recipe), preprocess(path, PreprocessSpec(size=32))[0])
    # the key features cached before the spec existed were stored under
    assert FeatureCache.make_key("b", "w", recipe) == "b-32-89af0aea5013"


def test_view0_is_the_backbones_input_spec(tmp_path: Path) -> None:
    """Training makes view 0 as the backbone's PreprocessSpec says (the one export writes
    into the manifest); the default spec keeps the old cache key, another one changes it."""
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
    assert np.array_equal(make_view(path, 0, other), preprocess(path, bilinear)[0])
