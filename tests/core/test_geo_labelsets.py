"""Zero-shot label sets: the places of each level and their label rows."""

from __future__ import annotations

import pytest

from geoscope_core.errors import ConfigError
from geoscope_core.geo.gazetteer import get_gazetteer
from geoscope_core.geo.labelsets import level_rows, zero_shot_places


def test_zero_shot_places_and_rows() -> None:
    gaz = get_gazetteer()
    places = zero_shot_places(gaz, ("country", "admin1", "city"), cities_per_country=3)
    assert len(places["country"]) == len(gaz.countries())
    assert len(places["admin1"]) == len(gaz.admin1())
    hr = [c for c in places["city"] if c.country_code == "HR"]
    assert [c.id for c in hr] == [c.id for c in gaz.top_cities("HR", n=3)]
    assert hr[0].name == "Zagreb"
    assert all(len([c for c in places["city"] if c.country_code == cc.country_code]) <= 3
               for cc in places["country"])  # fmt: skip
    rows = level_rows(places)
    admin1_ids = {r["id"] for r in rows["admin1"]}
    country_ids = {r["id"] for r in rows["country"]}
    assert all(r["parent"] in admin1_ids | country_ids for r in rows["city"])
    assert set(rows["city"][0]) == {"id", "name", "parent", "lat", "lon", "population",
                                    "country_code"}  # fmt: skip
    # without the admin-1 level, cities point at their shipped country
    rows2 = level_rows(zero_shot_places(gaz, ("country", "city"), cities_per_country=2))
    assert all(r["parent"] == r["country_code"] for r in rows2["city"])


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ConfigError, match="street"):
        zero_shot_places(get_gazetteer(), ("country", "street"))
