"""Synthetic captions: StreetCLIP wording, all granularities, graceful degradation."""

from __future__ import annotations

import numpy as np
import pytest

from geoscope_core.errors import ConfigError
from geoscope_core.geo.captions import (
    STYLE_TEMPLATES,
    TEMPLATES,
    caption,
    caption_for_location,
    prompts_for,
    render,
)
from geoscope_core.geo.gazetteer import LEVELS, Gazetteer, get_gazetteer
from geoscope_core.geo.place import Place


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return get_gazetteer()


def test_streetclip_caption_for_a_city(gaz: Gazetteer) -> None:
    split = gaz.get("HR/Split-Dalmatia/Split")
    assert caption(split, gaz) == (
        "A Street View photo close to the town of Split in the region of Split-Dalmatia in Croatia."
    )


def test_every_level_at_zagreb(gaz: Gazetteer) -> None:
    got = {lv: caption_for_location(45.815, 15.982, gaz, lv) for lv in LEVELS}
    assert got["continent"] == "A Street View photo in Europe."
    assert got["country"] == "A Street View photo in Croatia, Europe."
    assert got["admin1"] == "A Street View photo in the region of Zagreb in Croatia."
    # the region has the city's own name, so it is left out rather than repeated
    assert got["city"] == "A Street View photo close to the town of Zagreb in Croatia."
    photo = caption_for_location(45.815, 15.982, gaz, "country", style="photo")
    assert photo == "A photo taken in Croatia."


def test_city_without_admin1_degrades(gaz: Gazetteer) -> None:
    # GeoNames gives Aruba's places no admin-1 region
    orphan = next(c for c in gaz.cities("AW") if c.parent == "AW")
    text = caption(orphan, gaz)
    country = gaz.country(orphan.country_code).name
    assert text == f"A Street View photo close to the town of {orphan.name} in {country}."
    assert "region" not in text and "  " not in text
    for prompt in prompts_for(orphan, gaz):
        assert orphan.name in prompt and "{" not in prompt and "[" not in prompt


def test_place_with_unknown_country_degrades() -> None:
    gaz = get_gazetteer()
    city = Place("ZZ//Nowhere", "Nowhere", "city", "ZZ", 0.0, 0.0, 10, "ZZ")
    assert caption(city, gaz) == "A Street View photo close to the town of Nowhere."
    region = Place("ZZ/Somewhere", "Somewhere", "admin1", "ZZ", 0.0, 0.0, 10, "ZZ")
    assert caption(region, gaz, style="photo") == "A photo taken in Somewhere."


def test_random_templates_are_reproducible(gaz: Gazetteer) -> None:
    place = gaz.get("HR/Split-Dalmatia/Split")
    a = [caption(place, gaz, rng=np.random.default_rng(3), style="photo") for _ in range(3)]
    b = [caption(place, gaz, rng=np.random.default_rng(3), style="photo") for _ in range(3)]
    assert a == b
    rng = np.random.default_rng(0)
    seen = {caption(place, gaz, rng=rng, style="photo") for _ in range(40)}
    assert len(seen) == len(STYLE_TEMPLATES["photo"]["city"])


def test_prompts_for_covers_all_templates_of_the_level(gaz: Gazetteer) -> None:
    hr = gaz.country("HR")
    prompts = prompts_for(hr, gaz)
    assert len(prompts) == len(TEMPLATES["country"])
    assert all("Croatia" in p for p in prompts)
    assert any(p.startswith("A Street View") for p in prompts)
    assert any(p.startswith("A photo taken in") for p in prompts)
    eu = prompts_for(gaz.get("EU"), gaz)
    assert all("Europe" in p for p in eu)


def test_far_from_any_city_the_city_level_degrades(gaz: Gazetteer) -> None:
    text = caption_for_location(-45.0, -130.0, gaz, "city")  # South Pacific
    assert "close to the town of" not in text


def test_render_optional_parts_and_errors() -> None:
    fields = {"city": "A", "region": "", "country": "C", "continent": ""}
    assert render("{city}[ in {region}][ in {country}].", fields) == "A in C."
    with pytest.raises(ConfigError):
        render("{region}.", fields)


def test_bad_style_or_level_raise(gaz: Gazetteer) -> None:
    with pytest.raises(ConfigError):
        caption(gaz.country("HR"), gaz, style="poem")
    with pytest.raises(ConfigError):
        caption_for_location(45.8, 16.0, gaz, "street")
    with pytest.raises(ConfigError):
        caption(Place("x", "X", "cell", None, 0.0, 0.0, 0, "HR"), gaz)
