"""Fine-tuning batches: every view comes with the index of the photo it was made from."""

from __future__ import annotations

import numpy as np
from PIL import Image

from geoscope_core.training import phases
from geoscope_core.training.config import CnnConfig
from geoscope_core.training.data import ViewRecipe


def test_view_batches_pair_each_view_with_its_own_photo(tmp_path):
    colours = [(20 * i, 200 - 15 * i, 90) for i in range(10)]
    paths = []
    for i, c in enumerate(colours):
        paths.append(tmp_path / f"p{i}.png")
        Image.new("RGB", (48, 40), c).save(paths[-1])
    recipe = ViewRecipe(32, color_jitter=0.0)
    order = np.random.default_rng(3).permutation(len(paths))
    config = CnnConfig(batch_size=4, num_workers=0)
    seen = []
    for idx, pixels in phases.view_batches(paths, recipe, 0, order, config, "cpu", False):
        for i, px in zip(idx, pixels.numpy(), strict=True):
            # a solid photo's view is its colour: the index must name that photo
            assert np.abs(px.reshape(-1, 3).mean(0) - colours[i]).max() < 2, (i, px[0, 0])
        seen.extend(idx.tolist())
    assert seen == order.tolist()  # in the epoch's order, each photo once
