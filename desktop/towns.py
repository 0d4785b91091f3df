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
        # The process-wide gazetteer's tables, not a load of their own: on a cold cache the
        # map's preload thread and a scan (naming its estimates) each parsed the GeoNames
        # JSON, at once when the scan started within the ~2 s parse, two transients of
        # ~170 MB of Python objects side by side. Python keeps the 1 MiB arenas such a
        # peak spread over (~245 MB of arenas holding ~99 MB), so the app's RSS after
        # a 2,000-photo scan was ~580 MB when they overlapped and ~470-500 MB when not
        # (bench_desktop.py). get_gazetteer's lock makes it one parse and one copy.
        from geoscope_core.geo.gazetteer import get_gazetteer

        t = get_gazetteer().tables
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
