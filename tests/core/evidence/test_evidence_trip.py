"""A camera + phone trip built from real photos: the camera's clock offset is estimated from
look-alike near-simultaneous photos, and the camera's photos are placed from the phone's.

The trip is tests/camera_phone_trip.py's (pixTrail's Rome walk): the camera's clock
``SHIFT_S`` seconds ahead, no OffsetTimeOriginal; the phone's photos with GPS and
OffsetTimeOriginal +02:00.

Nothing tells GeoScope the zone or the offset: the zone comes from the phone photos'
positions, the offset from the look-alike pairs.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.evidence.personal import EvidenceOptions, PersonalEvidence
from geoscope_core.photos.metadata import read_metadata
from tests.camera_phone_trip import build_trip

SHIFT_S = 433  # the camera clock is 7 min 13 s ahead: the right correction is -433 s


def _dist_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    from geoscope_core.geo.distance import haversine_km

    return float(haversine_km(a[0], a[1], b[0], b[1])) * 1000.0


def _build(tmp: Path) -> tuple[list[Path], list[Path], dict[Path, tuple[float, float]]]:
    trip = build_trip(tmp, SHIFT_S)
    return sorted(trip.camera.glob("*.jpg")), sorted(trip.phone.glob("*.jpg")), trip.truth


@pytest.mark.slow
def test_camera_offset_estimated_and_photos_placed_from_the_phone(tmp_path: Path) -> None:
    from geoscope_core.runtime.images import preprocess
    from geoscope_core.runtime.predictor import Predictor

    cams, phones, truth = _build(tmp_path)
    cam_meta = [read_metadata(p) for p in cams]
    phone_meta = [read_metadata(p) for p in phones]
    assert all(m.gps is None and m.utc_offset_min is None for m in cam_meta)
    assert all(m.gps is not None and m.utc_offset_min == 120 for m in phone_meta)

    predictor = Predictor.load(None, provider="cpu")
    paths = cams + phones
    pixels = np.stack([preprocess(p, predictor.preprocess) for p in paths])
    _, embs = predictor.predict_with_embeddings(pixels)
    embeddings = {p: np.asarray(e, np.float32) for p, e in zip(paths, embs, strict=True)}

    ev = PersonalEvidence(None, EvidenceOptions())
    assert ev.add_reference_photos(phone_meta) == len(phones)
    (cam_offset,) = [c for c in ev.resolve_offsets(cam_meta, embeddings) if "SONY" in c.camera]
    assert cam_offset.origin == "estimated", cam_offset
    assert cam_offset.estimate is not None and cam_offset.estimate.clear
    assert abs(cam_offset.seconds + SHIFT_S) <= 30, cam_offset

    placed = ev.place(cam_meta)
    errors = {}
    for p, pl in zip(cams, placed, strict=True):
        if pl is None or p not in truth:
            continue
        assert pl.source == "neighbors" and "your GPS photos" in pl.reason
        assert "Europe/Rome from the track position" in pl.time.zone_note
        errors[p.name] = _dist_m((pl.lat, pl.lon), truth[p])
    assert len(errors) >= 8, errors
    assert statistics.median(errors.values()) <= 100.0, errors
    # also for the camera's photos of which the phone has no look-alike
    twins = {f"BDH_10_1I_{p.stem[-4:]}.jpg" for p in phones}
    alone = [e for name, e in errors.items() if name not in twins]
    assert len(alone) >= 5 and statistics.median(alone) <= 100.0, errors

    # without the estimate (the 7 min error left in) the same photos land farther off
    ev0 = PersonalEvidence(None, EvidenceOptions(estimate_offsets=False))
    ev0.add_reference_photos(phone_meta)
    ev0.resolve_offsets(cam_meta)
    placed0 = ev0.place(cam_meta)
    errors0 = [
        _dist_m((pl.lat, pl.lon), truth[p])
        for p, pl in zip(cams, placed0, strict=True)
        if pl is not None and p in truth
    ]
    assert statistics.median(errors0) > statistics.median(errors.values())
