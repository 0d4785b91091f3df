"""Place weights: dense places must not dominate a training set."""

from __future__ import annotations

import numpy as np
import pytest

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.geo.balance import grid_squares, place_weights
from geoscope_core.geo.cells import kmeans_cells


def _campus_and_world() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    campus_lat = 31.262 + rng.normal(0, 0.001, 400)  # 400 photos within ~300 m
    campus_lon = 34.801 + rng.normal(0, 0.001, 400)
    world_lat = rng.uniform(-60, 70, 100)  # 100 photos spread over the world
    world_lon = rng.uniform(-180, 180, 100)
    return np.concatenate([campus_lat, world_lat]), np.concatenate([campus_lon, world_lon])


def test_each_square_weighs_n_to_the_power() -> None:
    lat, lon = _campus_and_world()
    squares = grid_squares(lat, lon, 25.0)
    assert len(set(squares[:400])) <= 4  # the campus is one place (maybe cut by a border)
    for power, campus_share in ((0.0, 0.05), (0.5, 0.25)):
        w = place_weights(lat, lon, 25.0, power)
        assert w.mean() == pytest.approx(1.0)
        assert w[:400].sum() / w.sum() < campus_share  # unweighted it is 80%
    assert np.allclose(place_weights(lat, lon, 25.0, 1.0), 1.0)


def test_squares_keep_their_size_towards_the_poles() -> None:
    # two points 20 km apart east-west fall in one 25 km square at 70 degrees north too
    lat = np.array([70.0, 70.0])
    lon = np.array([10.0, 10.0 + 20.0 / (111.2 * np.cos(np.radians(70.0)))])
    assert grid_squares(lat, lon, 200.0)[0] == grid_squares(lat, lon, 200.0)[1]
    assert grid_squares(np.array([0.0, 0.0]), np.array([179.99, -179.99]), 25.0).shape == (2,)


def test_bad_balance_settings_are_refused() -> None:
    with pytest.raises(ConfigError):
        place_weights([0.0], [0.0], 0.0, 0.5)
    with pytest.raises(ConfigError):
        place_weights([0.0], [0.0], 25.0, 1.5)


def test_kmeans_weight_counts_like_repeated_points() -> None:
    """A point of weight 3 pulls like three photos at that point; counts stay photo counts."""
    rng = np.random.default_rng(1)
    lat = rng.uniform(-60, 70, 60)
    lon = rng.uniform(-180, 180, 60)
    w = np.where(np.arange(60) < 20, 3.0, 1.0)
    weighted = kmeans_cells(lat, lon, 8, seed=0, weights=w)
    lat3 = np.concatenate([lat, lat[:20], lat[:20]])
    lon3 = np.concatenate([lon, lon[:20], lon[:20]])
    repeated = kmeans_cells(lat3, lon3, 8, seed=0)
    np.testing.assert_allclose(weighted.lat, repeated.lat, atol=1e-9)
    np.testing.assert_allclose(weighted.lon, repeated.lon, atol=1e-9)
    assert sum(weighted.counts) == 60 and sum(repeated.counts) == 100
    plain = kmeans_cells(lat, lon, 8, seed=0)
    assert not np.allclose(plain.lat, weighted.lat)
    with pytest.raises(DataError):
        kmeans_cells(lat, lon, 5, weights=np.zeros(len(lat)))
