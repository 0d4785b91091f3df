"""On real val photos, every estimate lies in the country it names (checked against the
Natural Earth outlines the app ships, a source independent of the GeoNames gazetteer)."""

from __future__ import annotations

import numpy as np

from geoscope_core.geo.distance import haversine_km
from geoscope_core.geo.places import names_at
from geoscope_core.records import shared_geo_records
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.pipeline import Scanner
from geoscope_core.scan.types import ScanOptions
from geoscope_desktop.mapdata import world_outlines

#: The 1:110m outlines are coarse (a border or coast can be ~20 km off) and a point at
#: sea is named by the nearest coast: a point this close to its named country's
#: outline counts as inside.
OUTLINE_SLACK_KM = 40.0


def _inside(lon: float, lat: float, ring: np.ndarray) -> bool:
    x, y = ring[:, 0], ring[:, 1]
    crosses = (y > lat) != (np.roll(y, 1) > lat)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = (np.roll(x, 1) - x) * (lat - y) / (np.roll(y, 1) - y) + x
    return bool(np.count_nonzero(crosses & (lon < at)) % 2)


def _in_country(lat: float, lon: float, rings: tuple[np.ndarray, ...]) -> bool:
    if any(_inside(lon, lat, r) for r in rings):
        return True
    # the outline's edges, sampled every 1/16 of a segment
    f = np.linspace(0.0, 1.0, 16)[None, :, None]
    edges = [r[:, None] + f * (np.roll(r, -1, axis=0) - r)[:, None] for r in rings]
    vertices = np.concatenate([e.reshape(-1, 2) for e in edges])
    return float(np.min(haversine_km(lat, lon, vertices[:, 1], vertices[:, 0]))) < OUTLINE_SLACK_KM


def test_val_estimates_lie_in_the_country_they_name() -> None:
    records = [r for r in shared_geo_records("val") if r.set in ("croatia_streetview",
               "streetview_world", "minipigeon_streetview")][::9]  # fmt: skip
    assert len(records) >= 100
    scanner = Scanner(Predictor.load(None, provider="cpu"), ScanOptions(use_cache=False))
    results = list(scanner.scan([r.path for r in records]))
    outlines = {c.iso_a2: c.rings for c in world_outlines()}
    checked = 0
    for res in results:
        p = res.prediction
        assert p is not None, res.error
        # an unsure answer names no place; its candidates, the answer's point first, do
        assert (p.country_code == p.country == "") if p.unsure else p.country_code, p
        assert (p.top_k[0].lat, p.top_k[0].lon) == (p.lat, p.lon)
        for c in (p, *p.top_k) if not p.unsure else p.top_k:
            assert c.country_code and c.country, c
            assert names_at(c.lat, c.lon).country_code == c.country_code, (res.path, c)
        named = p.top_k[0]
        if named.country_code in outlines:
            checked += 1
            assert _in_country(p.lat, p.lon, outlines[named.country_code]), (res.path, p)
    assert checked >= 0.8 * len(results)  # Natural Earth gives some countries no ISO code
