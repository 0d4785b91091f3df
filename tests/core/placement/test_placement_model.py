"""The placement model: a folder's photos weighed together, as a trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geoscope_core.errors import ConfigError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.placement import Hypothesis, PhotoEvidence, Placed, TravelModel, TripPlacer
from geoscope_core.placement.model import WALKING_KM_S
from geoscope_core.prediction import Source

KYOTO = (35.011, 135.768)
PARIS = (48.857, 2.352)
NEW_YORK = (40.713, -74.006)
SEOUL = (37.566, 126.978)
SYDNEY = (-33.869, 151.209)
LIMA = (-12.046, -77.043)
DAY = 86400.0


def guess(*places: tuple[float, float], radius: float = 50.0) -> tuple[Hypothesis, ...]:
    """A model estimate: its candidates best first, weights 0.3, 0.15, 0.1, ..."""
    weights = (0.3, 0.15, 0.1, 0.08, 0.05)
    return tuple(
        Hypothesis(lat, lon, radius, w, Source.MODEL, f"{lat:.0f},{lon:.0f}")
        for (lat, lon), w in zip(places, weights, strict=False)
    )


def fix(lat: float, lon: float) -> tuple[Hypothesis, ...]:
    return (Hypothesis(lat, lon, 0.05, 1.0, Source.EXIF, label="camera GPS"),)


def city_day(step_s: float) -> list[PhotoEvidence]:
    """Six photos of one camera in Kyoto; the model's best guess of each is elsewhere
    for four of them, Kyoto only among their alternatives."""
    guesses = [
        guess(KYOTO, SEOUL),
        guess(PARIS, KYOTO, SEOUL),
        guess(SEOUL, NEW_YORK, KYOTO),
        guess(KYOTO, PARIS),
        guess(NEW_YORK, KYOTO),
        guess(SYDNEY, LIMA, KYOTO),
    ]
    return [PhotoEvidence("cam", i * step_s, g, day="14 May 2024") for i, g in enumerate(guesses)]


def test_a_guess_among_trip_mates_is_pulled_to_them() -> None:
    placed = TripPlacer().place(city_day(20 * 60.0))
    for p in placed:
        assert p is not None and haversine_km(p.lat, p.lon, *KYOTO) < 1.0
    moved = [p for p in placed if p is not None and not p.own]
    assert len(moved) == 4
    assert all(p.reason.startswith("6 photos of 14 May 2024 agree: 35,136") for p in moved)
    assert all(p.source is Source.MODEL and p.mates == 6 for p in moved)


def test_photos_days_apart_keep_their_own_estimates() -> None:
    photos = city_day(5 * DAY)  # a mixed folder: one photo every five days
    for p, e in zip(TripPlacer().place(photos), photos, strict=True):
        assert (
            p is not None and p.own and (p.lat, p.lon) == (e.hypotheses[0].lat, e.hypotheses[0].lon)
        )


def test_no_capture_time_or_unknown_device_stays_alone() -> None:
    photos = city_day(60.0)
    photos[1] = PhotoEvidence("cam", math.nan, photos[1].hypotheses)
    photos[2] = PhotoEvidence("", 120.0, photos[2].hypotheses)
    photos[4] = PhotoEvidence("other camera", 240.0, photos[4].hypotheses)
    placed = TripPlacer().place(photos)
    for i in (1, 2, 4):
        p = placed[i]
        assert p is not None and p.own and p.mates == 0
        assert (p.lat, p.lon) == (photos[i].hypotheses[0].lat, photos[i].hypotheses[0].lon)
    assert TripPlacer().place([PhotoEvidence("cam", 0.0, ())]) == [None]


def test_camera_gps_wins_and_holds_its_neighbours_within_the_window() -> None:
    photos = [
        PhotoEvidence("cam", 0.0, fix(*PARIS), fixed=True),
        PhotoEvidence("cam", 60.0, guess(SYDNEY, LIMA)),  # the model is sure elsewhere
        PhotoEvidence("cam", 2 * 3600.0, guess(SYDNEY, LIMA)),  # two hours later
    ]
    near, later = TripPlacer().place(photos)[1:]
    assert near is not None and not near.own and near.source is Source.NEIGHBORS
    assert (near.lat, near.lon) == PARIS
    assert near.radius_km == pytest.approx(0.05 + WALKING_KM_S * 60)
    assert "your GPS photos: same camera, 60 s" in near.reason
    assert later is not None and later.own and (later.lat, later.lon) == SYDNEY
    # a narrower window lets the model's estimate stand
    near = TripPlacer(TravelModel(anchor_window_s=30.0)).place(photos)[1]
    assert near is not None and near.own and (near.lat, near.lon) == SYDNEY


def test_between_two_fixes_on_the_great_circle_at_its_time() -> None:
    a, b = (45.0, 16.0), (45.0, 16.2)
    photos = [
        PhotoEvidence("cam", -100.0, fix(*a), fixed=True),
        PhotoEvidence("cam", -50.0, guess(SYDNEY)),
        PhotoEvidence("cam", 100.0, fix(*b), fixed=True),
    ]
    p = TripPlacer().place(photos)[1]
    assert p is not None and p.source is Source.NEIGHBORS
    assert p.lat == pytest.approx(45.0, abs=2e-3) and p.lon == pytest.approx(16.05, abs=1e-3)
    speed = float(haversine_km(*a, *b)) / 200.0  # faster than walking: bounds the radius
    assert p.radius_km == pytest.approx(0.05 + speed * 50, rel=1e-6)
    across = [
        PhotoEvidence("cam", -10.0, fix(0.0, 179.9), fixed=True),
        PhotoEvidence("cam", 0.0, guess(SYDNEY)),
        PhotoEvidence("cam", 10.0, fix(0.0, -179.9), fixed=True),
    ]
    q = TripPlacer().place(across)[1]
    assert q is not None and abs(abs(q.lon) - 180.0) < 1e-6


def test_a_flight_is_allowed_where_driving_is_not() -> None:
    # Paris in the morning, then confident photos in New York 9 h later: they stay there
    photos = [PhotoEvidence("cam", 0.0, guess(PARIS))]
    photos += [PhotoEvidence("cam", 9 * 3600.0 + i * 600, guess(NEW_YORK)) for i in range(3)]
    placed = TripPlacer().place(photos)
    assert placed[0] is not None and (placed[0].lat, placed[0].lon) == PARIS
    assert all(p is not None and (p.lat, p.lon) == NEW_YORK for p in placed[1:])


def test_teleport_grows_with_the_gap_and_the_model_validates() -> None:
    tm = TravelModel()
    assert tm.teleport(60) < tm.teleport(3600) < tm.teleport(DAY) < tm.teleport(3 * DAY) == 1.0
    with pytest.raises(ConfigError):
        TravelModel(ground_km_h=0)
    with pytest.raises(ConfigError):
        TravelModel(min_teleport=0)
    with pytest.raises(ConfigError):
        TravelModel(window=0)


TOKYO = (35.690, 139.692)
SAPPORO = (43.062, 141.354)
FUKUOKA = (33.590, 130.402)
NAHA = (26.212, 127.679)


def in_country(cc: str, *places: tuple[float, float]) -> tuple[Hypothesis, ...]:
    """A model estimate (as ``guess``) whose candidates lie in countries ``cc`` ("JP,KR")."""
    return tuple(
        Hypothesis(h.lat, h.lon, 300.0, h.weight, h.source, h.place, country_code=code)
        for h, code in zip(guess(*places), cc.split(","), strict=True)
    )


def road_trip(country_odds: float) -> list[Placed | None]:
    """A trip through Japan, photos 20 h apart (too far apart in time for the travel
    model to pull one to another's place); the fourth photo's best guess is Lima, a
    Japanese place only its second."""
    guesses = [
        in_country("JP,KR", KYOTO, SEOUL),
        in_country("JP,FR", SAPPORO, PARIS),
        in_country("JP,US", NAHA, NEW_YORK),
        in_country("PE,JP", LIMA, TOKYO),
        in_country("JP,AU", FUKUOKA, SYDNEY),
        in_country("JP,KR", SAPPORO, SEOUL),
    ]
    photos = [PhotoEvidence("cam", i * 20 * 3600.0, g) for i, g in enumerate(guesses)]
    return TripPlacer(TravelModel(country_odds=country_odds)).place(photos)


def test_trip_mates_agree_on_a_country_when_their_best_cities_differ() -> None:
    placed = road_trip(2.0)
    lima = placed[3]
    assert lima is not None and not lima.own and (lima.lat, lima.lon) == TOKYO
    # the others keep their own cities: they are in the trip's country already
    for p, own in zip(
        placed[:3] + placed[4:], (KYOTO, SAPPORO, NAHA, FUKUOKA, SAPPORO), strict=True
    ):
        assert p is not None and p.own and (p.lat, p.lon) == own
    # without the country vote the Lima photo stays: its trip-mates are too long ago
    alone = road_trip(0.0)[3]
    assert alone is not None and alone.own and (alone.lat, alone.lon) == LIMA


def test_a_sure_photo_holds_its_country_against_its_trip_mates() -> None:
    sure = Hypothesis(*LIMA, 25.0, 0.95, Source.MODEL, "Lima", country_code="PE")
    photos = [
        PhotoEvidence("cam", i * 5 * 3600.0, g)
        for i, g in enumerate(
            [in_country("JP,KR", KYOTO, SEOUL), in_country("JP,FR", SAPPORO, PARIS)]
        )
    ]
    photos.append(PhotoEvidence("cam", 10 * 3600.0, (sure, *in_country("JP", TOKYO))))
    photos.append(PhotoEvidence("cam", 15 * 3600.0, in_country("JP,US", NAHA, NEW_YORK)))
    p = TripPlacer().place(photos)[2]
    assert p is not None and p.own and (p.lat, p.lon) == LIMA


def test_the_country_vote_validates() -> None:
    bad_ones = (
        {"country_odds": -1.0},
        {"country_floor": 0.0},
        {"country_scale_s": 0.0},
        {"country_min": 1.5},
    )
    for bad in bad_ones:
        with pytest.raises(ConfigError):
            TravelModel(**bad)  # type: ignore[arg-type]


def test_moves_between_places_far_beyond_reach_stay_probabilities() -> None:
    # every place of the next photo is 10,000+ km away, photos a minute apart
    d = np.array([[10_000.0, 12_000.0], [15_000.0, 19_000.0]])
    t = TravelModel().transition(d, 60.0)
    assert np.all(np.isfinite(t)) and np.allclose(t.sum(axis=1), 1.0)
    assert t[0, 0] > t[0, 1] and t[1, 0] > t[1, 1]
