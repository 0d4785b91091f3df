"""What GeoScope writes is true: camera GPS is recognised in every form, no stale GPS
field survives, ExifTool finds nothing new to warn about, existing XMP gets the estimate,
and the provenance and place names match what is known."""

from __future__ import annotations

import io
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

from photos_testutil import (
    PREDICTION,
    copy_fixture,
    exiftool_dump,
    exiftool_path,
    exiftool_warnings,
    samples_dir,
)
from PIL import Image

from geoscope_core.photos import jpegedit as je
from geoscope_core.photos.metadata import read_metadata
from geoscope_core.photos.writer import write_locations
from geoscope_core.prediction import Source


def _write(tmp_path: Path, f: Path, prediction=PREDICTION, **opts):
    from geoscope_core.photos.plan import WriteOptions

    return write_locations(
        [(f, prediction)], WriteOptions(**opts), journal_dir=tmp_path / "j"
    ).results[0]


def _exiftool(*args: str) -> None:
    subprocess.run([exiftool_path(), "-q", "-overwrite_original", *args], check=True, timeout=60)


def test_xmp_only_camera_gps_is_not_overwritten(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    _exiftool("-XMP-exif:GPSLatitude=40.5 N", "-XMP-exif:GPSLongitude=3.7 W", str(f))
    meta = read_metadata(f)
    assert meta.gps is not None and not meta.gps_is_estimate
    assert abs(meta.gps[0] - 40.5) < 1e-6 and abs(meta.gps[1] + 3.7) < 1e-6
    before = f.read_bytes()
    r = _write(tmp_path, f)
    assert r.action == "skipped" and "--overwrite-gps" in r.reason
    assert f.read_bytes() == before


def test_double_and_float_camera_gps_count_as_camera_gps(tmp_path: Path) -> None:
    src = (samples_dir() / "jpg" / "Canon_40D.jpg").read_bytes()
    segments, rest = je.split_jpeg(src)
    k = next(i for i, s in enumerate(segments) if s.payload.startswith(je.EXIF_HEADER))
    tiff = segments[k].payload[len(je.EXIF_HEADER) :]
    bo = "<" if tiff[:2] == b"II" else ">"
    for typ, fmt in ((12, "3d"), (11, "3f")):  # DOUBLE, FLOAT
        gps = [
            je.TiffEntry(1, je.ASCII, 2, b"N\x00"),
            je.TiffEntry(2, typ, 3, struct.pack(bo + fmt, 45, 30, 0)),
            je.TiffEntry(3, je.ASCII, 2, b"E\x00"),
            je.TiffEntry(4, typ, 3, struct.pack(bo + fmt, 15, 0, 0)),
        ]
        segs = list(segments)
        segs[k] = je.Segment(0xE1, je.EXIF_HEADER + je.tiff_with_gps(tiff, gps))
        f = tmp_path / f"gps{typ}.jpg"
        f.write_bytes(je.join_jpeg(segs, rest))
        assert exiftool_dump([f])[f]["Composite:GPSLatitude"] == 45.5  # ExifTool sees it
        assert read_metadata(f).gps == (45.5, 15.0)
        r = _write(tmp_path, f)
        assert r.action == "skipped" and "camera GPS" in r.reason


def test_overwriting_gps_replaces_the_whole_block(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "gps" / "DSCN0010.jpg", tmp_path)
    _exiftool("-GPSStatus#=V", "-GPSSatellites=04", "-GPSAltitude=312", str(f))
    before = exiftool_dump([f])[f]
    assert "GPS:GPSTimeStamp" in before and before["GPS:GPSStatus"] == "V"
    assert _write(tmp_path, f, overwrite_gps=True).action == "written"
    after = exiftool_dump([f])[f]
    stale = {"GPS:GPSStatus", "GPS:GPSSatellites", "GPS:GPSAltitude", "GPS:GPSTimeStamp",
             "GPS:GPSDateStamp"}  # fmt: skip
    assert not stale & set(after), stale & set(after)
    assert after["GPS:GPSVersionID"] == "2 3 0 0"
    assert after["GPS:GPSHPositioningError"] == 25000
    assert after["GPS:GPSProcessingMethod"] == "MANUAL"


def test_tiff_overwrite_replaces_the_block_and_validates(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "tiff" / "Arbitro.tiff", tmp_path)
    _exiftool("-GPSLatitude=10", "-GPSLatitudeRef=N", "-GPSLongitude=10", "-GPSLongitudeRef=E",
              "-GPSAltitude=5", "-GPSProcessingMethod=GPS", str(f))  # fmt: skip
    warnings_before = exiftool_warnings([f])[f]
    assert _write(tmp_path, f, overwrite_gps=True).action == "written"
    after = exiftool_dump([f])[f]
    assert "GPS:GPSAltitude" not in after and after["GPS:GPSProcessingMethod"] == "MANUAL"
    assert exiftool_warnings([f])[f] <= warnings_before


def test_photo_without_exif_gets_the_ifd0_tags_exif_requires(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 200, 30)).save(buf, "JPEG", dpi=(300, 300))
    f = tmp_path / "plain.jpg"
    f.write_bytes(buf.getvalue())
    assert exiftool_warnings([f])[f] == set()
    assert _write(tmp_path, f).action == "written"
    assert exiftool_warnings([f])[f] == set()
    d = exiftool_dump([f])[f]
    assert d["IFD0:XResolution"] == 300 and d["IFD0:ResolutionUnit"] == 2


def test_existing_xmp_gets_the_estimate_and_place_names_losslessly(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_DIGITAL_IXUS_400.jpg", tmp_path)
    packet_before = subprocess.run(
        [exiftool_path(), "-b", "-XMP", str(f)], capture_output=True, check=True
    ).stdout
    assert packet_before
    assert _write(tmp_path, f).action == "written"
    d = exiftool_dump([f])[f]
    assert d["XMP-geoscope:Estimate"] in (True, "True")
    assert d["XMP-geoscope:Source"] == "model"
    assert d["XMP-photoshop:City"] == "Reykjavík" and d["XMP-photoshop:Country"] == "Iceland"
    assert d["XMP-iptcCore:CountryCode"] == "IS"
    packet_after = subprocess.run(
        [exiftool_path(), "-b", "-XMP", str(f)], capture_output=True, check=True
    ).stdout
    end = packet_before.index(b"</rdf:RDF>")
    assert packet_after.startswith(packet_before[:end])  # every existing byte kept


def test_user_placed_location_keeps_the_users_radius_and_threshold(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    placed = replace(PREDICTION, source=Source.USER, radius_km=0.3, confidence=0.0, model="")
    r = _write(tmp_path, f, placed, min_confidence=0.5)
    assert r.action == "written", r.reason  # the user's choice is not a model's guess
    d = exiftool_dump([f])[f]
    assert d["XMP-geoscope:Source"] == "user"
    assert d["GPS:GPSHPositioningError"] == 300
    assert "from user" in d["GPS:GPSAreaInformation"]
    assert read_metadata(f).gps_is_estimate


def test_every_non_camera_source_is_marked_as_an_estimate(tmp_path: Path) -> None:
    for source in (Source.MODEL, Source.NEIGHBORS, Source.TRACK, Source.USER):
        f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path, f"{source.value}.jpg")
        assert _write(tmp_path, f, replace(PREDICTION, source=source)).action == "written"
        meta = read_metadata(f)
        assert meta.gps is not None and meta.gps_is_estimate, source
        assert exiftool_dump([f])[f]["XMP-geoscope:Source"] == source.value


def test_a_coarse_guess_names_only_the_country(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    coarse = replace(PREDICTION, radius_km=800.0)
    assert _write(tmp_path, f, coarse).action == "written"
    d = exiftool_dump([f])[f]
    assert d["XMP-photoshop:Country"] == "Iceland"
    assert "XMP-photoshop:City" not in d and "XMP-photoshop:State" not in d
    assert "IPTC:City" not in d and "IPTC:Province-State" not in d
