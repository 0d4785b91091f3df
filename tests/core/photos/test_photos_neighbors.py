"""Visual neighbours: estimates from the user's own GPS-tagged photos by look."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.errors import ConfigError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.photos.metadata import PhotoMetadata
from geoscope_core.photos.neighbors import VisualGallery
from geoscope_core.prediction import Prediction, Source

T0 = datetime(2024, 5, 1, 12, 0, 0)
CAM = "Canon Canon EOS 40D 123"


def meta(name: str, dt_s: float | None, gps=None, camera: str = CAM, estimate: bool = False):  # type: ignore[no-untyped-def]
    return PhotoMetadata(
        path=Path(name),
        gps=gps,
        gps_is_estimate=estimate,
        taken_at=None if dt_s is None else T0 + timedelta(seconds=dt_s),
        camera=camera,
    )


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _gallery(rng: np.random.Generator) -> tuple[VisualGallery, np.ndarray]:
    emb = _unit(rng.normal(size=(50, 64)))
    lats = np.linspace(31.25, 31.27, 50)
    lons = np.linspace(34.79, 34.81, 50)
    return VisualGallery(emb, lats, lons), emb


MODEL = Prediction(lat=32.0, lon=35.0, confidence=0.4, radius_km=100.0, model="m@1")


def test_near_duplicate_gallery_photo_dominates() -> None:
    rng = np.random.default_rng(0)
    g, emb = _gallery(rng)
    assert len(g) == 50
    q = _unit(emb[7] + 0.05 * rng.normal(size=64))
    out = g.blend(q, MODEL)
    assert out.source is Source.NEIGHBORS
    assert float(haversine_km(out.lat, out.lon, g.lats[7], g.lons[7])) < 0.5
    assert out.radius_km < 1.0
    assert out.model.startswith("visual-neighbors")
    assert out.top_k[0].lat == out.lat


def test_unrelated_photo_leaves_model_alone() -> None:
    rng = np.random.default_rng(1)
    g, _ = _gallery(rng)
    q = _unit(rng.normal(size=64))
    assert g.blend(q, MODEL) == MODEL


def test_blend_weight_grows_with_similarity() -> None:
    rng = np.random.default_rng(2)
    g, emb = _gallery(rng)
    noise = rng.normal(size=64)
    noise /= np.linalg.norm(noise)
    weights = []
    for scale in (3.0, 1.0, 0.5, 0.3, 0.05):
        q = _unit(emb[3] + scale * noise)
        weights.append(g.gallery_estimate(q)[3])
    assert weights[0] < 0.01 and weights[-1] > 0.9
    assert weights[2] <= weights[3] <= weights[4]


def test_agreeing_evidence_is_averaged() -> None:
    emb = _unit(np.eye(4, dtype=np.float32))
    g = VisualGallery(emb, np.array([10.0, 10.0, 50.0, 50.0]), np.array([20.0, 20.0, 60.0, 60.0]))
    pred = Prediction(lat=10.5, lon=20.0, confidence=0.6, radius_km=200.0)
    q = _unit(np.array([1.0, 1.0, 0.0, 0.0]))  # similarity 0.707: weight near 0 by default
    assert g.blend(q, pred) == pred
    g2 = VisualGallery(emb, g.lats, g.lons, threshold=0.75, width=0.05)
    out = g2.blend(q, pred)
    assert out.source is Source.MODEL  # weight 0.3: the model keeps the lead ...
    assert 10.0 <= out.lat < 10.5  # ... but the tight gallery cluster pulls it in
    assert out.radius_km < pred.radius_km and out.confidence > pred.confidence


def test_gallery_validates_shapes() -> None:
    with pytest.raises(ConfigError):
        VisualGallery(np.zeros((3, 4), np.float32), np.zeros(2), np.zeros(2))
    g = VisualGallery(np.eye(3, dtype=np.float32), np.zeros(3), np.zeros(3))
    with pytest.raises(ConfigError):
        g.search(np.zeros(5, np.float32))
    empty = VisualGallery(np.zeros((0, 3), np.float32), np.zeros(0), np.zeros(0))
    assert len(empty) == 0 and empty.blend(np.ones(3, np.float32), MODEL) == MODEL


def _places(rng: np.random.Generator, n_places: int = 20, per: int = 5, noise: float = 0.35):  # type: ignore[no-untyped-def]
    centres = _unit(rng.normal(size=(n_places, 64)))
    lat0 = rng.uniform(42.0, 46.0, n_places)
    lon0 = rng.uniform(13.0, 19.0, n_places)
    emb = _unit(np.repeat(centres, per, axis=0) + noise * rng.normal(size=(n_places * per, 64)) / 8)
    lats = np.repeat(lat0, per) + rng.normal(scale=0.001, size=n_places * per)
    lons = np.repeat(lon0, per) + rng.normal(scale=0.001, size=n_places * per)
    return centres, emb, lats, lons


def test_calibration_learns_the_threshold_from_the_gallery() -> None:
    rng = np.random.default_rng(5)
    centres, emb, lats, lons = _places(rng)
    g = VisualGallery(emb, lats, lons)
    sims = emb @ emb.T
    same = np.repeat(np.arange(20), 5)
    intra = np.where((same[:, None] == same[None, :]) & ~np.eye(100, dtype=bool), sims, -1.0)
    inter = sims[same[:, None] != same[None, :]]
    # Every photo's nearest neighbour is a view of its own place: the gallery leads from
    # the weakest such match on, and never for a photo of another place.
    assert inter.max() < g.threshold <= intra.max(axis=1).min() + 1e-6
    # A new view of place 3 is placed there; an unrelated photo keeps the model's answer.
    q = _unit(centres[3] + 0.1 * rng.normal(size=64) / 8)
    pred = Prediction(lat=45.0, lon=15.5, confidence=0.3, radius_km=150.0)
    out = g.blend(q, pred)
    assert out.source is Source.NEIGHBORS
    assert float(haversine_km(out.lat, out.lon, lats[15], lons[15])) < 1.0
    assert g.blend(_unit(rng.normal(size=64)), pred) == pred


def test_library_shot_in_one_town_does_not_capture_other_photos() -> None:
    rng = np.random.default_rng(6)
    g, _ = _gallery(rng)  # 50 unrelated views, all within 2 km
    japan = Prediction(lat=35.68, lon=139.69, confidence=0.5, radius_km=300.0)
    for _ in range(20):
        assert g.blend(_unit(rng.normal(size=64)), japan) == japan


def test_small_gallery_uses_fallback_threshold() -> None:
    from geoscope_core.photos.neighbors import FALLBACK_THRESHOLD

    g = VisualGallery(np.eye(3, dtype=np.float32), np.zeros(3), np.zeros(3))
    assert g.threshold == FALLBACK_THRESHOLD == math.inf
    assert g.gallery_estimate(np.array([1.0, 0.0, 0.0], np.float32))[3] == 0.0
    assert g.blend(np.array([1.0, 0.0, 0.0], np.float32), MODEL) == MODEL
    assert (
        VisualGallery(
            np.eye(3, dtype=np.float32), np.zeros(3), np.zeros(3), threshold=0.3
        ).threshold
        == 0.3
    )


def test_a_small_library_with_a_burst_of_one_town_never_leads() -> None:
    """18 photos, 9 of them one town (seen in the camera-sample fixtures): too few to
    calibrate on, so photos unlike the library keep the model's answer."""
    rng = np.random.default_rng(8)
    town = _unit(rng.normal(size=64))
    burst = _unit(town + 0.9 * rng.normal(size=(9, 64)) / 8)
    scattered = _unit(rng.normal(size=(9, 64)))
    lats = np.concatenate([43.47 + rng.normal(scale=0.01, size=9), rng.uniform(-50, 60, 9)])
    lons = np.concatenate([11.88 + rng.normal(scale=0.01, size=9), rng.uniform(-120, 150, 9)])
    g = VisualGallery(np.concatenate([burst, scattered]), lats, lons)
    pred = Prediction(lat=13.6, lon=101.3, confidence=0.2, radius_km=8000.0)
    for q in _unit(rng.normal(size=(30, 64))):
        assert g.blend(q, pred) == pred


def test_far_apart_neighbours_are_not_averaged_into_a_place_between() -> None:
    emb = _unit(np.array([[1.0, 0.01, 0.0], [1.0, -0.01, 0.0], [0.0, 0.0, 1.0]]))
    lats, lons = np.array([43.47, -0.37, 10.0]), np.array([11.88, 36.06, 10.0])  # Italy, Kenya
    g = VisualGallery(emb, lats, lons, threshold=0.5)
    lat, lon, _, weight = g.gallery_estimate(_unit(np.array([1.0, 0.0, 0.0])))
    to_italy = float(haversine_km(lat, lon, 43.47, 11.88))
    to_kenya = float(haversine_km(lat, lon, -0.37, 36.06))
    assert min(to_italy, to_kenya) < 1.0 and weight > 0.99


def test_a_gallery_of_low_weight_moves_a_consistent_answer_little() -> None:
    emb = _unit(np.eye(4, dtype=np.float32))
    g = VisualGallery(emb, np.full(4, 45.0), np.full(4, 15.0), threshold=0.75, width=0.05)
    q = _unit(np.array([1.0, 0.6, 0.0, 0.0]))  # similarity 0.86 -> weight ~0.9
    far = _unit(np.array([1.0, 1.0, 1.0, 0.0]))  # similarity 0.58 -> weight ~0.03
    pred = Prediction(lat=46.0, lon=15.0, confidence=0.2, radius_km=300.0)
    sep = float(haversine_km(45.0, 15.0, 46.0, 15.0))
    strong, weak = g.blend(q, pred), g.blend(far, pred)
    assert float(haversine_km(strong.lat, strong.lon, 45.0, 15.0)) < 0.05 * sep
    assert float(haversine_km(weak.lat, weak.lon, 46.0, 15.0)) < 0.01 * sep
