"""What a place is: a gazetteer entry, a point's nearest city, and the names of a place."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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

    def fields(self) -> dict[str, str]:
        """As keyword arguments of ``Prediction``/``Candidate``."""
        return asdict(self)

    @classmethod
    def of(cls, named: object) -> PlaceNames:
        """The names carried by ``named`` (anything with these four attributes)."""
        return cls(
            country_code=str(getattr(named, "country_code", "") or "").upper(),
            country=str(getattr(named, "country", "") or ""),
            admin1=str(getattr(named, "admin1", "") or ""),
            city=str(getattr(named, "city", "") or ""),
        )
