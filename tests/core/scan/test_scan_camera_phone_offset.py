"""The real scan path on a camera + phone trip built from real photos (see
tests/camera_phone_trip.py): the camera's clock offset is estimated within 60 s of the
truth, its photos placed from the phone's, and one look-alike pair applies no offset."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from geoscope_core.evidence.personal import CameraOffset, EvidenceOptions
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.pipeline import Scanner
from geoscope_core.scan.types import ScanOptions, ScanResult
from tests.camera_phone_trip import CAMERA_MODEL, build_trip


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load(None, provider="cpu")


def _scan(
    predictor: Predictor, root: Path, shift_s: int, phones: int | None = None
) -> tuple[CameraOffset, list[ScanResult], dict[Path, tuple[float, float]]]:
    trip = build_trip(root, shift_s, phones)
    opts = ScanOptions(
        use_cache=False, references=(trip.phone,), evidence=EvidenceOptions(tz="+02:00")
    )
    scanner = Scanner(predictor, opts)
    results = list(scanner.scan(sorted(trip.camera.glob("*.jpg"))))
    assert scanner.evidence is not None
    (cam,) = [c for c in scanner.evidence.cameras.values() if CAMERA_MODEL in c.camera]
    return cam, results, trip.truth


def _median_error_m(results: list[ScanResult], truth: dict[Path, tuple[float, float]]) -> float:
    errs = [
        float(haversine_km(r.prediction.lat, r.prediction.lon, *truth[r.path])) * 1000.0
        for r in results
        if r.prediction is not None and r.path in truth
    ]
    assert len(errs) == len(truth)
    return statistics.median(errs)


@pytest.mark.slow
@pytest.mark.parametrize("shift_s", [23 * 60 + 17, -(65 * 60)])
def test_a_wrong_camera_clock_is_estimated_within_a_minute(
    predictor: Predictor, tmp_path: Path, shift_s: int
) -> None:
    cam, results, truth = _scan(predictor, tmp_path, shift_s)
    assert cam.origin == "estimated" and cam.estimate is not None, cam
    assert cam.estimate.method == "photos" and cam.estimate.clear, cam.estimate
    assert abs(cam.seconds - (-shift_s)) <= 60.0, cam
    # placed from the phone's photos, at most a street away
    assert all(r.status == "neighbors" for r in results if r.path in truth), results
    assert _median_error_m(results, truth) <= 100.0


@pytest.mark.slow
def test_a_right_camera_clock_gets_no_offset(predictor: Predictor, tmp_path: Path) -> None:
    cam, results, truth = _scan(predictor, tmp_path, 0)
    # the phone shot 0-6 s after the camera: what is estimated is that lag, nothing more
    assert abs(cam.seconds) <= 6.0, cam
    assert _median_error_m(results, truth) <= 100.0


@pytest.mark.slow
def test_one_look_alike_pair_applies_no_offset(predictor: Predictor, tmp_path: Path) -> None:
    cam, results, _ = _scan(predictor, tmp_path, 23 * 60 + 17, phones=1)
    assert cam.origin == "none" and cam.seconds == 0.0, cam
    assert cam.estimate is not None and not cam.estimate.clear, cam.estimate
    assert all("clock" not in r.reason for r in results), [r.reason for r in results]
