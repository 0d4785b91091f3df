"""Coordinates no finer than their radius warrants: one rule for what is shown and written."""

from __future__ import annotations

import math

import pytest

from geoscope_core.geo.distance import haversine_km
from geoscope_core.geo.precision import MAX_DECIMALS, coordinate_decimals, round_to_radius


@pytest.mark.parametrize(
    ("radius_km", "decimals"),
    [(2164.0, 0), (750.0, 1), (25.0, 2), (1.0, 4), (0.02, 5), (0.0, MAX_DECIMALS)],
)
def test_decimals_follow_the_radius(radius_km: float, decimals: int) -> None:
    assert coordinate_decimals(radius_km) == decimals


def test_unknown_radius_keeps_a_fixs_precision() -> None:
    assert coordinate_decimals(math.nan) == MAX_DECIMALS
    assert coordinate_decimals(-1.0) == MAX_DECIMALS


@pytest.mark.parametrize("radius_km", [0.02, 0.3, 4.0, 25.0, 300.0, 2164.0, 9000.0])
def test_rounding_moves_a_point_by_a_small_part_of_its_radius(radius_km: float) -> None:
    for lat, lon in ((-13.3456789, -77.9123456), (43.5081234, 16.4402111), (64.99, -179.99)):
        rlat, rlon = round_to_radius(lat, lon, radius_km)
        assert haversine_km(lat, lon, rlat, rlon) <= radius_km / 10
        assert -90 <= rlat <= 90 and -180 <= rlon <= 180


def test_a_continent_wide_guess_keeps_whole_degrees() -> None:
    assert round_to_radius(-13.3456789, -77.9123456, 2164.0) == (-13.0, -78.0)
    assert str(round_to_radius(-0.2, 0.3, 2164.0)) == "(0.0, 0.0)"  # no "-0.0"
