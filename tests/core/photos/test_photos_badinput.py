"""Broken, hostile and unwritable input: each reported with its reason, the batch goes on,
nothing is modified that should not be."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from photos_testutil import PREDICTION, after_sos, copy_fixture, samples_dir

from geoscope_core.errors import MetadataError
from geoscope_core.photos.jpegedit import split_jpeg
from geoscope_core.photos.metadata import read_metadata, read_sidecar_gps, sidecar_path
from geoscope_core.photos.plan import WriteOptions
from geoscope_core.photos.writer import write_locations
from geoscope_core.prediction import Prediction


def broken_fixtures() -> list[Path]:
    root = samples_dir() / "jpg"
    files = [root / "corrupted.jpg", *sorted((root / "invalid").glob("*.jpg"))]
    files += sorted(p for p in (root / "tests").iterdir() if "error" in p.name.lower())
    assert len(files) >= 12
    return files


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_broken_fixtures_are_handled(tmp_path: Path) -> None:
    files = [copy_fixture(p, tmp_path) for p in broken_fixtures()]
    before = {f: f.read_bytes() for f in files}
    report = write_locations(
        [(f, PREDICTION) for f in files],
        WriteOptions(overwrite_gps=True),
        journal_dir=tmp_path / "j",
    )
    assert len(report.results) == len(files)
    for r in report.results:
        assert r.action in ("written", "sidecar", "failed"), r
        if r.action == "failed":
            assert r.reason and before[r.path] == r.path.read_bytes()
        elif r.action == "sidecar":
            assert r.reason and before[r.path] == r.path.read_bytes()
            gps, is_estimate = read_sidecar_gps(sidecar_path(r.path))
            assert is_estimate and gps is not None
        else:  # written: only metadata changed, the location reads back
            assert after_sos(r.path.read_bytes()) == after_sos(before[r.path])
            meta = read_metadata(r.path)
            assert meta.gps_is_estimate
    for f in files:  # every failure is reported, not raised
        assert f.exists()


def _huge_jpeg(src: bytes) -> bytes:
    """``src`` with its frame header claiming 65000 x 65000 pixels (a decompression bomb)."""
    segments, _rest = split_jpeg(src)
    out = bytearray(src)
    i = 2
    for seg in segments:
        if seg.marker in (0xC0, 0xC1, 0xC2):
            # payload: precision(1) height(2) width(2) ...
            struct.pack_into(">HH", out, i + 4 + 1, 65000, 65000)
            break
        i += 4 + len(seg.payload)
    else:
        raise AssertionError("no SOF segment")
    return bytes(out)


def test_bad_input_batch_goes_on(tmp_path: Path) -> None:
    ok_src = samples_dir() / "jpg" / "Canon_40D.jpg"
    folder = tmp_path / "photos"
    folder.mkdir()
    good1 = copy_fixture(ok_src, folder, "good1.jpg")
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    text = folder / "notes.jpg"
    text.write_text("this is not a photo\n")
    data = ok_src.read_bytes()
    truncated_header = folder / "truncated_header.jpg"
    truncated_header.write_bytes(data[:600])
    truncated_body = folder / "truncated_body.jpg"
    truncated_body.write_bytes(data[: int(len(data) * 0.8)])
    huge = folder / "huge.jpg"
    huge.write_bytes(_huge_jpeg(data))
    readonly = copy_fixture(ok_src, folder, "readonly.jpg")
    readonly.chmod(0o444)
    loop_a, loop_b = folder / "loop_a.jpg", folder / "loop_b.jpg"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    dangling = folder / "dangling.jpg"
    dangling.symlink_to(folder / "nowhere.jpg")
    a_dir = folder / "folder.jpg"
    a_dir.mkdir()
    doomed = copy_fixture(ok_src, folder, "deleted_mid_batch.jpg")
    good2 = copy_fixture(ok_src, folder, "good2.jpg")
    bad_location = copy_fixture(ok_src, folder, "bad_location.jpg")
    before = snapshot(folder)

    order = [
        good1, empty, text, truncated_header, truncated_body, huge, readonly,
        loop_a, dangling, a_dir, doomed, good2, bad_location,
    ]  # fmt: skip

    def items() -> Iterator[tuple[Path, Prediction]]:
        for p in order:
            if p == doomed:
                doomed.unlink()  # deleted after the batch started, before its turn
            pred = PREDICTION
            if p == bad_location:
                pred = Prediction(lat=123.0, lon=0.0, confidence=0.9, radius_km=1.0)
            yield p, pred

    report = write_locations(items(), journal_dir=tmp_path / "j")
    got = {r.path.name: r for r in report.results}
    assert len(got) == len(order)
    assert got["good1.jpg"].action == "written"
    assert got["good2.jpg"].action == "written"
    assert got["empty.jpg"].action == "failed" and "empty" in got["empty.jpg"].reason
    assert got["notes.jpg"].action == "failed" and "not a supported" in got["notes.jpg"].reason
    assert got["truncated_header.jpg"].action == "failed"
    assert "truncated" in got["truncated_header.jpg"].reason
    # Body truncation does not stop a metadata edit; the image data is kept as it was.
    assert got["truncated_body.jpg"].action == "written"
    assert after_sos(truncated_body.read_bytes()) == after_sos(before["truncated_body.jpg"])
    # Metadata editing never decodes pixels, so a bomb-sized frame is harmless to write.
    assert got["huge.jpg"].action == "written"
    assert after_sos(huge.read_bytes()) == after_sos(before["huge.jpg"])
    assert got["readonly.jpg"].action == "sidecar" and "read-only" in got["readonly.jpg"].reason
    assert readonly.read_bytes() == before["readonly.jpg"]
    assert got["loop_a.jpg"].action == "failed" and "resolve" in got["loop_a.jpg"].reason
    assert got["dangling.jpg"].action == "failed" and "not found" in got["dangling.jpg"].reason
    assert got["folder.jpg"].action == "failed" and "regular" in got["folder.jpg"].reason
    assert got["deleted_mid_batch.jpg"].action == "failed"
    assert "not found" in got["deleted_mid_batch.jpg"].reason
    assert got["bad_location.jpg"].action == "failed"
    assert bad_location.read_bytes() == before["bad_location.jpg"]
    # Nothing else in the folder changed; only the expected sidecar appeared.
    after = snapshot(folder)
    unchanged = set(before) - {"good1.jpg", "good2.jpg", "truncated_body.jpg", "huge.jpg"}
    unchanged -= {"deleted_mid_batch.jpg"}
    for name in unchanged:
        assert after[name] == before[name], name
    assert set(after) - set(before) == {"readonly.jpg.xmp"}
    assert loop_a.is_symlink() and loop_b.is_symlink()


def test_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    real = copy_fixture(samples_dir() / "jpg" / "Nikon_D70.jpg", tmp_path)
    link = tmp_path / "link.jpg"
    link.symlink_to(real)
    report = write_locations([(link, PREDICTION)], journal_dir=tmp_path / "j")
    assert report.results[0].action == "written"
    assert link.is_symlink()
    assert read_metadata(real).gps_is_estimate


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_read_only_folder_reported(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", folder)
    h = copy_fixture(samples_dir() / "heic" / "samplefilehub.heif", folder)
    before = snapshot(folder)
    folder.chmod(0o555)
    try:
        report = write_locations([(f, PREDICTION), (h, PREDICTION)], journal_dir=tmp_path / "j")
        assert [r.action for r in report.results] == ["failed", "failed"]
        assert all("read-only" in r.reason for r in report.results)
        assert snapshot(folder) == before
        assert report.journal is None
    finally:
        folder.chmod(0o755)


def test_read_only_file_with_sidecars_disabled_is_skipped(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    f.chmod(0o444)
    report = write_locations(
        [(f, PREDICTION)], WriteOptions(sidecar="never"), journal_dir=tmp_path / "j"
    )
    assert report.results[0].action == "skipped"
    assert "read-only" in report.results[0].reason
    assert not sidecar_path(f).exists()


def test_read_metadata_errors(tmp_path: Path) -> None:
    empty = tmp_path / "e.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "t.jpg"
    text.write_text("hello")
    for p, words in ((empty, "empty"), (text, "not a supported"), (tmp_path / "x.jpg", "cannot")):
        with pytest.raises(MetadataError, match=words):
            read_metadata(p)
