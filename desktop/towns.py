"""The gazetteer's towns as arrays, read once: the map labels them and the place search
finds them (numpy, no Qt)."""

from __future__ import annotations

import functools

import numpy as np


class Towns:
    """The gazetteer's towns as arrays (straight from its cached tables, no per-town
    objects): ``lat``/``lon`` degrees, ``pop`` people, ``names``, ``country`` ISO
    codes and ``region`` names per town ('' when unknown)."""

    def __init__(self) -> None:
        from geoscope_core.geo.geonames import load_tables

        t = load_tables(True)
        self.lat = t.city_lat
        self.lon = t.city_lon
        self.pop = t.city_pop
        self.names = t.city_names
        self._codes = t.country_codes
        self._country = t.city_country
        self._regions = t.admin1_names
        self._region = t.city_admin1

    def country(self, i: int) -> str:
        return self._codes[int(self._country[i])]

    def region(self, i: int) -> str:
        r = int(self._region[i])
        return self._regions[r] if r >= 0 else ""

    def top_in(self, west: float, south: float, east: float, north: float, n: int) -> list[int]:
        inside = (self.lon >= west) & (self.lon <= east) & (self.lat >= south) & (self.lat <= north)
        idx = np.flatnonzero(inside)
        return [int(i) for i in idx[np.argsort(-self.pop[idx], kind="stable")[:n]]]


@functools.lru_cache(maxsize=1)
def town_table() -> Towns:
    """The gazetteer's places as arrays (read once, about 1.5 s: ``preload`` starts it)."""
    return Towns()
