"""The steps of the training schedule that the CNN and contrastive trainers share.

Both train the heads on cached frozen-backbone features first; this module holds
what the two do alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from geoscope_core.training.config import TrainConfig
from geoscope_core.training.data import FeatureCache, Sample, ViewRecipe
from geoscope_core.training.loop import DistContext


def encode_splits(
    cache: FeatureCache,
    config: TrainConfig,
    train_s: Sequence[Sample],
    val_s: Sequence[Sample],
    recipe: ViewRecipe,
    encoder: Callable[[torch.Tensor], torch.Tensor],
    ctx: DistContext,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Frozen-backbone features from ``cache`` (encoding what it lacks, shared across ranks):
    training float32 [N, feature_views, F] and validation centre crops [M, F]."""
    train_f, val_f = (
        cache.encode(
            [s.path for s in samples],
            views,
            recipe,
            encoder,
            batch_size=32,
            num_workers=config.num_workers,
            rank=ctx.rank,
            world=ctx.world,
            progress=progress,
            barrier=ctx.barrier,
        )
        for samples, views in ((train_s, config.feature_views), (val_s, 1))
    )
    return train_f, val_f[:, 0]
