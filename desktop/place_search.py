"""A search box over the offline gazetteer: type "Dubrovnik", choose, and the map
centres on the place and the selected photos are placed there.

Countries, admin-1 regions and towns are matched by the start of their name
(accents and case ignored), most populous first. The radius a chosen place
gives its photos follows what was chosen: a town's is small, a country's large.
"""

from __future__ import annotations

import bisect
import functools
import logging
import unicodedata
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

from geoscope_core.errors import GeoScopeError
from geoscope_core.prediction import Candidate

log = logging.getLogger(__name__)

MAX_HITS = 12
#: radius given to photos placed on a region / a country, km
REGION_RADIUS_KM = 60.0
COUNTRY_RADIUS_KM = 300.0


@dataclass(frozen=True)
class PlaceHit:
    """One match: ``label`` as listed, the place as a ``Candidate`` (degrees) and the
    radius (km) photos placed there get."""

    label: str
    candidate: Candidate
    radius_km: float
    population: int


def town_radius_km(population: int) -> float:
    """How far a town's photos may lie from its centre (km), by its population."""
    if population >= 1_000_000:
        return 15.0
    if population >= 100_000:
        return 6.0
    return 2.5


def fold(text: str) -> str:
    """Lower case without accents: 'Dubrovník' -> 'dubrovnik'."""
    if text.isascii():  # four names in five: no accents, and casefold is lower there
        return text.lower()
    nfkd = unicodedata.normalize("NFKD", text)
    return "".join(c for c in nfkd if not unicodedata.combining(c)).casefold()


class PlaceIndex:
    """Every gazetteer place by folded name: countries and regions as ``PlaceHit``s,
    towns as indices into the map's ``Towns`` arrays (a hit is made only when found)."""

    def __init__(self) -> None:
        from geoscope_core.geo.gazetteer import country_name, get_gazetteer
        from geoscope_desktop.towns import town_table

        gaz = get_gazetteer()
        self._country_name = country_name
        self._towns = town_table()
        areas: list[PlaceHit] = []
        for c in gaz.countries():
            cand = Candidate(c.lat, c.lon, 1.0, c.country_code, c.name)
            areas.append(PlaceHit(f"{c.name} (country)", cand, COUNTRY_RADIUS_KM, c.population))
        for a in gaz.admin1():
            country = country_name(a.country_code, a.country_code)
            cand = Candidate(a.lat, a.lon, 1.0, a.country_code, country, a.name)
            areas.append(PlaceHit(f"{a.name}, {country}", cand, REGION_RADIUS_KM, a.population))
        self._areas = areas
        # entries >= 0 are towns, < 0 are areas (-1 - index); the keys are sorted through
        # an index, not as (key, entry) pairs: ~150,000 tuples less to make and free
        keys = [fold(n) for n in self._towns.names] + [fold(h.label) for h in areas]
        entries = np.arange(len(keys), dtype=np.int64)
        entries[len(self._towns.names) :] = -1 - np.arange(len(areas))
        order = sorted(range(len(keys)), key=keys.__getitem__)
        self._keys = [keys[i] for i in order]
        self._order = entries[order]

    def _hit(self, entry: int) -> PlaceHit:
        if entry < 0:
            return self._areas[-1 - entry]
        t = self._towns
        code, region = t.country(entry), t.region(entry)
        country = self._country_name(code, code)
        name, pop = t.names[entry], int(t.pop[entry])
        cand = Candidate(float(t.lat[entry]), float(t.lon[entry]), 1.0, code, country, region, name)
        label = ", ".join(p for p in (name, region, country) if p)
        return PlaceHit(label, cand, town_radius_km(pop), pop)

    def search(self, text: str, n: int = MAX_HITS) -> list[PlaceHit]:
        """Places whose name starts with ``text``: one named exactly so first, then the
        most populous."""
        key = fold(text.strip())
        if len(key) < 2:
            return []
        lo = bisect.bisect_left(self._keys, key)
        hi = bisect.bisect_left(self._keys, key + "\uffff")
        found = [self._hit(int(e)) for e in self._order[lo:hi][:5000]]
        found.sort(key=lambda h: (fold(h.label.split(",")[0]) != key, -h.population))
        return found[:n]


@functools.lru_cache(maxsize=1)
def place_index() -> PlaceIndex:
    return PlaceIndex()


class PlaceSearch(QLineEdit):
    """The search box. ``place_chosen(PlaceHit)`` when the user picks a match (or
    presses Enter on the first one)."""

    place_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Find a place (offline) — places the selected photos there")
        self.setClearButtonEnabled(True)
        self._hits: dict[str, PlaceHit] = {}
        self._list = QStringListModel(self)
        completer = QCompleter(self._list, self)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.activated.connect(self._on_activated)
        self.setCompleter(completer)
        self.textEdited.connect(self._on_edited)
        self.returnPressed.connect(self._on_return)

    def _hide_popup(self) -> None:
        popup = self.completer().popup()
        if popup is not None:
            popup.hide()

    def matches(self, text: str) -> list[PlaceHit]:
        try:
            return place_index().search(text)
        except (ImportError, GeoScopeError) as e:
            log.warning("place search unavailable: %s", e)
            return []

    def _on_edited(self, text: str) -> None:
        hits = self.matches(text)
        self._hits = {h.label: h for h in hits}
        self._list.setStringList([h.label for h in hits])
        if hits:
            self.completer().complete()

    def _on_activated(self, label: str) -> None:
        self._hide_popup()
        hit = self._hits.get(label)
        if hit is not None:
            self.place_chosen.emit(hit)

    def _on_return(self) -> None:
        hit = self._hits.get(self.text()) or next(iter(self.matches(self.text())), None)
        if hit is not None:
            self.place_chosen.emit(hit)

    def choose(self, text: str) -> PlaceHit | None:
        """Search ``text`` and choose the best match, as typing and Enter do."""
        self.setText(text)
        self._on_edited(text)
        hit = next(iter(self.matches(text)), None)
        self._hide_popup()
        if hit is not None:
            self.place_chosen.emit(hit)
        return hit
