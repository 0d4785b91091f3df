"""Haversine label smoothing and the label-aware contrastive loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geoscope_core.geo.distance import haversine_km
from geoscope_core.training.clip import positives_matrix
from geoscope_core.training.losses import (
    haversine_smoothed_targets,
    label_aware_contrastive_loss,
    soft_cross_entropy,
)

# Zagreb, Split, Tirana, Dubai (degrees)
CELL_LAT = np.array([45.81, 43.51, 41.33, 25.20])
CELL_LON = np.array([15.98, 16.44, 19.82, 55.27])


def test_smoothing_follows_pigeon_formula():
    lat, lon = np.array([45.0]), np.array([16.0])  # nearest cell: Zagreb
    d = haversine_km(lat[:, None], lon[:, None], CELL_LAT[None], CELL_LON[None])[0]
    t = haversine_smoothed_targets(lat, lon, CELL_LAT, CELL_LON, np.array([0]), tau_km=75.0)
    expected = np.exp(-(d - d.min()) / 75.0)
    np.testing.assert_allclose(t[0], expected / expected.sum(), rtol=1e-5)
    assert t.shape == (1, 4) and t.dtype == np.float32
    assert t[0, 0] > t[0, 1] > t[0, 2] > t[0, 3]
    assert t[0, 3] < 1e-6  # Dubai is thousands of km away


def test_smoothing_limits_and_true_cell_dominates():
    lat, lon = np.array([45.0, 43.0]), np.array([16.0, 17.0])
    onehot = haversine_smoothed_targets(lat, lon, CELL_LAT, CELL_LON, np.array([0, 1]), 0.0)
    np.testing.assert_array_equal(onehot, [[1, 0, 0, 0], [0, 1, 0, 0]])
    wide = haversine_smoothed_targets(lat, lon, CELL_LAT, CELL_LON, np.array([0, 1]), 1e6)
    np.testing.assert_allclose(wide, 0.25, atol=1e-3)
    # a semantic (true) cell that is not the nearest centroid still gets the most mass
    t = haversine_smoothed_targets(lat[:1], lon[:1], CELL_LAT, CELL_LON, np.array([1]), 200.0)
    assert t[0, 1] == t[0].max()
    np.testing.assert_allclose(t.sum(axis=1), 1.0, rtol=1e-6)


def test_soft_cross_entropy_matches_hard_cross_entropy_on_one_hot():
    logits = torch.randn(5, 7)
    y = torch.tensor([0, 3, 6, 2, 2])
    soft = soft_cross_entropy(logits, F.one_hot(y, 7).float())
    torch.testing.assert_close(soft, F.cross_entropy(logits, y))


def test_label_aware_targets_do_not_push_same_place_apart():
    # photos 0 and 1 show the same place; their captions differ in wording
    txt = F.normalize(torch.tensor([[1.0, 0.3, 0], [1.0, -0.3, 0], [0, 0, 1.0]]), dim=-1)
    scale = torch.tensor(math.log(20.0))
    identity = torch.eye(3, dtype=torch.bool)
    aware = identity.clone()
    aware[0, 1] = aware[1, 0] = True

    def descent_towards_sibling(pos: torch.Tensor) -> float:
        img = txt.clone().requires_grad_(True)
        label_aware_contrastive_loss(img, txt, scale, pos).backward()
        return float(-img.grad[0] @ txt[1])

    assert descent_towards_sibling(identity) < 0  # plain CLIP pushes photo 0 away
    assert descent_towards_sibling(aware) > 0  # label-aware pulls it towards caption 1


def test_label_aware_loss_value():
    img = F.normalize(torch.randn(4, 8), dim=-1)
    txt = F.normalize(torch.randn(4, 8), dim=-1)
    pos = torch.eye(4, dtype=torch.bool)
    pos[2, 3] = pos[3, 2] = True
    scale = torch.tensor(2.0)
    logits = scale.exp() * img @ txt.t()
    p = pos.float()
    i2t = -(p / p.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
    t2i = -(p / p.sum(0, keepdim=True) * logits.log_softmax(0)).sum(0).mean()
    torch.testing.assert_close(label_aware_contrastive_loss(img, txt, scale, pos), (i2t + t2i) / 2)
    plain = label_aware_contrastive_loss(img, txt, scale, torch.eye(4, dtype=torch.bool))
    y = torch.arange(4)
    expected = (F.cross_entropy(logits, y) + F.cross_entropy(logits.t(), y)) / 2
    torch.testing.assert_close(plain, expected)


def test_positives_matrix_uses_caption_granularity():
    # levels: 0 = country, 1 = city; photos 0, 1 in one country, different cities
    keys = np.array([[0, 10], [0, 11], [1, 12]])
    pos = positives_matrix(keys, np.array([0, 1, 0]))
    expected = np.array(
        [[True, False, False], [True, True, False], [False, False, True]]
    )  # caption 0 is a country caption: true of photo 1 too; caption 1 is a city caption
    np.testing.assert_array_equal(pos, expected)
    assert pos.diagonal().all()


def test_weighted_soft_cross_entropy_is_a_weighted_mean():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    targets = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # first right, second wrong
    per = -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1)
    w = torch.tensor([3.0, 1.0])
    got = soft_cross_entropy(logits, targets, w)
    assert float(got) == pytest.approx(float((per * w).sum() / w.sum()))
    assert float(soft_cross_entropy(logits, targets, torch.ones(2))) == pytest.approx(
        float(soft_cross_entropy(logits, targets))
    )
