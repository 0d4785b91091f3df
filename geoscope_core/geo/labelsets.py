"""The places a zero-shot model is scored against, level by level, as label rows.

The exporter ships these label sets in zero-shot bundles and training's zero-shot
validation decodes with the same ones, so both measure the model users get.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from geoscope_core.errors import ConfigError, GazetteerError

if TYPE_CHECKING:
    from geoscope_core.geo.gazetteer import Gazetteer
    from geoscope_core.geo.place import Place

#: Levels a zero-shot label set can have, top first.
ZERO_SHOT_LEVELS = ("country", "admin1", "city")


def zero_shot_places(
    gaz: Gazetteer, levels: Sequence[str], cities_per_country: int = 30
) -> dict[str, list[Place]]:
    """The places of each level: every country, every admin-1 region, and the
    ``cities_per_country`` most populous cities of each country."""
    out: dict[str, list[Place]] = {}
    countries = gaz.countries()
    for level in levels:
        if level == "country":
            out[level] = countries
        elif level == "admin1":
            out[level] = gaz.admin1()
        elif level == "city":
            out[level] = [
                city
                for country in countries
                for city in gaz.top_cities(country.country_code, n=cities_per_country)
            ]
        else:
            raise ConfigError(f"no zero-shot label set for level {level!r}")
        if not out[level]:
            raise GazetteerError(f"the gazetteer has no places at level {level!r}")
    return out


def level_rows(places: dict[str, list[Place]]) -> dict[str, list[dict[str, Any]]]:
    """Bundle label rows per level. A row's ``parent`` names a label of the level
    above that is in the set: a city whose admin-1 region is not in it points at its
    country instead."""
    rows: dict[str, list[dict[str, Any]]] = {}
    shipped: set[str] = set()
    for level, level_places in places.items():
        level_rows_: list[dict[str, Any]] = []
        for place in level_places:
            row = place.to_label()
            if shipped and row.get("parent") not in shipped and place.country_code in shipped:
                row["parent"] = place.country_code
            level_rows_.append(row)
        rows[level] = level_rows_
        shipped |= {p.id for p in level_places}
    return rows
