"""What a place is: a gazetteer entry, a point's nearest city, and the names of a place."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypedDict

#: Largest radius (km) for which a city is named: about a metropolitan area.
CITY_MAX_RADIUS_KM = 50.0
#: Largest radius (km) for which an admin-1 region is named: about a large region.
STATE_MAX_RADIUS_KM = 300.0
#: Largest radius (km) for which each finer-than-country name is given (a sublocation
#: goes with its city)
MAX_RADIUS_KM = {"city": CITY_MAX_RADIUS_KM, "admin1": STATE_MAX_RADIUS_KM}


@dataclass(frozen=True)
class Place:
    """A continent, country, admin-1 region or city.

    ``lat``/``lon`` in degrees (a city's own position; a region's population-weighted
    centroid), ``population`` in people, ``parent`` the id of the enclosing place
    (None for continents), ``country_code`` ISO alpha-2 ("" for continents).
    """

    id: str
    name: str
    level: str
    parent: str | None
    lat: float
    lon: float
    population: int
    country_code: str

    def to_label(self) -> dict[str, Any]:
        """The bundle label row ``{id, name, parent, lat, lon, population, country_code}``."""
        return {
            "id": self.id,
            "name": self.name,
            "parent": self.parent,
            "lat": self.lat,
            "lon": self.lon,
            "population": self.population,
            "country_code": self.country_code,
        }


@dataclass(frozen=True)
class ReverseResult:
    """Nearest city to a point, with its admin-1 region (None if unknown) and country.

    ``distance_km``: great-circle distance from the point to the city in km.
    """

    city: Place
    admin1: Place | None
    country: Place
    distance_km: float


class PlaceFields(TypedDict):
    """``PlaceNames`` as keyword arguments of ``Prediction``/``Candidate``."""

    country_code: str
    country: str
    admin1: str
    city: str


@dataclass(frozen=True)
class PlaceNames:
    """The names of a point's place; any may be empty.

    ``country_code`` ISO 3166-1 alpha-2 (upper case), ``country`` its common English
    name, ``admin1`` the first-level region, ``city`` the city or town.
    """

    country_code: str = ""
    country: str = ""
    admin1: str = ""
    city: str = ""

    def as_fine_as(self, radius_km: float) -> PlaceNames:
        """These names cut to what an estimate of ``radius_km`` supports: no city past
        ``CITY_MAX_RADIUS_KM``, no region past ``STATE_MAX_RADIUS_KM`` (a guess
        ±6,000 km is not "in" a housing estate)."""
        cut = {name: "" for name, limit in MAX_RADIUS_KM.items() if radius_km > limit}
        return replace(self, **cut)

    @classmethod
    def of_estimate(cls, estimate: object) -> PlaceNames:
        """The names of ``estimate`` (a Prediction or Candidate) as finely as its own
        ``radius_km`` supports: what is shown and written for it (all its names when
        its radius is not known)."""
        names, radius = cls.of(estimate), getattr(estimate, "radius_km", None)
        return names if radius is None else names.as_fine_as(float(radius))

    def fields(self) -> PlaceFields:
        """As keyword arguments of ``Prediction``/``Candidate``."""
        return PlaceFields(
            country_code=self.country_code, country=self.country, admin1=self.admin1, city=self.city
        )

    @classmethod
    def of(cls, named: object) -> PlaceNames:
        """The names carried by ``named`` (anything with these four attributes)."""
        return cls(
            country_code=str(getattr(named, "country_code", "") or "").upper(),
            country=str(getattr(named, "country", "") or ""),
            admin1=str(getattr(named, "admin1", "") or ""),
            city=str(getattr(named, "city", "") or ""),
        )
