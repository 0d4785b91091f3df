"""The KD-tree behind reverse geocoding and nearest centroids: exact, on unit vectors."""

from __future__ import annotations

import numpy as np
import pytest

from geoscope_core.errors import DataError
from geoscope_core.geo.distance import to_unit_vectors
from geoscope_core.geo.nearest import NearestTree


def test_nearest_point_and_chord_equal_brute_force() -> None:
    rng = np.random.default_rng(3)
    points = to_unit_vectors(rng.uniform(-90, 90, 5000), rng.uniform(-180, 180, 5000))
    queries = to_unit_vectors(rng.uniform(-90, 90, 400), rng.uniform(-180, 180, 400))
    idx, chord = NearestTree(points).query(queries)
    d = np.linalg.norm(queries[:, None, :] - points[None, :, :], axis=2)
    assert idx.dtype == np.int64 and chord.dtype == np.float64
    np.testing.assert_array_equal(idx, d.argmin(axis=1))
    np.testing.assert_allclose(chord, d.min(axis=1), rtol=0, atol=1e-12)


def test_one_point_query_and_a_point_of_the_tree() -> None:
    points = to_unit_vectors([45.815, 48.8566, -33.87], [15.982, 2.3522, 151.21])
    tree = NearestTree(points)
    idx, chord = tree.query(points[1])
    assert idx.tolist() == [1] and chord.tolist() == [0.0]
    idx, _ = tree.query(to_unit_vectors([-34.0], [150.0]))
    assert idx.tolist() == [2]


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros((4, 2)), np.zeros(3)])
def test_points_that_are_not_n_by_3_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(DataError, match="shape"):
        NearestTree(bad)
