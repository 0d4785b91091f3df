"""Writing locations into real camera files loses nothing, and undo restores them byte for byte."""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from pathlib import Path

import pytest
from photos_testutil import (
    PREDICTION,
    VOLATILE_KEYS,
    after_sos,
    copy_fixture,
    exifread_dump,
    exiftool_dump,
    exiftool_warnings,
    pixels,
    samples_dir,
)

from geoscope_core.errors import ConfigError
from geoscope_core.photos.journal import read_journal
from geoscope_core.photos.metadata import read_metadata, sidecar_path
from geoscope_core.photos.plan import SidecarPolicy, WriteOptions
from geoscope_core.photos.undo import undo
from geoscope_core.photos.writer import write_locations
from geoscope_core.prediction import Prediction, Source

#: Tags that may change because GeoScope added IPTC records (a digest of them).
IPTC_DIGESTS = {"File:CurrentIPTCDigest", "Photoshop:IPTCDigest"}
#: Positions of TIFF image data; exiv2 may move the strips (their bytes are compared as pixels).
TIFF_POSITIONS = {"IFD0:StripOffsets", "IFD0:TileOffsets"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def writable_fixtures() -> list[Path]:
    """Every JPEG/TIFF fixture that has no GPS yet (so GeoScope may write it)."""
    out = []
    for p in sorted(samples_dir().rglob("*")):
        if p.suffix.lower() not in {".jpg", ".jpeg", ".tif", ".tiff"} or not p.is_file():
            continue
        try:
            meta = read_metadata(p)
        except Exception:  # broken fixtures are covered by test_photos_badinput
            continue
        if meta.gps is None:
            out.append(p)
    return out


def copies(tmp_path: Path, sources: list[Path]) -> list[Path]:
    folder = tmp_path / "photos"
    folder.mkdir()
    return [copy_fixture(p, folder, f"{i:03d}_{p.name}") for i, p in enumerate(sources)]


def assert_gps_close(lat: float, lon: float) -> None:
    assert math.isclose(lat, PREDICTION.lat, abs_tol=1e-6), lat
    assert math.isclose(lon, PREDICTION.lon, abs_tol=1e-6), lon


@pytest.mark.slow
def test_every_writable_fixture_keeps_all_tags_and_pixels(tmp_path: Path) -> None:
    sources = writable_fixtures()
    assert len(sources) >= 60, "the fixture set shrank: expected ~70 JPEG/TIFF files"
    files = copies(tmp_path, sources)
    before_tool = exiftool_dump(files)
    before_bytes = {f: f.read_bytes() for f in files}
    before_exifread = {f: exifread_dump(f) for f in files}
    before_warnings = exiftool_warnings(files)

    report = write_locations([(f, PREDICTION) for f in files], journal_dir=tmp_path / "j")
    actions = {r.path: r for r in report.results}
    written = [f for f in files if actions[f].action == "written"]
    sidecars = [f for f in files if actions[f].action == "sidecar"]
    assert not [r for r in report.results if r.action not in ("written", "sidecar")], [
        (r.path.name, r.action, r.reason) for r in report.results
    ]
    # Most files are modified in place; the rest are the ones whose maker notes point
    # outside their own data (exifread reads different garbage once the block grows).
    assert len(written) >= len(files) - 8, [(f.name, actions[f].reason) for f in sidecars]

    after_tool = exiftool_dump(files)
    # ExifTool's validation finds nothing wrong that was not wrong before.
    after_warnings = exiftool_warnings(files)
    new_warnings = {f.name: after_warnings[f] - before_warnings[f] for f in files}
    assert not {k: v for k, v in new_warnings.items() if v}, new_warnings
    for f in written:
        b, a = before_tool[f], after_tool[f]
        is_tiff = f.suffix.lower() in {".tif", ".tiff"}
        for key, value in b.items():
            if key in VOLATILE_KEYS or key.startswith(("System:", "Composite:")):
                continue
            if key.startswith(("GPS:", "XMP-exif:GPS")):  # the GPS block is replaced whole
                continue
            if key == "XMP-x:XMPToolkit":  # names the serialiser of the merged packet
                continue
            if key in IPTC_DIGESTS or (is_tiff and key in TIFF_POSITIONS):
                continue
            if key == "ExifTool:Warning":
                assert a.get(key) in (None, value), (f.name, key, value, a.get(key))
                continue
            assert a.get(key) == value, (f.name, key, value, a.get(key))
        assert "ExifTool:Warning" not in a or a["ExifTool:Warning"] == b.get("ExifTool:Warning")
        # The independent reader sees the new location, marked as an estimate.
        assert_gps_close(a["Composite:GPSLatitude"], a["Composite:GPSLongitude"])
        assert str(a["GPS:GPSAreaInformation"]).startswith("GeoScope estimate")
        assert a["GPS:GPSProcessingMethod"] == "MANUAL"  # GPS/CELLID/WLAN/MANUAL only
        assert a["XMP-geoscope:Estimate"] in (True, "True")
        assert a["GPS:GPSMapDatum"] == "WGS-84"
        if "IPTC:City" in a and "IPTC:City" not in b:
            assert a["IPTC:City"] == "Reykjavík"
        # exifread: every tag it read before is unchanged; the GPS reads back.
        new_tags = exifread_dump(f)
        for key, value in before_exifread[f].items():
            if key.startswith("GPS ") or key == "Image GPSInfo":
                continue
            if is_tiff and key in {
                "Image StripOffsets",
                "Image TileOffsets",
                "Image IPTC/NAA",
                "Image ApplicationNotes",
            }:  # XMP: compared by ExifTool above
                continue
            assert new_tags.get(key) == value, (f.name, key)
        meta = read_metadata(f)
        assert meta.gps is not None and meta.gps_is_estimate
        assert_gps_close(*meta.gps)
        # Image data: byte-identical compressed data for JPEG, identical pixels for TIFF.
        if is_tiff:
            assert pixels(f) == pixels(before_bytes[f]), f.name
        else:
            assert after_sos(f.read_bytes()) == after_sos(before_bytes[f]), f.name
    for f in sidecars:
        assert f.read_bytes() == before_bytes[f], f"{f.name} changed although it got a sidecar"
        meta = read_metadata(f)
        assert meta.gps is not None and meta.gps_is_estimate
        assert_gps_close(*meta.gps)

    # Undo restores every original byte for byte and removes the sidecars.
    assert report.journal is not None
    results = undo(report.journal)
    assert {r.action for r in results} <= {"restored", "removed-sidecar"}, [
        (r.path.name, r.action, r.reason) for r in results if r.action not in ("restored",)
    ]
    for f in files:
        assert f.read_bytes() == before_bytes[f], f.name
        assert not sidecar_path(f).exists()


def test_written_jpeg_pixels_identical_and_xmp_marks_estimate(tmp_path: Path) -> None:
    src = samples_dir() / "jpg" / "Canon_40D.jpg"
    f = copy_fixture(src, tmp_path)
    before = pixels(f)
    report = write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j")
    assert report.results[0].action == "written"
    assert pixels(f) == before
    d = exiftool_dump([f])[f]
    assert d["XMP-photoshop:City"] == "Reykjavík"
    assert d["XMP-photoshop:Country"] == "Iceland"
    assert d["XMP-iptcCore:CountryCode"] == "IS"
    assert d["IPTC:Country-PrimaryLocationCode"] == "ISL"
    assert d["IPTC:Province-State"] == "Capital Region"
    assert math.isclose(float(d["XMP-exif:GPSLatitude"]), PREDICTION.lat, abs_tol=1e-6)
    assert str(d["XMP-geoscope:Estimate"]).lower() == "true"
    assert str(d["XMP-geoscope:Model"]) == PREDICTION.model
    assert d["GPS:GPSHPositioningError"] == 25000


def test_camera_gps_is_never_replaced_unless_asked(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "gps" / "DSCN0010.jpg", tmp_path)
    original = f.read_bytes()
    camera = read_metadata(f).gps
    report = write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j")
    assert report.results[0].action == "skipped"
    assert "camera GPS" in report.results[0].reason
    assert f.read_bytes() == original and report.journal is None

    report = write_locations(
        [(f, PREDICTION)], WriteOptions(overwrite_gps=True), journal_dir=tmp_path / "j"
    )
    assert report.results[0].action == "written", report.results[0].reason
    meta = read_metadata(f)
    assert meta.gps_is_estimate
    assert_gps_close(*meta.gps)
    entry = read_journal(report.journal).entries[0]
    assert entry.old["Exif.GPSInfo.GPSLatitudeRef"] == "N"
    assert "Exif.GPSInfo.GPSLatitude" in entry.old
    # The camera's other GPS fields (time stamp, altitude) would describe another fix:
    # the whole block is replaced.
    d = exiftool_dump([f])[f]
    assert "GPS:GPSDateStamp" not in d and "GPS:GPSAltitude" not in d
    assert d["GPS:GPSVersionID"] == "2 3 0 0"
    assert after_sos(f.read_bytes()) == after_sos(original)
    undo(report.journal)
    assert f.read_bytes() == original
    assert read_metadata(f).gps == camera


def test_exif_sourced_prediction_is_skipped(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    pred = Prediction(lat=1.0, lon=2.0, confidence=1.0, radius_km=0.01, source=Source.EXIF)
    report = write_locations([(f, pred)], journal_dir=tmp_path / "j")
    assert report.results[0].action == "skipped"


def test_dry_run_touches_nothing(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    h = copy_fixture(samples_dir() / "heic" / "samplefilehub.heif", tmp_path)
    st = f.stat()
    report = write_locations(
        [(f, PREDICTION), (h, PREDICTION)], WriteOptions(dry_run=True), journal_dir=tmp_path / "j"
    )
    assert [r.action for r in report.results] == ["would-write", "would-write"]
    assert report.results[1].target == sidecar_path(h)
    assert f.stat().st_mtime_ns == st.st_mtime_ns and sha(f) == sha(f)
    assert not sidecar_path(h).exists() and not (tmp_path / "j").exists()
    assert report.journal is None


def test_min_confidence_skips_uncertain(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    original = f.read_bytes()
    report = write_locations(
        [(f, PREDICTION)], WriteOptions(min_confidence=0.5), journal_dir=tmp_path / "j"
    )
    r = report.results[0]
    assert r.action == "skipped" and "confidence 0.42" in r.reason
    assert f.read_bytes() == original


def test_options_validated() -> None:
    with pytest.raises(ConfigError):
        WriteOptions(min_confidence=1.5)
    with pytest.raises(ConfigError):
        WriteOptions(sidecar="sometimes")  # type: ignore[arg-type]
    assert WriteOptions(sidecar="never").sidecar is SidecarPolicy.NEVER  # type: ignore[arg-type]


def test_heic_gets_sidecar_and_never_policy_skips(tmp_path: Path) -> None:
    h = copy_fixture(samples_dir() / "heic" / "mobile" / "iphone_13_pro_max.HEIC", tmp_path)
    original = h.read_bytes()
    report = write_locations(
        [(h, PREDICTION)], WriteOptions(sidecar=SidecarPolicy.NEVER), journal_dir=tmp_path / "j"
    )
    assert report.results[0].action == "skipped" and "sidecar" in report.results[0].reason
    report = write_locations([(h, PREDICTION)], journal_dir=tmp_path / "j")
    r = report.results[0]
    assert r.action == "sidecar" and r.target == tmp_path / "iphone_13_pro_max.HEIC.xmp"
    assert h.read_bytes() == original
    d = exiftool_dump([r.target])[r.target]
    assert math.isclose(d["XMP-exif:GPSLatitude"], PREDICTION.lat, abs_tol=1e-6)
    assert math.isclose(d["XMP-exif:GPSLongitude"], PREDICTION.lon, abs_tol=1e-6)
    assert d["XMP-photoshop:City"] == "Reykjavík"
    meta = read_metadata(h)
    assert meta.gps_is_estimate and meta.gps is not None
    assert_gps_close(*meta.gps)
    undo(report.journal)
    assert not r.target.exists()


def test_existing_sidecar_updated_keeping_its_content(tmp_path: Path) -> None:
    h = copy_fixture(samples_dir() / "heic" / "samplefilehub.heif", tmp_path)
    sc = sidecar_path(h)
    sc.write_text(
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:darktable="http://darktable.sf.net/" xmp:Rating="4" darktable:xmp_version="5">'
        '<dc:subject xmlns:dc="http://purl.org/dc/elements/1.1/"><rdf:Bag><rdf:li>holiday</rdf:li>'
        "</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>',
        encoding="utf-8",
    )
    original = sc.read_bytes()
    report = write_locations([(h, PREDICTION)], journal_dir=tmp_path / "j")
    assert report.results[0].action == "sidecar"
    d = exiftool_dump([sc])[sc]
    assert d["XMP-xmp:Rating"] == 4
    assert d["XMP-darktable:Xmp_version"] == 5
    assert d["XMP-dc:Subject"] == "holiday"
    assert math.isclose(d["XMP-exif:GPSLatitude"], PREDICTION.lat, abs_tol=1e-6)
    undo(report.journal)
    assert sc.read_bytes() == original


def test_sidecar_always_leaves_jpeg_untouched(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Nikon_D70.jpg", tmp_path)
    original = f.read_bytes()
    report = write_locations(
        [(f, PREDICTION)], WriteOptions(sidecar=SidecarPolicy.ALWAYS), journal_dir=tmp_path / "j"
    )
    assert report.results[0].action == "sidecar"
    assert f.read_bytes() == original
    assert read_metadata(f).gps_is_estimate


def test_permissions_and_mtime_policy(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Pentax_K10D.jpg", tmp_path)
    f.chmod(0o640)
    os.utime(f, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    report = write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j")
    assert report.results[0].action == "written"
    st = f.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_mtime_ns == 1_500_000_000_000_000_000

    g = copy_fixture(samples_dir() / "jpg" / "Nikon_D70.jpg", tmp_path)
    os.utime(g, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    write_locations([(g, PREDICTION)], WriteOptions(keep_mtime=False), journal_dir=tmp_path / "j")
    assert g.stat().st_mtime_ns > 1_500_000_000_000_000_000


def test_undo_refuses_files_changed_since(tmp_path: Path) -> None:
    a = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    b = copy_fixture(samples_dir() / "jpg" / "Nikon_D70.jpg", tmp_path)
    orig_a, orig_b = a.read_bytes(), b.read_bytes()
    os.utime(a, ns=(1_400_000_000_000_000_000, 1_400_000_000_000_000_000))
    report = write_locations([(a, PREDICTION), (b, PREDICTION)], journal_dir=tmp_path / "j")
    changed = b.read_bytes() + b"edited"
    b.write_bytes(changed)
    results = {r.path: r for r in undo(report.journal)}
    assert results[a].action == "restored"
    assert results[b].action == "refused" and "changed" in results[b].reason
    assert a.read_bytes() == orig_a and a.stat().st_mtime_ns == 1_400_000_000_000_000_000
    assert b.read_bytes() == changed != orig_b
    # Undo is idempotent: the restored file is recognised as the original.
    again = {r.path: r for r in undo(report.journal)}
    assert again[a].action == "restored" and "already" in again[a].reason


def test_journal_records_every_change(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    before = sha(f)
    report = write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j")
    lines = report.journal.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "header"
    (entry,) = read_journal(report.journal).entries
    assert entry.path == f.resolve()
    assert entry.before_sha256 == before and entry.after_sha256 == sha(f)
    assert entry.sidecar_created is False
    backup = report.journal.parent / entry.backup
    assert hashlib.sha256(backup.read_bytes()).hexdigest() == before
    assert entry.old["Exif.GPSInfo.GPSVersionID"] == "2 2 0 0"  # replaced, and recorded


def test_undo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from geoscope_core.cli import main

    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    original = f.read_bytes()
    report = write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j")
    assert f.read_bytes() != original
    assert main(["undo", str(report.journal)]) == 0
    assert f.read_bytes() == original
    assert "restored" in capsys.readouterr().out
    assert main(["undo", str(tmp_path / "missing.jsonl")]) == 2
