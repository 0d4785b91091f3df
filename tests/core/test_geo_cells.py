"""Semantic and k-means geocells."""

from __future__ import annotations

import numpy as np
import pytest

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.geo.cells import CellSet, kmeans_cells, semantic_cells
from geoscope_core.geo.distance import haversine_km
from geoscope_core.geo.gazetteer import Gazetteer, get_gazetteer

# Zagreb x3, Split x2, Paris x2, Lyon x1
LATS = np.array([45.81, 45.82, 45.80, 43.51, 43.50, 48.86, 48.85, 45.76])
LONS = np.array([15.98, 15.97, 15.99, 16.44, 16.45, 2.35, 2.36, 4.84])


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return get_gazetteer()


def test_country_cells_with_training_centroids(gaz: Gazetteer) -> None:
    cells = semantic_cells(gaz, "country", LATS, LONS)
    assert cells.level == "country"
    assert cells.ids == ("FR", "HR")
    assert cells.names == ("France", "Croatia")
    assert cells.counts == (3, 5)
    assert cells.parents == ("EU", "EU")
    hr = cells.index("HR")
    # centroid = mean of the 5 Croatian training points, not the country's own centroid
    assert cells.lat[hr] == pytest.approx(LATS[:5].mean(), abs=0.01)
    assert cells.lon[hr] == pytest.approx(LONS[:5].mean(), abs=0.01)
    assert list(cells.assign([45.33, 50.0], [14.44, 3.0])) == [hr, cells.index("FR")]


def test_admin1_cells_and_min_samples(gaz: Gazetteer) -> None:
    cells = semantic_cells(gaz, "admin1", LATS, LONS, min_samples=2)
    assert set(cells.ids) == {"HR/Zagreb", "HR/Split-Dalmatia", "FR/Île-de-France"}
    assert all(cc in ("HR", "FR") for cc in cells.country_codes)
    # Lyon (1 sample) has no cell of its own: it is assigned to the nearest centroid
    lyon = cells.assign([45.76], [4.84])[0]
    assert cells.ids[lyon] == "FR/Île-de-France"
    with pytest.raises(DataError):
        semantic_cells(gaz, "admin1", LATS, LONS, min_samples=10)
    with pytest.raises(ConfigError):
        semantic_cells(gaz, "city", LATS, LONS)


def test_labels_round_trip(gaz: Gazetteer) -> None:
    cells = semantic_cells(gaz, "country", LATS, LONS)
    rows = cells.labels()
    assert [set(r) for r in rows] == [
        {"id", "name", "parent", "lat", "lon", "population", "country_code"}
    ] * 2
    assert rows[1]["id"] == "HR" and rows[1]["parent"] == "EU" and rows[1]["population"] > 10**6
    back = CellSet.from_labels("country", rows)
    assert back.ids == cells.ids
    np.testing.assert_allclose(back.lat, cells.lat)
    assert back.labels() == rows


def test_kmeans_is_deterministic_and_finds_separated_clusters(gaz: Gazetteer) -> None:
    rng = np.random.default_rng(1)
    centres = [(45.8, 16.0), (-33.9, 151.2), (40.7, -74.0)]
    lats = np.concatenate([c[0] + rng.normal(0, 0.3, 40) for c in centres])
    lons = np.concatenate([c[1] + rng.normal(0, 0.3, 40) for c in centres])
    a = kmeans_cells(lats, lons, 3, seed=5, gaz=gaz)
    b = kmeans_cells(lats, lons, 3, seed=5, gaz=gaz)
    assert a.ids == b.ids == ("cell-0000", "cell-0001", "cell-0002")
    np.testing.assert_array_equal(a.lat, b.lat)
    np.testing.assert_array_equal(a.lon, b.lon)
    assert a.level == "cell"
    assert a.counts == (40, 40, 40)
    # sorted north to south: Zagreb, New York, Sydney
    assert a.country_codes == ("HR", "US", "AU")
    for i, (clat, clon) in enumerate([centres[0], centres[2], centres[1]]):
        assert haversine_km(a.lat[i], a.lon[i], clat, clon) < 30
    assign = a.assign(lats, lons)
    assert list(np.bincount(assign)) == [40, 40, 40]
    assert a.names[0].endswith("Croatia")


def test_kmeans_is_capped_and_validated(gaz: Gazetteer) -> None:
    cells = kmeans_cells([10.0, 10.0, 20.0], [5.0, 5.0, 6.0], k=50, gaz=gaz)
    assert len(cells) == 2
    assert sorted(cells.counts) == [1, 2]
    with pytest.raises(ConfigError):
        kmeans_cells(LATS, LONS, k=0, gaz=gaz)
    with pytest.raises(DataError):
        kmeans_cells([], [], k=3, gaz=gaz)
    with pytest.raises(DataError):
        kmeans_cells([91.0], [0.0], k=1, gaz=gaz)


def test_kmeans_many_cells_uses_all_of_them(gaz: Gazetteer) -> None:
    rng = np.random.default_rng(2)
    lats = rng.uniform(-50, 60, 3000)
    lons = rng.uniform(-180, 180, 3000)
    cells = kmeans_cells(lats, lons, 120, seed=0, gaz=gaz)
    assert len(cells) == 120
    assert sum(cells.counts) == 3000
    assert min(cells.counts) > 0
    assign = cells.assign(lats, lons)
    # every point is at least as close to its own centroid as to any other
    d_own = haversine_km(lats, lons, cells.lat[assign], cells.lon[assign])
    d_all = haversine_km(lats[:, None], lons[:, None], cells.lat[None, :], cells.lon[None, :])
    np.testing.assert_allclose(d_own, d_all.min(axis=1), atol=1e-6)


def test_cellset_validation() -> None:
    with pytest.raises(ConfigError):
        CellSet("cell", ("a", "b"), ("A", "B"), np.zeros(1), np.zeros(2), ("", ""))
    with pytest.raises(ConfigError):
        CellSet("cell", ("a", "a"), ("A", "B"), np.zeros(2), np.zeros(2), ("", ""))
    with pytest.raises(ConfigError):
        CellSet("cell", (), (), np.zeros(0), np.zeros(0), ())
    with pytest.raises(DataError):
        CellSet.from_labels("cell", [{"id": "a"}])
