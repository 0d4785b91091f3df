"""Camera raw files (NEF, CR2/CR3, ARW, DNG, RAF, ORF, RW2) are photos: found by the
walk, decoded from the JPEG preview the camera embedded, their EXIF read (capture time,
camera GPS) so tracks place them, and written only through an XMP sidecar
``photo.dng.xmp`` (darktable's and digiKam's name), never into the raw file itself.

The DNGs are built by ``tests.rawfiles`` (no raw sample ships with the shared data)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from photos_testutil import PREDICTION, exiftool_tags

from geoscope_core.evidence.personal import EvidenceOptions
from geoscope_core.formats import WriteMode, format_of
from geoscope_core.photos.metadata import read_metadata, sidecar_path
from geoscope_core.photos.plan import WriteOptions
from geoscope_core.photos.undo import undo
from geoscope_core.photos.walk import iter_photos
from geoscope_core.photos.writer import write_locations
from geoscope_core.prediction import Prediction, Source
from geoscope_core.runtime.images import load_image
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.pipeline import Scanner
from geoscope_core.scan.types import ScanOptions, ScanStatus
from tests.bundles import RED, solid_image
from tests.rawfiles import RAW_GREY, write_dng, write_raf

RAW_NAMES = ("a.nef", "b.NRW", "c.cr2", "d.CR3", "e.arw", "f.dng", "g.raf", "h.orf", "i.rw2")


def test_raw_suffixes_are_photos_written_by_sidecar(tmp_path: Path) -> None:
    for name in RAW_NAMES:
        fmt = format_of(Path(name))
        assert fmt is not None and fmt.raw and fmt.write is WriteMode.SIDECAR, name
        (tmp_path / name).write_bytes(b"")
    assert format_of(Path("x.tif")) is not None and not format_of(Path("x.tif")).raw
    assert [p.name for p in iter_photos(tmp_path)] == sorted(RAW_NAMES, key=str)


def test_a_dng_is_decoded_from_its_preview_with_the_raw_orientation(tmp_path: Path) -> None:
    halves = np.zeros((64, 64, 3), np.uint8)
    halves[:32] = (210, 40, 40)  # top red
    halves[32:] = (40, 40, 210)  # bottom blue
    upright = write_dng(tmp_path / "up.dng", halves, preview_size=(64, 64))
    px = load_image(upright, 32)
    assert tuple(px[2, 16]) != RAW_GREY  # the preview, not the sensor strip
    assert px[2, 16, 0] > 150 > px[29, 16, 0]  # red on top, blue below
    turned = write_dng(tmp_path / "cw.dng", halves, preview_size=(64, 64), orientation=6)
    px = load_image(turned, 32)  # rotated 90° clockwise: blue left, red right
    assert px[16, 2, 2] > 150 > px[16, 29, 2] and px[16, 29, 0] > 150


def test_a_dng_has_its_capture_time_and_camera_gps_read(tmp_path: Path) -> None:
    f = write_dng(tmp_path / "a.dng", RED, taken_at="2024:05:01 10:05:30", gps=(45.815, 15.982))
    meta = read_metadata(f)
    assert meta.taken_at == datetime(2024, 5, 1, 10, 5, 30)
    assert meta.gps == pytest.approx((45.815, 15.982), abs=1e-6) and not meta.gps_is_estimate
    assert meta.camera == "Nikon Z 6"


def test_a_raf_exifread_cannot_parse_is_read_through_exiv2(tmp_path: Path) -> None:
    f = write_raf(tmp_path / "DSCF0001.RAF", RED, "2024:05:01 10:05:30", (45.815, 15.982))
    assert exiftool_tags(f, "-FileType")["FileType"] == "RAF"
    meta = read_metadata(f)
    assert meta.taken_at == datetime(2024, 5, 1, 10, 5, 30) and meta.camera == "FUJIFILM X-T3"
    assert meta.gps == pytest.approx((45.815, 15.982), abs=1e-6)
    assert [int(v) for v in load_image(f, 16)[8, 8]] == pytest.approx([210, 40, 40], abs=6)


def test_a_dng_gets_a_sidecar_and_is_never_written(tmp_path: Path) -> None:
    f = write_dng(tmp_path / "a.dng", RED)
    named = write_dng(tmp_path / "gps.dng", RED, gps=(45.815, 15.982))
    before = {p: p.read_bytes() for p in (f, named)}
    own = Prediction(45.815, 15.982, 1.0, 0.05, source=Source.EXIF)
    report = write_locations(
        [(f, PREDICTION), (named, own)], WriteOptions(fill_names=True), journal_dir=tmp_path / "j"
    )
    assert [(r.action, r.target) for r in report.results] == [
        ("sidecar", tmp_path / "a.dng.xmp"),
        ("sidecar", tmp_path / "gps.dng.xmp"),
    ]
    assert report.results[0].reason == "DNG files are not modified in place"
    assert {p: p.read_bytes() for p in before} == before
    xmp = exiftool_tags(sidecar_path(f), "-XMP:GPSLatitude", "-XMP:GPSLongitude", "-XMP:City")
    assert xmp == {"GPSLatitude": 64.14, "GPSLongitude": -21.93, "City": "Reykjavík"}
    names = exiftool_tags(sidecar_path(named), "-XMP:City", "-XMP:Country", "-XMP:GPSLatitude")
    assert names == {"City": "Zagreb", "Country": "Croatia"}  # names only: no GPS
    assert report.journal is not None
    undo(report.journal)
    assert not sidecar_path(f).exists() and not sidecar_path(named).exists()


# a 20-minute walk in Rome, one fix a minute, 2024-05-01 08:00Z .. 08:20Z (10:00 local)
FIXES = [(f"2024-05-01T08:{m:02d}:00Z", 41.9000 + m * 0.0005, 12.4922) for m in range(21)]


def test_a_track_places_a_raw_file_and_the_model_reads_its_preview(
    zs_bundle: Path, tmp_path: Path
) -> None:
    pts = "".join(f'<trkpt lat="{la}" lon="{lo}"><time>{t}</time></trkpt>' for t, la, lo in FIXES)
    track = tmp_path / "walk.gpx"
    track.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        f'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{pts}</trkseg></trk></gpx>'
    )
    on_track = write_dng(
        tmp_path / "p" / "walk.dng", RED, taken_at="2024:05:01 10:05:30", offset="+02:00"
    )
    later = write_dng(
        tmp_path / "p" / "late.nef",
        solid_image((40, 200, 60)),
        taken_at="2024:05:01 12:30:00",
        offset="+02:00",
    )
    opts = ScanOptions(use_cache=False, evidence=EvidenceOptions(track_files=(track,)))
    by = {r.path: r for r in Scanner(Predictor.load(zs_bundle), opts).scan([on_track, later])}
    placed = by[on_track]
    assert placed.status is ScanStatus.TRACK and placed.prediction is not None
    assert placed.prediction.lat == pytest.approx(41.9000 + 5.5 * 0.0005, abs=1e-7)
    assert by[later].status is ScanStatus.PREDICTED, by[later].error  # decoded: its preview
