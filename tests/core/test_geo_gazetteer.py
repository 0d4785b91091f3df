"""Gazetteer and reverse geocoding against known geography."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from geoscope_core.errors import GazetteerError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.geo.gazetteer import Gazetteer, get_gazetteer
from geoscope_core.geo.place import Place

LABEL_KEYS = {"id", "name", "parent", "lat", "lon", "population", "country_code"}


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return get_gazetteer()


def test_zagreb_reverse_geocodes_to_croatia_and_the_city_of_zagreb(gaz: Gazetteer) -> None:
    r = gaz.reverse(45.815, 15.982)
    assert r.country.id == "HR"
    assert r.country.name == "Croatia"
    assert r.city.name == "Zagreb"
    # GeoNames calls the City of Zagreb admin-1 region (ISO HR-21, "Grad Zagreb") "Zagreb",
    # distinct from the surrounding "Zagreb County" (HR-01).
    assert r.admin1 is not None
    assert r.admin1.id == "HR/Zagreb"
    assert r.admin1.id != "HR/Zagreb County"
    assert r.city.id == "HR/Zagreb/Zagreb"
    assert r.distance_km < 2.0
    assert r.distance_km == pytest.approx(
        haversine_km(45.815, 15.982, r.city.lat, r.city.lon), rel=1e-6
    )


@pytest.mark.parametrize(
    ("lat", "lon", "cc", "city"),
    [
        (48.8566, 2.3522, "FR", "Paris"),
        (-33.8688, 151.2093, "AU", "Sydney"),
        (35.6895, 139.6917, "JP", "Tokyo"),
        (-22.9068, -43.1729, "BR", "Rio de Janeiro"),
        (43.5081, 16.4402, "HR", "Split"),
        (60.1017, 19.9348, "AX", "Mariehamn"),
    ],
)
def test_known_cities(gaz: Gazetteer, lat: float, lon: float, cc: str, city: str) -> None:
    r = gaz.reverse(lat, lon)
    assert r.country.id == cc
    assert r.distance_km < 10.0
    near = [c.name for c in gaz.top_cities(cc, n=200) if haversine_km(lat, lon, c.lat, c.lon) < 15]
    assert city in near


def test_hierarchy_links(gaz: Gazetteer) -> None:
    city = gaz.get("HR/Split-Dalmatia/Split")
    assert city.level == "city"
    admin1 = gaz.get(city.parent)
    assert admin1.level == "admin1" and admin1.id == "HR/Split-Dalmatia"
    country = gaz.get(admin1.parent)
    assert country.level == "country" and country.id == "HR"
    assert country.parent == "EU"
    assert gaz.continent_of("HR").id == "EU"
    assert gaz.get("EU").name == "Europe"
    assert gaz.continent_of("br").name == "South America"
    assert gaz.continent_of("AU").id == "OC"


def test_two_letter_ids_prefer_countries_unless_level_is_given(gaz: Gazetteer) -> None:
    assert gaz.get("NA").name == "Namibia"
    assert gaz.get("NA", level="continent").name == "North America"
    assert gaz.continent("AS").name == "Asia"


def test_unknown_ids_raise(gaz: Gazetteer) -> None:
    with pytest.raises(GazetteerError):
        gaz.get("HR/Atlantis")
    with pytest.raises(GazetteerError):
        gaz.country("ZZ")
    with pytest.raises(GazetteerError):
        gaz.admin1("ZZ")
    with pytest.raises(GazetteerError):
        gaz.get("HR", level="planet")


def test_invalid_coordinates_raise(gaz: Gazetteer) -> None:
    with pytest.raises(GazetteerError):
        gaz.reverse(float("nan"), 0.0)
    with pytest.raises(GazetteerError):
        gaz.reverse(95.0, 0.0)


def test_counts_and_ids_are_unique(gaz: Gazetteer) -> None:
    countries = gaz.countries()
    assert 240 <= len(countries) <= 250
    assert len({c.id for c in countries}) == len(countries)
    assert all(len(c.id) == 2 and c.parent in {p.id for p in gaz.continents()} for c in countries)
    admin1 = gaz.admin1()
    assert len(admin1) > 3000
    assert len({a.id for a in admin1}) == len(admin1)
    assert len(gaz) > 150_000
    hr = gaz.cities("HR")
    assert len({c.id for c in hr}) == len(hr)
    assert all(c.country_code == "HR" for c in hr)


def test_duplicate_city_names_are_disambiguated(gaz: Gazetteer) -> None:
    # GeoNames has several "San Vicente" in the Philippines' Bicol Region.
    names = [c for c in gaz.cities("PH", "PH/Bicol Region") if c.name == "San Vicente"]
    assert len(names) > 1
    assert len({c.id for c in names}) == len(names)
    assert names[0].id == "PH/Bicol Region/San Vicente"
    assert names[1].id == "PH/Bicol Region/San Vicente (2)"
    assert names[0].population >= names[1].population


def test_admin1_is_derived_from_its_cities(gaz: Gazetteer) -> None:
    region = gaz.get("HR/Split-Dalmatia")
    cities = gaz.cities(admin1_id=region.id)
    assert region.population == sum(c.population for c in cities)
    # the population-weighted centroid lies within the region's cities' extent
    assert min(c.lat for c in cities) <= region.lat <= max(c.lat for c in cities)
    assert min(c.lon for c in cities) <= region.lon <= max(c.lon for c in cities)
    assert haversine_km(region.lat, region.lon, 43.5081, 16.4402) < 60  # pulled towards Split


def test_top_cities_are_sorted_by_population(gaz: Gazetteer) -> None:
    top = gaz.top_cities("HR", n=5)
    assert [c.name for c in top[:2]] == ["Zagreb", "Split"]
    pops = [c.population for c in top]
    assert pops == sorted(pops, reverse=True)
    assert len(gaz.top_cities("US", n=30)) == 30
    assert "New York City" in [c.name for c in gaz.top_cities("US", n=5)]
    in_region = gaz.top_cities(admin1_id="HR/Split-Dalmatia", n=3)
    assert in_region[0].name == "Split"
    assert all(c.parent == "HR/Split-Dalmatia" for c in in_region)


def test_cities_without_admin1_hang_from_their_country(gaz: Gazetteer) -> None:
    orphans = [c for c in gaz.cities("AW") if c.parent == c.country_code]
    assert orphans, "GeoNames gives Aruba's places no admin-1 name"
    c = orphans[0]
    assert c.id == f"{c.country_code}//{c.name}"
    r = gaz.reverse(c.lat, c.lon)
    assert r.city == c
    assert r.admin1 is None


def test_to_label_has_exactly_the_bundle_fields(gaz: Gazetteer) -> None:
    for place in (
        gaz.get("EU"),
        gaz.country("HR"),
        gaz.get("HR/Zagreb"),
        gaz.get("HR/Zagreb/Zagreb"),
    ):
        label = place.to_label()
        assert set(label) == LABEL_KEYS
        assert label["id"] == place.id
        assert isinstance(label["lat"], float) and isinstance(label["population"], int)


def test_reverse_many_matches_brute_force_nearest(gaz: Gazetteer) -> None:
    rng = np.random.default_rng(7)
    lats = rng.uniform(-60, 75, 300)
    lons = rng.uniform(-180, 180, 300)
    results = gaz.reverse_many(lats, lons)
    assert len(results) == 300
    cities = gaz.cities()
    c_lat = np.array([c.lat for c in cities])
    c_lon = np.array([c.lon for c in cities])
    for i in range(0, 300, 30):
        d = haversine_km(lats[i], lons[i], c_lat, c_lon)
        assert results[i].distance_km == pytest.approx(float(d.min()), rel=1e-6, abs=1e-6)
        single = gaz.reverse(lats[i], lons[i])
        assert (single.city, single.admin1, single.country) == (
            results[i].city,
            results[i].admin1,
            results[i].country,
        )
        assert single.distance_km == pytest.approx(results[i].distance_km, rel=1e-9, abs=1e-9)


def test_cities_at_one_point_answer_with_the_most_populous(gaz: Gazetteer) -> None:
    # GeoNames lists a few suburbs at their city's very point (Claudelands at Hamilton, NZ)
    t = gaz.tables
    points: dict[tuple[float, float], list[int]] = {}
    for i, point in enumerate(zip(t.city_lat.tolist(), t.city_lon.tolist(), strict=True)):
        points.setdefault(point, []).append(i)
    shared = {p: ids for p, ids in points.items() if len(ids) > 1}
    assert len(shared) >= 10
    lats = np.array([p[0] for p in shared])
    lons = np.array([p[1] for p in shared])
    idx, km = gaz.nearest_indices(lats, lons)
    for (point, ids), i, d in zip(shared.items(), idx.tolist(), km.tolist(), strict=True):
        assert i == min(ids, key=lambda j: (-int(t.city_pop[j]), j)), point
        assert d == 0.0
        assert gaz.reverse(*point).city.id == t.city_ids[i]
    hamilton = gaz.reverse(-37.78333, 175.28333)
    assert hamilton.city.name == "Hamilton" and hamilton.country.id == "NZ"


def test_place_names_do_not_import_scipy() -> None:
    # importing scipy.spatial (sparse, linalg) cost every scan 0.5 s of CPU
    code = (
        "import sys\n"
        "from geoscope_core.geo.places import names_at\n"
        "names_at(45.815, 15.982)\n"
        "from geoscope_core.geo.cells import kmeans_cells\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'scipy'], 'scipy imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]


def test_ids_at_levels(gaz: Gazetteer) -> None:
    lats, lons = [45.815, 48.8566], [15.982, 2.3522]
    assert gaz.ids_at(lats, lons, "country") == ["HR", "FR"]
    assert gaz.ids_at(lats, lons, "continent") == ["EU", "EU"]
    assert gaz.ids_at(lats, lons, "admin1")[0] == "HR/Zagreb"
    assert gaz.ids_at(lats, lons, "city")[0] == "HR/Zagreb/Zagreb"
    assert gaz.place_at(gaz.reverse(45.815, 15.982), "continent").id == "EU"


def test_cache_is_written_and_reused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GEOSCOPE_CACHE_DIR", str(tmp_path))
    stale = tmp_path / "gazetteer-v0-000000000000.npz"
    stale.write_bytes(b"left by an older version")
    first = Gazetteer.load()
    assert not stale.exists()
    caches = list(tmp_path.glob("gazetteer-*.npz"))
    assert len(caches) == 1
    second = Gazetteer.load()
    assert len(second) == len(first)
    assert second.get("HR/Zagreb") == first.get("HR/Zagreb")
    assert [c.id for c in second.top_cities("HR", n=10)] == [
        c.id for c in first.top_cities("HR", n=10)
    ]
    # a damaged cache (garbage, or a truncated write) is ignored and rebuilt, never fatal
    good = caches[0].read_bytes()
    for damaged in (b"not an npz file", good[: len(good) // 2]):
        caches[0].write_bytes(damaged)
        again = Gazetteer.load()
        assert again.reverse(45.815, 15.982).country.id == "HR"
        assert caches[0].stat().st_size == len(good)


def test_place_is_frozen() -> None:
    p = Place("HR", "Croatia", "country", "EU", 45.0, 16.0, 1, "HR")
    with pytest.raises(AttributeError):
        p.name = "x"  # type: ignore[misc]


def test_reverse_works_across_the_antimeridian(gaz: Gazetteer) -> None:
    # Labasa (Fiji) is at 179.36 E; a point at 179.9 W is ~80 km east of it
    r = gaz.reverse(-16.4332, -179.9)
    assert (r.city.name, r.country.id) == ("Labasa", "FJ")
    assert r.distance_km == pytest.approx(haversine_km(-16.4332, -179.9, r.city.lat, r.city.lon))
    assert r.distance_km < 90


def test_country_name_and_alpha3_from_iso_codes() -> None:
    from geoscope_core.geo.countries import country_alpha3, country_name

    assert country_name("hr") == "Croatia" and country_alpha3("hr") == "HRV"
    assert country_name("VA") == "Vatican City"  # a shorter name than ISO's
    assert country_name("ZZ") == "ZZ" and country_name("ZZ", unknown="") == ""
    assert country_alpha3("ZZ") == country_alpha3("") == ""
