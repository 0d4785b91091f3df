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
    nfkd = unicodedata.normalize("NFKD", text)
    return "".join(c for c in nfkd if not unicodedata.combining(c)).casefold()


class PlaceIndex:
    """Every gazetteer place by folded name (built once, about 2 s: call it off the GUI
    thread first, as the map's preload does)."""

    def __init__(self) -> None:
        from geoscope_core.geo.gazetteer import country_name, get_gazetteer

        gaz = get_gazetteer()
        hits: list[PlaceHit] = []
        for c in gaz.countries():
            cand = Candidate(c.lat, c.lon, 1.0, c.country_code, c.name)
            hits.append(PlaceHit(f"{c.name} (country)", cand, COUNTRY_RADIUS_KM, c.population))
        for a in gaz.admin1():
            country = country_name(a.country_code, a.country_code)
            cand = Candidate(a.lat, a.lon, 1.0, a.country_code, country, a.name)
            hits.append(PlaceHit(f"{a.name}, {country}", cand, REGION_RADIUS_KM, a.population))
        regions = {a.id: a.name for a in gaz.admin1()}
        for t in gaz.cities():
            country = country_name(t.country_code, t.country_code)
            region = regions.get(t.parent or "", "")
            cand = Candidate(t.lat, t.lon, 1.0, t.country_code, country, region, t.name)
            label = ", ".join(p for p in (t.name, region, country) if p)
            hits.append(PlaceHit(label, cand, town_radius_km(t.population), t.population))
        keyed = sorted(((fold(h.label), i) for i, h in enumerate(hits)), key=lambda k: k[0])
        self._keys = [k for k, _ in keyed]
        self._order = [i for _, i in keyed]
        self._hits = hits

    def search(self, text: str, n: int = MAX_HITS) -> list[PlaceHit]:
        """Places whose name starts with ``text``, most populous first."""
        key = fold(text.strip())
        if len(key) < 2:
            return []
        lo = bisect.bisect_left(self._keys, key)
        hi = bisect.bisect_left(self._keys, key + "\uffff")
        found = [self._hits[self._order[i]] for i in range(lo, hi)]
        # a place named exactly so first (the town before the region named after it)
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
        if hit is not None:
            self.place_chosen.emit(hit)
        return hit
