"""Nothing a write touches may lose what the user had: hostile and unlucky cases.

Real camera TIFFs and JPEGs from the shared fixtures, changed with ExifTool where a
case needs a GPS block the fixtures lack; the results are compared byte for byte.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import pytest
from photos_testutil import PREDICTION, copy_fixture, exiftool_path, samples_dir

from geoscope_core.photos.metadata import read_metadata
from geoscope_core.photos.plan import WriteAction, WriteOptions, as_written
from geoscope_core.photos.undo import UndoAction, undo
from geoscope_core.photos.writer import write_locations

#: A second estimate, far from the first.
OTHER = dataclasses.replace(PREDICTION, lat=-33.8688, lon=151.2093, city="", admin1="")


def _exiftool(path: Path, *args: str) -> None:
    subprocess.run(
        [exiftool_path(), "-q", "-overwrite_original", *args, str(path)], check=True, timeout=60
    )


def _tiffs(folder: Path) -> list[Path]:
    """Every fixture TIFF, and each again with the all-zero GPS block cameras write
    without a fix (made by ExifTool from the real file)."""
    out = []
    for src in sorted((samples_dir() / "tiff").glob("*.tif*")):
        plain = copy_fixture(src, folder)
        zero = copy_fixture(src, folder, f"zero-{src.name}")
        _exiftool(
            zero,
            "-GPSVersionID=2.2.0.0",
            "-GPSLatitudeRef=N",
            "-GPSLatitude=0",
            "-GPSLongitudeRef=E",
            "-GPSLongitude=0",
            "-GPSAltitude=0",
        )
        out += [plain, zero]
    assert len(out) >= 8, "expected the fixture TIFFs"
    return out


# --------------------------------------------------------------------------- backups


def test_tiffs_written_twice_undo_both_journals_byte_for_byte(tmp_path: Path) -> None:
    files = _tiffs(tmp_path)
    original = {f: f.read_bytes() for f in files}
    first = write_locations([(f, PREDICTION) for f in files], journal_dir=tmp_path / "j")
    assert {r.action for r in first.results} == {WriteAction.WRITTEN}
    second = write_locations(
        [(f, OTHER) for f in files], WriteOptions(overwrite_gps=True), journal_dir=tmp_path / "j"
    )
    assert {r.action for r in second.results} == {WriteAction.WRITTEN}
    assert first.journal is not None and second.journal is not None
    for journal in (second.journal, first.journal):
        results = undo(journal)
        assert [(r.action, r.reason) for r in results] == [(UndoAction.RESTORED, "")] * len(files)
    assert {f.name for f in files if f.read_bytes() != original[f]} == set()


def test_camera_fix_of_a_tiff_comes_back_after_undo_of_overwrite_gps(tmp_path: Path) -> None:
    src = sorted((samples_dir() / "tiff").glob("*.tif*"))[0]
    f = copy_fixture(src, tmp_path)
    _exiftool(
        f, "-GPSLatitudeRef=N", "-GPSLatitude=45.5", "-GPSLongitudeRef=E", "-GPSLongitude=10.25"
    )
    original = f.read_bytes()
    assert read_metadata(f).gps == pytest.approx((45.5, 10.25))
    report = write_locations([(f, OTHER)], WriteOptions(overwrite_gps=True), tmp_path / "j")
    assert [r.action for r in report.results] == [WriteAction.WRITTEN]
    written = as_written(OTHER)  # no finer than its radius warrants
    assert read_metadata(f).gps == pytest.approx((written.lat, written.lon))
    assert report.journal is not None
    assert [r.action for r in undo(report.journal)] == [UndoAction.RESTORED]
    assert f.read_bytes() == original
    meta = read_metadata(f)
    assert meta.gps == pytest.approx((45.5, 10.25)) and not meta.gps_is_estimate


def test_backup_is_the_file_as_read_from_disk(tmp_path: Path) -> None:
    from geoscope_core.fsio import sha256_file
    from geoscope_core.photos.journal import read_journal

    files = _tiffs(tmp_path)[:4]
    before = {f: sha256_file(f) for f in files}
    report = write_locations([(f, PREDICTION) for f in files], journal_dir=tmp_path / "j")
    assert report.journal is not None
    journal = read_journal(report.journal)
    for entry in journal.entries:
        assert entry.before_sha256 == before[entry.target]
        assert sha256_file(journal.path.parent / str(entry.backup)) == before[entry.target]


def test_an_editor_writing_into_the_original_in_memory_fails_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """exiv2 once rewrote a photo inside the buffer it was given: the original's bytes are
    hashed before any editor runs and the backup, read back from disk, must hash to that,
    so edited bytes are never backed up as the original nor the photo replaced."""
    import ctypes
    import sys

    from geoscope_core.photos import editors
    from geoscope_core.photos.journal import read_journal

    f = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path)
    g = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path, "g.jpg")
    original = f.read_bytes()
    real, calls = editors.jpeg_bytes, []

    def scribbling(data: bytes, *args: Any) -> Any:
        out = real(data, *args)
        if not calls:  # the first photo only: one byte flipped where a C library could
            start = sys.getsizeof(b"") - 1  # CPython: offset of a bytes object's content
            cell = ctypes.c_char.from_address(id(data) + start + len(data) - 3)
            cell.value = bytes([data[-3] ^ 0xFF])
            assert data != original
        calls.append(data)
        return out

    monkeypatch.setattr(editors, "jpeg_bytes", scribbling)
    report = write_locations([(f, PREDICTION), (g, PREDICTION)], journal_dir=tmp_path / "j")
    got = {r.path.name: r for r in report.results}
    assert got[f.name].action is WriteAction.FAILED
    assert "backup does not match the original" in got[f.name].reason
    assert f.read_bytes() == original
    assert got[g.name].action is WriteAction.WRITTEN
    assert report.journal is not None
    journal = read_journal(report.journal)
    assert [e.target for e in journal.entries] == [g]
    assert [p.name for p in journal.backup_dir.iterdir()] == [
        Path(str(journal.entries[0].backup)).name
    ]


# --------------------------------------------------------------------------- extended attributes


def _xattrs_supported(folder: Path) -> bool:
    import os

    probe = folder / "xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.geoscope.probe", b"1")
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


def test_extended_attributes_survive_write_and_undo(tmp_path: Path) -> None:
    import os

    if not _xattrs_supported(tmp_path):
        pytest.skip(f"{tmp_path}'s file system keeps no user extended attributes")
    tags = {"user.xdg.tags": b"holiday,family", "user.baloo.rating": b"8"}
    photo = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path)
    tiff = copy_fixture(sorted((samples_dir() / "tiff").glob("*.tif*"))[0], tmp_path)
    heif = copy_fixture(samples_dir() / "heic/samplefilehub.heif", tmp_path)
    side = heif.with_name(heif.name + ".xmp")
    side.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    targets = [photo, tiff, side]
    for f in targets:
        for k, v in tags.items():
            os.setxattr(f, k, v)
    report = write_locations([(f, PREDICTION) for f in (photo, tiff, heif)], journal_dir=tmp_path)
    assert [r.action for r in report.results] == [
        WriteAction.WRITTEN,
        WriteAction.WRITTEN,
        WriteAction.SIDECAR,
    ]
    for f in targets:
        assert {k: os.getxattr(f, k) for k in tags} == tags, f.name
    # backups keep them too, and undo puts the original's back
    for f in targets:
        os.setxattr(f, "user.xdg.tags", b"changed later")
    assert report.journal is not None
    assert {r.action for r in undo(report.journal)} == {UndoAction.RESTORED}
    for f in targets:
        assert {k: os.getxattr(f, k) for k in tags} == tags, f.name


# --------------------------------------------------------------------------- identity


def test_photo_replaced_between_scan_and_write_is_not_written(tmp_path: Path) -> None:
    import os
    import shutil

    a = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path)
    b = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path, "b.jpg")
    c = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path, "c.jpg")
    scanned = {p: read_metadata(p).fingerprint for p in (a, b, c)}
    assert all(scanned.values())
    # a: another photo moved over it; b: same size and mtime, one byte changed; c: untouched
    other = copy_fixture(samples_dir() / "jpg/Nikon_D70.jpg", tmp_path, "other.jpg")
    shutil.move(other, a)
    st = b.stat()
    data = bytearray(b.read_bytes())
    data[-3] ^= 0xFF
    b.write_bytes(bytes(data))
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
    before = {p: p.read_bytes() for p in (a, b)}
    report = write_locations(
        [(p, PREDICTION) for p in (a, b, c)],
        journal_dir=tmp_path / "j",
        scanned={p: fp for p, fp in scanned.items() if fp is not None},
    )
    got = {r.path.name: (r.action, r.reason) for r in report.results}
    assert got["Canon_40D.jpg"][0] is WriteAction.FAILED
    assert "not the photo that was scanned" in got["Canon_40D.jpg"][1]
    assert got["b.jpg"] == (
        WriteAction.FAILED,
        "not the photo that was scanned: its content changed since the scan",
    )
    assert got["c.jpg"][0] is WriteAction.WRITTEN
    assert {p: p.read_bytes() for p in (a, b)} == before


# --------------------------------------------------------------------------- batches


def test_long_file_name_fails_alone_and_the_batch_goes_on(tmp_path: Path) -> None:
    import os

    long_name = "x" * 246 + ".jpg"  # 250 bytes: at the limit of a name
    names = ["a.jpg", long_name, os.fsdecode(b"caf\xe9-latin1.jpg"), "z.jpg"]
    files = [copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path, n) for n in names]
    report = write_locations([(f, PREDICTION) for f in files], journal_dir=tmp_path / "j")
    assert [r.action for r in report.results] == [WriteAction.WRITTEN] * 4
    assert report.journal is not None
    assert {r.action for r in undo(report.journal)} == {UndoAction.RESTORED}


def test_batch_that_changed_nothing_leaves_no_journal_or_backup(tmp_path: Path) -> None:
    from unittest import mock

    f = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path)
    g = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path, "g.jpg")
    original = f.read_bytes()
    journals = tmp_path / "j"
    fail = OSError(36, "File name too long")
    with mock.patch("geoscope_core.fsio.tempfile.mkstemp", side_effect=fail):
        report = write_locations([(f, PREDICTION), (g, PREDICTION)], journal_dir=journals)
    assert [r.action for r in report.results] == [WriteAction.FAILED] * 2
    assert report.journal is None
    assert f.read_bytes() == original
    assert list(journals.iterdir()) == []


# --------------------------------------------------------------------------- privacy


def test_scan_cache_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import stat

    from geoscope_core.photos.cache import ScanCache
    from geoscope_core.settings import CACHE_ENV

    old = os.umask(0o022)
    try:
        custom = tmp_path / "new" / "cache.sqlite"
        ScanCache.open(custom).close()
        default_dir = tmp_path / "cache"
        default_dir.mkdir(mode=0o755)
        monkeypatch.setenv(CACHE_ENV, str(default_dir))
        with ScanCache.open() as cache:
            cache.put_many([], "m")
            default = cache.path
    finally:
        os.umask(old)
    assert stat.S_IMODE(custom.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(default_dir.stat().st_mode) == 0o700
    for f in [custom, default, *default.parent.glob("*-wal"), *default.parent.glob("*-shm")]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name


# ----------------------------------------------------------------- XMP exiv2 cannot read

_HEAD = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:darktable="http://darktable.sf.net/" '
    'xmp:Rating="4" xmp:Label="Red">'
    "<dc:subject><rdf:Bag><rdf:li>holiday</rdf:li><rdf:li>beach</rdf:li></rdf:Bag></dc:subject>"
)
_TAIL = '</rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>'
HOSTILE_XMP = {
    "control-character": "<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>a\x01b</rdf:li>"
    "</rdf:Alt></dc:title>",
    "repeated-property": "<xmp:CreatorTool>a</xmp:CreatorTool><xmp:CreatorTool>b</xmp:CreatorTool>",
    "parse-type-literal": '<darktable:history rdf:parseType="Literal"><op n="1">x</op>'
    "</darktable:history>",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_XMP))
def test_sidecar_exiv2_cannot_read_is_never_replaced(tmp_path: Path, case: str) -> None:
    from geoscope_core.photos.metadata import xmp_properties

    heif = copy_fixture(samples_dir() / "heic/samplefilehub.heif", tmp_path)
    side = heif.with_name(heif.name + ".xmp")
    text = _HEAD + HOSTILE_XMP[case] + _TAIL
    side.write_bytes(text.encode("utf-8"))
    report = write_locations([(heif, PREDICTION)], journal_dir=tmp_path / "j")
    (result,) = report.results
    after = side.read_bytes().decode("utf-8")
    if case == "control-character":  # not XML: refused, untouched, said so
        assert result.action is WriteAction.FAILED
        assert "cannot be read completely" in result.reason and side.name in result.reason
        assert after == text and report.journal is None
        return
    assert result.action is WriteAction.SIDECAR, result.reason
    at = text.index("</rdf:RDF>")
    assert after.startswith(text[:at]) and after.endswith(text[at:])  # every byte kept
    kept = xmp_properties(text) - xmp_properties(after)
    assert not kept, kept
    meta = read_metadata(heif)
    assert meta.gps == pytest.approx((PREDICTION.lat, PREDICTION.lon)) and meta.gps_is_estimate
    assert report.journal is not None
    assert [r.action for r in undo(report.journal)] == [UndoAction.RESTORED]
    assert side.read_bytes().decode("utf-8") == text


def test_embedded_xmp_exiv2_cannot_read_is_never_rewritten(tmp_path: Path) -> None:
    """A JPEG and a TIFF whose XMP repeats a property and holds camera GPS (so the
    estimate cannot go in a description of its own): the photo is left as it is and
    the estimate goes to a sidecar."""
    from geoscope_core.photos import jpegedit as je

    gps = (
        '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        'exif:GPSLatitude="10,0.0N" exif:GPSLongitude="20,0.0E"/>'
    )
    text = _HEAD + HOSTILE_XMP["repeated-property"] + "</rdf:Description>" + gps
    text += _TAIL.replace("</rdf:Description>", "", 1)
    jpeg = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path)
    segments, rest = je.split_jpeg(jpeg.read_bytes())
    segments = [s for s in segments if not s.payload.startswith(je.XMP_HEADER)]
    segments.insert(1, je.Segment(0xE1, je.XMP_HEADER + text.encode("utf-8")))
    jpeg.write_bytes(je.join_jpeg(segments, rest))
    tiff = copy_fixture(sorted((samples_dir() / "tiff").glob("*.tif*"))[0], tmp_path)
    xmp_file = tmp_path / "packet.xmp"
    xmp_file.write_text(text)
    _exiftool(tiff, f"-XMP<={xmp_file}")
    assert b"<xmp:CreatorTool>b</xmp:CreatorTool>" in tiff.read_bytes()
    xmp_file.unlink()
    before = {f: f.read_bytes() for f in (jpeg, tiff)}
    report = write_locations(
        [(jpeg, PREDICTION), (tiff, PREDICTION)], WriteOptions(overwrite_gps=True), tmp_path / "j"
    )
    for r in report.results:
        assert r.action is WriteAction.SIDECAR, (r.path.name, r.reason)
        assert "XMP cannot be rewritten without losing" in r.reason
    assert {f: f.read_bytes() for f in (jpeg, tiff)} == before


# --------------------------------------------------------------------------- reading GPS


@pytest.mark.parametrize(
    ("dms", "lat_ref", "lon_ref"),
    [
        ("-45/1 -30/1 0/1", "N", "E"),
        ("-45/1 30/1 0/1", "N", "W"),
        ("45/1 -30/1 0/1", "S", "E"),
        ("-45/1 -30/1 0/1", "S", "W"),
    ],
)
def test_signed_rational_gps_reads_as_exiftool_does(
    tmp_path: Path, dms: str, lat_ref: str, lon_ref: str
) -> None:
    import exiv2
    from photos_testutil import exiftool_dump

    f = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path)
    image = exiv2.ImageFactory.open(str(f))
    image.readMetadata()
    exif = image.exifData()
    for key, ref in (("Latitude", lat_ref), ("Longitude", lon_ref)):
        value = exiv2.Value.create(exiv2.TypeId.signedRational)
        value.read(dms)
        exif[f"Exif.GPSInfo.GPS{key}"] = value
        exif[f"Exif.GPSInfo.GPS{key}Ref"] = ref
    image.writeMetadata()
    del image
    dump = exiftool_dump([f])[f]
    expected = (dump["Composite:GPSLatitude"], dump["Composite:GPSLongitude"])
    assert read_metadata(f).gps == pytest.approx(expected, abs=1e-9)
    assert (expected[0] < 0) == (lat_ref == "S") and (expected[1] < 0) == (lon_ref == "W")


# --------------------------------------------------------------------------- pruning


def test_prune_deletes_only_signed_journals_and_their_own_backups(tmp_path: Path) -> None:
    import os
    import time

    from geoscope_core.cli import main

    journals = tmp_path / "j"
    f = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path)
    report = write_locations([(f, PREDICTION)], journal_dir=journals)
    assert report.journal is not None
    backups = report.journal.with_suffix(".backup")
    # look-alikes: a photo named like a journal, a folder named like its backups, a
    # journal GeoScope did not sign, and a file of the user's in a real backup folder
    photo = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", journals, "geoscope-holiday.jsonl")
    folder = journals / "geoscope-holiday.backup"
    folder.mkdir()
    (folder / "000001-keep.jpg").write_bytes(b"mine")
    forged = journals / "geoscope-forged.jsonl"
    forged.write_text('{"type": "header", "version": 2, "id": "0", "backup_dir": "x"}\n')
    (journals / "geoscope-forged.backup").mkdir()
    mine = backups / "notes.txt"
    mine.write_text("keep me")
    old = time.time() - 90 * 86400
    for p in (report.journal, photo, forged):
        os.utime(p, (old, old))
    assert main(["undo", "--prune", "--older-than", "1", "--journal-dir", str(journals)]) == 0
    assert not report.journal.exists()
    assert [p.name for p in backups.iterdir()] == ["notes.txt"]  # its own backup went
    for p in (photo, folder / "000001-keep.jpg", forged, journals / "geoscope-forged.backup"):
        assert p.exists(), p.name


def _scan_result(path: Path, prediction: Any = PREDICTION) -> Any:
    from geoscope_core.scan.types import ScanResult, ScanStatus

    return ScanResult(path, ScanStatus.PREDICTED, prediction, read_metadata(path))


def test_serials_leave_the_machine_only_when_asked(tmp_path: Path) -> None:
    import csv
    import json

    from geoscope_core.scan.output import write_results

    f = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path)
    _exiftool(f, "-ExifIFD:SerialNumber=SN-0420777")
    result = _scan_result(f)
    assert result.metadata is not None and result.metadata.camera.endswith("SN-0420777")
    for include in (False, True):
        out_csv = write_results([result], tmp_path / f"r{include}.csv", include_serials=include)
        out_json = write_results([result], tmp_path / f"r{include}.json", include_serials=include)
        text = out_csv.read_text() + out_json.read_text()
        assert ("SN-0420777" in text) is include
        with out_csv.open(newline="") as fh:
            (row,) = list(csv.DictReader(fh))
        assert row["camera"].startswith("Canon EOS 40D")
        assert json.loads(out_json.read_text())[0]["metadata"]["camera"] == row["camera"]


def test_csv_cells_never_run_as_formulas(tmp_path: Path) -> None:
    import csv

    from geoscope_core.scan.output import write_results

    names = ["=HYPERLINK(1).jpg", "+1.jpg", "-2.jpg", "@SUM(A1).jpg", "plain.jpg"]
    files = [copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path, n) for n in names]
    hostile = dataclasses.replace(PREDICTION, city="=cmd|' /C calc'!A0", lon=-21.9426)
    out = write_results([_scan_result(f, hostile) for f in files], tmp_path / "r.csv")
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key, cell in row.items():
            assert not cell.startswith(("=", "+", "@")), (key, cell)
            assert not cell.startswith("-") or key == "lon", (key, cell)
        assert row["city"] == "'=cmd|' /C calc'!A0"
        assert float(row["lon"]) == pytest.approx(-21.9426)


def test_file_names_are_escaped_for_the_terminal(tmp_path: Path, capsys) -> None:
    from geoscope_core.cli import main

    f = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", tmp_path, "a\x1b]0;owned\x07\x1b[2J.jpg")
    report = write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j")
    assert report.journal is not None
    assert main(["undo", str(report.journal)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "a\\x1b]0;owned\\x07\\x1b[2J.jpg" in out


# --------------------------------------------------------------------------- links


def test_links_out_of_the_named_folders_are_not_written_unless_asked(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    named = tmp_path / "named"
    outside.mkdir()
    (named / "sub").mkdir(parents=True)
    target = copy_fixture(samples_dir() / "jpg/Canon_40D.jpg", outside)
    inner = copy_fixture(samples_dir() / "jpg/Nikon_D70.jpg", named / "sub")
    original = target.read_bytes()
    file_link = named / "link.jpg"
    file_link.symlink_to(target)
    (named / "dirlink").symlink_to(outside, target_is_directory=True)
    inner_link = named / "inner.jpg"
    inner_link.symlink_to(inner)
    items = [(file_link, PREDICTION), (named / "dirlink" / target.name, PREDICTION)]
    items.append((inner_link, PREDICTION))
    report = write_locations(items, journal_dir=tmp_path / "j", roots=[named])
    got = [(r.action, r.reason) for r in report.results]
    for action, reason in got[:2]:
        assert action is WriteAction.SKIPPED
        assert "outside the folders named" in reason and str(target) in reason
    assert got[2] == (WriteAction.WRITTEN, "")  # a link inside the named folder is fine
    assert target.read_bytes() == original
    asked = write_locations(
        items[:1], WriteOptions(follow_links=True), tmp_path / "j", roots=[named]
    )
    assert [r.action for r in asked.results] == [WriteAction.WRITTEN]
    assert file_link.is_symlink() and target.read_bytes() != original


def test_ordinary_sidecars_are_merged_by_exiv2_losing_nothing(tmp_path: Path) -> None:
    """The guard against loss must not refuse ordinary sidecars: ExifTool's, with their
    empty language alternatives and structures, are rewritten with the GPS replaced."""
    from geoscope_core.photos import editors
    from geoscope_core.photos.metadata import decode_xmp, xmp_gps, xmp_properties
    from geoscope_core.photos.plan import estimate_values, place_for

    values = estimate_values(PREDICTION, place_for(PREDICTION))
    for name in ("jpg/Canon_40D.jpg", "jpg/Nikon_D70.jpg", "jpg/gps/DSCN0010.jpg"):
        side = tmp_path / (Path(name).name + ".xmp")
        subprocess.run(
            [exiftool_path(), "-q", "-o", str(side), str(samples_dir() / name)],
            check=True,
            timeout=60,
        )
        text = side.read_text()
        new, _old = editors.sidecar_bytes(text.encode("utf-8"), values)
        after = new.decode("utf-8")
        assert "</rdf:RDF>" in after and not after.startswith(text[: text.index("</rdf:RDF>")])
        lost = {k for k, _ in xmp_properties(text) - xmp_properties(after)}
        assert {k for k in lost if not k.startswith("Xmp.exif.GPS")} == set(), name
        gps, is_estimate = xmp_gps(decode_xmp(after))
        assert gps == pytest.approx((PREDICTION.lat, PREDICTION.lon), abs=1e-6) and is_estimate
