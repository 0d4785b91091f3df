"""A placement by time is written like a camera fix (GPS date, time and altitude, as
ExifTool's own ``-geotag`` writes them) yet marked with its source, so it never passes
for the camera's GPS; a model's guess gets no time or altitude; undo is byte-exact."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from photos_testutil import PREDICTION, exiftool_path, exiftool_warnings

from geoscope_core.evidence.personal import EvidenceOptions, PersonalEvidence
from geoscope_core.photos.metadata import PhotoMetadata, read_metadata
from geoscope_core.photos.undo import undo
from geoscope_core.photos.writer import write_locations
from geoscope_core.prediction import Source
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.pipeline import Scanner
from geoscope_core.scan.types import ScanOptions
from geoscope_core.settings import data_dir

TRIP = "exiv2_furnacecreek_2008-05-08"  # Death Valley: below sea level (GPSAltitudeRef 1)


def _trip() -> tuple[Path, list[dict[str, str]]]:
    root = data_dir() / "tracks"
    expected = root / "expected" / f"{TRIP}.csv"
    if not expected.is_file():
        raise FileNotFoundError(f"track test data missing: {expected} (set $GEOSCOPE_DATA)")
    with expected.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["tz_role"] == "primary"]
    return root, rows


def _gps(paths: list[Path]) -> dict[str, dict]:
    out = subprocess.run(
        [exiftool_path(), "-j", "-n", "-GPS:all", "-XMP-geoscope:all", *map(str, paths)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return {Path(d["SourceFile"]).name: d for d in json.loads(out)}


def _stripped_copies(root: Path, rows: list[dict[str, str]], dest: Path) -> list[Path]:
    """The trip's photos with their own GPS removed, as ExifTool's reference was made."""
    dest.mkdir()
    files = [dest / r["file"] for r in rows]
    for r, f in zip(rows, files, strict=True):
        shutil.copyfile(root / "trips" / TRIP / r["file"], f)
        f.chmod(0o644)
    subprocess.run(
        [exiftool_path(), "-q", "-overwrite_original", "-gps:all=", "-xmp-exif:gps*=",
         *map(str, files)],
        check=True, timeout=60,
    )  # fmt: skip
    assert all(read_metadata(f).gps is None for f in files)
    return files


def test_track_placements_are_written_as_exiftool_geotags_them(
    zs_bundle: Path, tmp_path: Path
) -> None:
    root, rows = _trip()
    files = _stripped_copies(root, rows, tmp_path / "p")
    before = {f: f.read_bytes() for f in files}
    warnings_before = exiftool_warnings(files)
    evidence = EvidenceOptions(track_files=(root / rows[0]["track"],), tz=rows[0]["tz_arg"])
    scanner = Scanner(Predictor.load(zs_bundle), ScanOptions(use_cache=False, evidence=evidence))
    results = list(scanner.scan(files))
    assert [r.status for r in results] == ["track"] * len(files)
    report = write_locations(
        [(r.path, r.prediction) for r in results if r.prediction], journal_dir=tmp_path / "j"
    )
    assert [r.action for r in report.results] == ["written"] * len(files)

    got = _gps(files)
    for r in rows:  # ExifTool's own -geotag answers for these photos and this track
        g = got[r["file"]]
        lat = g["GPSLatitude"] * (-1 if g["GPSLatitudeRef"] == "S" else 1)
        lon = g["GPSLongitude"] * (-1 if g["GPSLongitudeRef"] == "W" else 1)
        assert (lat, lon) == pytest.approx((float(r["lat"]), float(r["lon"])), abs=1e-6)
        assert g["GPSDateStamp"] == r["gps_date"] and g["GPSTimeStamp"] == r["gps_time"]
        assert g["GPSAltitude"] == pytest.approx(abs(float(r["alt"])), abs=1e-3)
        assert g["GPSAltitudeRef"] == (1 if float(r["alt"]) < 0 else 0)
        # ... and still marked with its source: never the camera's own fix
        assert g["GPSProcessingMethod"] == "MANUAL"
        assert "GeoScope estimate" in g["GPSAreaInformation"]
        assert "from track" in g["GPSAreaInformation"]
        assert g["Source"] == "track" and g["Estimate"] in (True, "True")
    for f in files:
        meta = read_metadata(f)
        assert meta.gps_is_estimate and meta.gps_utc is None and meta.gps_altitude_m is None
    warnings_after = exiftool_warnings(files)
    assert all(warnings_after[f] <= warnings_before[f] for f in files), warnings_after

    assert report.journal is not None
    assert {u.action for u in undo(report.journal)} == {"restored"}
    assert all(f.read_bytes() == before[f] for f in files)


def test_a_model_estimate_or_a_users_place_gets_no_time_or_altitude(tmp_path: Path) -> None:
    root, rows = _trip()
    a, b = _stripped_copies(root, rows[:2], tmp_path / "p")
    # even carrying a time and altitude (as a bug might), neither is a fix's
    model = replace(PREDICTION, placed_utc="2008-05-09T01:54:28Z", altitude_m=-14.4)
    user = replace(model, source=Source.USER)
    report = write_locations([(a, model), (b, user)], journal_dir=tmp_path / "j")
    assert [r.action for r in report.results] == ["written", "written"]
    for g in _gps([a, b]).values():
        assert not {"GPSDateStamp", "GPSTimeStamp", "GPSAltitude", "GPSAltitudeRef"} & set(g)
        assert g["GPSLatitude"] == pytest.approx(PREDICTION.lat, abs=1e-6)


def test_placements_on_other_devices_photos_carry_their_altitude(tmp_path: Path) -> None:
    """A phone's GPS photos are a track: a camera photo between two of them is placed
    with the altitude interpolated between theirs, and its UTC time."""
    from datetime import datetime

    phone = [
        PhotoMetadata(tmp_path / "p1.jpg", (46.0, 7.0), taken_at=datetime(2024, 7, 1, 12, 0),
                      camera="phone", utc_offset_min=0, gps_altitude_m=1000.0),
        PhotoMetadata(tmp_path / "p2.jpg", (46.01, 7.0), taken_at=datetime(2024, 7, 1, 12, 10),
                      camera="phone", utc_offset_min=0, gps_altitude_m=1600.0),
    ]  # fmt: skip
    cam = PhotoMetadata(
        tmp_path / "c.jpg", taken_at=datetime(2024, 7, 1, 12, 5), camera="cam", utc_offset_min=0
    )
    ev = PersonalEvidence(None, EvidenceOptions(estimate_offsets=False))
    assert ev.add_reference_photos(phone) == 2
    (placed,) = ev.place([cam])
    assert placed is not None and placed.source == "neighbors"
    assert placed.altitude_m == pytest.approx(1300.0)
    assert placed.lat == pytest.approx(46.005, abs=1e-6)
