"""Losses: haversine label smoothing over geocells and label-aware contrastive loss."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from geoscope_core.geo.distance import haversine_km


def haversine_smoothed_targets(
    lats: np.ndarray,
    lons: np.ndarray,
    cell_lats: np.ndarray,
    cell_lons: np.ndarray,
    true_cells: np.ndarray,
    tau_km: float,
) -> np.ndarray:
    """Soft targets float32 [N, C] over C cells for N points (PIGEON-style).

    target[n, c] ∝ exp(-max(d(c, x_n) - d(true_n, x_n), 0) / tau_km), d = haversine
    distance (km) from the cell centroid to the point, ``true_n`` the point's own cell.
    When the true cell is the nearest one (data-driven cells) this is exactly
    exp(-(d(c, x) - d(nearest, x)) / tau); for semantic cells (countries) a neighbour
    whose centroid happens to be nearer never outweighs the true cell. ``tau_km`` = 0
    gives one-hot targets. Rows sum to 1.
    """
    lats = np.asarray(lats, dtype=np.float64)
    lons = np.asarray(lons, dtype=np.float64)
    true_cells = np.asarray(true_cells, dtype=np.int64)
    n, c = len(lats), len(cell_lats)
    if tau_km <= 0:
        out = np.zeros((n, c), dtype=np.float32)
        out[np.arange(n), true_cells] = 1.0
        return out
    d = np.asarray(
        haversine_km(
            lats[:, None],
            lons[:, None],
            np.asarray(cell_lats)[None, :],
            np.asarray(cell_lons)[None, :],
        )
    )
    ref = d[np.arange(n), true_cells][:, None]
    t = np.exp(-np.maximum(d - ref, 0.0) / tau_km)
    return (t / t.sum(axis=1, keepdims=True)).astype(np.float32)


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over the batch of -sum_c targets[n, c] * log_softmax(logits)[n, c]; both [N, C].
    With ``weights`` [N] the mean is weighted (sum of w_n * loss_n over sum of w_n)."""
    per_sample = -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1)
    if weights is None:
        return per_sample.mean()
    return (weights * per_sample).sum() / weights.sum().clamp_min(1e-12)


def label_aware_contrastive_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    logit_scale: torch.Tensor,
    positives: torch.Tensor,
) -> torch.Tensor:
    """Symmetric CLIP loss where several captions may be right for an image.

    ``image_emb``, ``text_emb``: L2-normalised [N, D] (caption i was made for image i).
    ``logit_scale``: log of the inverse temperature (scalar tensor, learnable).
    ``positives``: bool [N, N], positives[i, j] = caption j is true of image i (it names
    image i's place at caption j's granularity); the diagonal must be True. Each image's
    target is uniform over its true captions and each caption's over its true images, so
    photos of the same place are not pushed apart as negatives.
    """
    if positives.shape != (image_emb.shape[0], text_emb.shape[0]):
        raise ValueError(f"positives must be [N, N], got {tuple(positives.shape)}")
    pos = positives.to(image_emb.dtype)
    logits = logit_scale.exp().clamp(max=100.0) * image_emb @ text_emb.t()
    i2t = soft_cross_entropy(logits, pos / pos.sum(dim=1, keepdim=True))
    t2i = soft_cross_entropy(logits.t(), (pos / pos.sum(dim=0, keepdim=True)).t())
    return 0.5 * (i2t + t2i)
