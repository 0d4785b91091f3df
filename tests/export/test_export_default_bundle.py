"""The shipped default bundle ``geoscope-lite``: intact, small, int8, and it runs."""

from __future__ import annotations

import numpy as np

from geoscope_core.records import shared_geo_records
from geoscope_core.runtime.bundle import check_bundle, load_bundle
from geoscope_core.runtime.images import preprocess
from geoscope_core.runtime.locate import resolve_bundle_path
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.settings import DEFAULT_MODEL, models_dir


def test_default_bundle_is_shipped_intact_and_small() -> None:
    path = resolve_bundle_path(None)
    assert path == models_dir() / DEFAULT_MODEL
    assert check_bundle(path) == []
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    assert size <= 25 * 1024 * 1024
    m = load_bundle(None).manifest
    assert m.name == DEFAULT_MODEL
    assert m.quantization["method"] == "int8-static-qdq"
    val = m.metrics["val"]
    assert val["photos"] > 0 and {"fp32", "int8", "drop"} <= set(val)
    assert m.error_model is not None and m.temperature > 0
    assert (models_dir() / "MODEL_CARD.md").is_file()


def test_default_bundle_places_croatian_street_view_near_croatia() -> None:
    """Street View in Croatia, a source the heads trained on: decoded with the temperature
    and prior fitted out of source, the answers are guesses near the truth, not named
    places. 8 val photos: at least 6 within 750 km of where they were taken, and none
    named outside Croatia and its neighbours."""
    from geoscope_core.geo.distance import haversine_km

    predictor = Predictor.load(None, provider="cpu")
    records = [r for r in shared_geo_records("val") if "croatia_streetview" in str(r.path)]
    records = records[:: max(len(records) // 8, 1)][:8]
    preds = predictor.predict(np.stack([preprocess(r.path, predictor.preprocess) for r in records]))
    d = [haversine_km(p.lat, p.lon, r.lat, r.lon) for p, r in zip(preds, records, strict=True)]
    assert sum(x <= 750.0 for x in d) >= 6
    assert {p.country_code for p in preds} <= {"", "HR", "SI", "BA", "RS", "HU", "ME"}


def test_default_bundle_error_radius_holds_about_two_thirds_of_world_photos() -> None:
    """The radius is the 0.68 quantile of the world-scope val errors per confidence bin
    (the photos users meet): on a quarter of them, between half and nine in ten photos
    must lie within their radius (a fit on the pooled split held 37% of them)."""
    from geoscope_core.geo.distance import haversine_km

    predictor = Predictor.load(None, provider="cpu")
    records = [r for r in shared_geo_records("val") if r.scope == "world"][::4]
    assert len(records) >= 200
    pixels = np.stack([preprocess(r.path, predictor.preprocess) for r in records])
    preds = [p for i in range(0, len(pixels), 32) for p in predictor.predict(pixels[i : i + 32])]
    err = haversine_km(
        np.array([p.lat for p in preds]),
        np.array([p.lon for p in preds]),
        np.array([r.lat for r in records]),
        np.array([r.lon for r in records]),
    )
    within = float(np.mean(err <= np.array([p.radius_km for p in preds])))
    assert 0.5 <= within <= 0.9
