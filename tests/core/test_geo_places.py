"""One rule names a point: the names always contain the point they are written with."""

from __future__ import annotations

import pytest

from geoscope_core.errors import GazetteerError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.geo.gazetteer import get_gazetteer
from geoscope_core.geo.places import PlaceNames, names_at, names_at_many, place_point

BANJA_LUKA = (44.7722, 17.1910)  # Bosnia and Herzegovina, 150 km from Zagreb
ZAGREB = (45.815, 15.982)
CROATIA = PlaceNames(country_code="HR", country="Croatia")


def test_a_point_is_named_by_the_place_that_contains_it() -> None:
    names = names_at(*BANJA_LUKA)
    assert names.country_code == "BA" and names.city == "Banja Luka"
    assert names_at_many([BANJA_LUKA[0], ZAGREB[0]], [BANJA_LUKA[1], ZAGREB[1]]) == [
        names,
        names_at(*ZAGREB),
    ]


def test_hint_is_kept_in_its_country_and_never_names_another() -> None:
    mine = PlaceNames("HR", "Croatia", "My region", "My village")
    assert names_at(*ZAGREB, mine) == mine
    # a hint without city is completed from the point, in the same country only
    assert names_at(*ZAGREB, CROATIA).city == "Zagreb"
    assert names_at(*BANJA_LUKA, CROATIA) == names_at(*BANJA_LUKA)
    # a hinted region the point is not in gets no city of another region
    assert names_at(*ZAGREB, PlaceNames("HR", "Croatia", "Istria")).city == ""


def test_city_only_within_a_distance() -> None:
    sea = (43.0, 16.9)  # the Adriatic between Split and the islands
    assert names_at(*sea).city != ""
    assert names_at(*sea, city_within_km=0.5).city == ""


def test_an_estimate_outside_its_country_is_moved_into_it() -> None:
    lat, lon, names = place_point(*BANJA_LUKA, CROATIA)
    assert names.country_code == "HR" and names.city and names.admin1
    assert names_at(lat, lon).country_code == "HR"
    # the nearest Croatian city: just across the border, not the country's centroid
    assert float(haversine_km(lat, lon, *BANJA_LUKA)) < 60.0
    gaz = get_gazetteer()
    assert gaz.nearest_in_country(*BANJA_LUKA, "HR").country.id == "HR"
    # inside its country the point stays where it is
    assert place_point(*ZAGREB, CROATIA)[:2] == ZAGREB
    # no country in the hint: only named
    assert place_point(*BANJA_LUKA, PlaceNames()) == (*BANJA_LUKA, names_at(*BANJA_LUKA))


def test_unknown_country_in_hint_names_the_point() -> None:
    with pytest.raises(GazetteerError):
        get_gazetteer().nearest_in_country(0.0, 0.0, "ZZ")
    lat, lon, names = place_point(*ZAGREB, PlaceNames(country_code="ZZ"))
    assert (lat, lon) == ZAGREB and names == names_at(*ZAGREB, PlaceNames(country_code="ZZ"))


def test_names_are_no_finer_than_the_radius() -> None:
    from geoscope_core.geo.place import CITY_MAX_RADIUS_KM, STATE_MAX_RADIUS_KM
    from geoscope_core.prediction import Candidate

    full = PlaceNames("HR", "Croatia", "Split-Dalmatia", "Split")
    assert full.as_fine_as(CITY_MAX_RADIUS_KM) == full
    assert full.as_fine_as(CITY_MAX_RADIUS_KM + 1) == PlaceNames("HR", "Croatia", "Split-Dalmatia")
    assert full.as_fine_as(STATE_MAX_RADIUS_KM + 1) == PlaceNames("HR", "Croatia")
    wide = Candidate(43.5, 16.4, 0.1, radius_km=5986.0, **full.fields())
    assert PlaceNames.of_estimate(wide) == PlaceNames("HR", "Croatia")
    legacy = Candidate(43.5, 16.4, 0.1, **full.fields())  # no radius of its own
    assert PlaceNames.of_estimate(legacy) == full
