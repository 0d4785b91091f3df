"""A coarse guess is written no finer than its radius warrants, its radius kept in
GPSHPositioningError and the journal; a placement by time is written whole."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from photos_testutil import PREDICTION, copy_fixture, exiftool_path, samples_dir

from geoscope_core.photos.undo import undo
from geoscope_core.photos.writer import write_locations
from geoscope_core.prediction import Source

#: a continent-wide model guess off Lima, as a weak model gives
COARSE = replace(
    PREDICTION,
    lat=-13.3456789,
    lon=-77.9123456,
    radius_km=2164.0,
    confidence=0.19,
    city="",
    admin1="",
    country="Peru",
    country_code="PE",
)


def _gps(path: Path) -> dict:
    out = subprocess.run(
        [exiftool_path(), "-j", "-n", "-GPS:all", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return json.loads(out)[0]


def test_a_coarse_guess_is_written_in_whole_degrees_with_its_radius(tmp_path: Path) -> None:
    photo = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    before = photo.read_bytes()
    report = write_locations([(photo, COARSE)], journal_dir=tmp_path / "j")
    assert [r.action for r in report.results] == ["written"], report.results
    g = _gps(photo)
    assert (g["GPSLatitude"], g["GPSLatitudeRef"]) == (13.0, "S")
    assert (g["GPSLongitude"], g["GPSLongitudeRef"]) == (78.0, "W")
    assert g["GPSHPositioningError"] == pytest.approx(2_164_000)
    assert report.journal is not None
    assert {u.action for u in undo(report.journal)} == {"restored"}
    assert photo.read_bytes() == before


def test_a_track_placement_is_written_whole(tmp_path: Path) -> None:
    photo = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    fix = replace(COARSE, radius_km=0.02, source=Source.TRACK, lat=36.44857533, lon=-116.8552449)
    report = write_locations([(photo, fix)], journal_dir=tmp_path / "j")
    assert [r.action for r in report.results] == ["written"], report.results
    g = _gps(photo)
    assert g["GPSLatitude"] == pytest.approx(36.44857533, abs=1e-6)
    assert g["GPSLongitude"] == pytest.approx(116.8552449, abs=1e-6)
