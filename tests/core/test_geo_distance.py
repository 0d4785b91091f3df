"""Haversine and unit-sphere helpers against known distances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoscope_core.geo.distance import (
    EARTH_RADIUS_KM,
    chord_to_km,
    from_vectors,
    haversine_km,
    spherical_mean,
    to_unit_vectors,
)

PARIS = (48.8566, 2.3522)
LONDON = (51.5074, -0.1278)
NEW_YORK = (40.7128, -74.0060)


def test_paris_london_is_about_344_km() -> None:
    d = haversine_km(*PARIS, *LONDON)
    assert isinstance(d, float)
    assert d == pytest.approx(343.6, abs=1.0)


def test_london_new_york_is_about_5570_km() -> None:
    assert haversine_km(*LONDON, *NEW_YORK) == pytest.approx(5570, rel=0.005)


def test_zero_antipode_and_quarter_circle() -> None:
    assert haversine_km(10.0, 20.0, 10.0, 20.0) == 0.0
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert haversine_km(0.0, 0.0, 90.0, 0.0) == pytest.approx(math.pi / 2 * EARTH_RADIUS_KM)
    # across the antimeridian: 2 degrees of longitude on the equator
    assert haversine_km(0.0, 179.0, 0.0, -179.0) == pytest.approx(
        2 * math.pi / 180 * EARTH_RADIUS_KM
    )


def test_broadcasting_gives_a_distance_matrix() -> None:
    lat_a = np.array([PARIS[0], LONDON[0]])[:, None]
    lon_a = np.array([PARIS[1], LONDON[1]])[:, None]
    lat_b = np.array([PARIS[0], LONDON[0], NEW_YORK[0]])[None, :]
    lon_b = np.array([PARIS[1], LONDON[1], NEW_YORK[1]])[None, :]
    d = haversine_km(lat_a, lon_a, lat_b, lon_b)
    assert isinstance(d, np.ndarray)
    assert d.shape == (2, 3)
    assert d[0, 0] == 0.0 and d[1, 1] == 0.0
    assert d[0, 1] == pytest.approx(d[1, 0])
    assert d[0, 2] == pytest.approx(haversine_km(*PARIS, *NEW_YORK))


def test_unit_vectors_round_trip_and_chord() -> None:
    lats = np.array([0.0, 45.815, -33.87, 89.9, -90.0])
    lons = np.array([0.0, 15.982, 151.21, -120.0, 0.0])
    v = to_unit_vectors(lats, lons)
    assert v.shape == (5, 3)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0)
    back_lat, back_lon = from_vectors(v)
    np.testing.assert_allclose(back_lat, lats, atol=1e-9)
    np.testing.assert_allclose(back_lon[:4], lons[:4], atol=1e-9)
    chord = np.linalg.norm(v[1] - v[2])
    assert chord_to_km(chord) == pytest.approx(haversine_km(lats[1], lons[1], lats[2], lons[2]))


def test_spherical_mean_handles_the_antimeridian_and_weights() -> None:
    lat, lon = spherical_mean([0.0, 0.0], [179.0, -179.0])
    assert lat == pytest.approx(0.0, abs=1e-9)
    assert abs(lon) == pytest.approx(180.0)
    lat, lon = spherical_mean([0.0, 0.0], [0.0, 90.0], weights=[1.0, 0.0])
    assert (lat, lon) == pytest.approx((0.0, 0.0), abs=1e-9)


_lat = st.floats(-90, 90, allow_nan=False)
_lon = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=200, deadline=None, database=None)
@given(_lat, _lon, _lat, _lon, _lat, _lon)
def test_haversine_is_a_metric_on_the_sphere(la1, lo1, la2, lo2, la3, lo3) -> None:
    d12 = haversine_km(la1, lo1, la2, lo2)
    assert d12 == pytest.approx(haversine_km(la2, lo2, la1, lo1), abs=1e-6)
    assert 0.0 <= d12 <= math.pi * EARTH_RADIUS_KM + 1e-6
    d13 = haversine_km(la1, lo1, la3, lo3)
    d23 = haversine_km(la2, lo2, la3, lo3)
    assert d13 <= d12 + d23 + 1e-6
    # agrees with the chord between unit vectors
    v = to_unit_vectors([la1, la2], [lo1, lo2])
    # (to a metre: arcsin of the chord is ill-conditioned near antipodes)
    assert float(chord_to_km(np.linalg.norm(v[0] - v[1]))) == pytest.approx(d12, abs=1e-3)
