"""Label sets of zero-shot bundles and their float16 storage.

The class embeddings themselves are ``geo.captions.label_embeddings`` (open_clip's
``build_zero_shot_classifier`` recipe), the one the training's zero-shot
validation uses too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from geoscope_core.errors import ExportError
from geoscope_core.geo.captions import TextEncoder, class_embeddings, label_embeddings
from geoscope_core.geo.gazetteer import Gazetteer
from geoscope_core.geo.place import Place

log = logging.getLogger(__name__)

__all__ = [
    "TextEncoder",
    "class_embeddings",
    "label_embeddings",
    "level_rows",
    "to_float16",
    "zero_shot_places",
]


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
            raise ExportError(f"no zero-shot label set for level {level!r}")
        if not out[level]:
            raise ExportError(f"the gazetteer has no places at level {level!r}")
    return out


def level_rows(places: dict[str, list[Place]]) -> dict[str, list[dict[str, Any]]]:
    """Bundle label rows per level. A row's ``parent`` names a label of the level
    above that is in the bundle: a city whose admin-1 region is not shipped points
    at its country instead."""
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


def to_float16(embeddings: np.ndarray) -> np.ndarray:
    """float16 copy for storage; raises ExportError if values overflow float16."""
    half = embeddings.astype(np.float16)
    if not np.all(np.isfinite(half)):
        raise ExportError("label embeddings overflow float16")
    return half
