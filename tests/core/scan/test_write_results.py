"""``geoscope write RESULTS`` after a local scan: each photo is checked against the
fingerprint (size, mtime, SHA-256) its scan kept in the results, by the writer itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geoscope_core.cli import main
from geoscope_core.photos.metadata import read_metadata
from tests.bundles import BLUE, RED, write_jpeg


@pytest.mark.parametrize("out_name", ["r.json", "shards"])
def test_write_refuses_a_photo_replaced_since_the_scan(
    zs_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], out_name: str
) -> None:
    if out_name == "shards":
        pytest.importorskip("pyarrow")
    red, blue = tmp_path / "p" / "red.jpg", tmp_path / "p" / "blue.jpg"
    write_jpeg(red, RED)
    write_jpeg(blue, BLUE)
    out = tmp_path / out_name
    scan = ["scan", str(tmp_path / "p"), "--model", str(zs_bundle), "--no-cache"]
    assert main([*scan, "--no-progress", "--out", str(out)]) == 0
    # same size and modification time, other bytes: only the SHA-256 tells them apart
    st = blue.stat()
    data = bytearray(blue.read_bytes())
    data[-3] ^= 0xFF
    blue.write_bytes(bytes(data))
    os.utime(blue, ns=(st.st_atime_ns, st.st_mtime_ns))
    before = blue.read_bytes()
    capsys.readouterr()
    assert main(["write", str(out), "--min-confidence", "0"]) == 1
    text = capsys.readouterr().out
    assert "blue.jpg" in text and "its content changed since the scan" in text
    assert blue.read_bytes() == before
    meta = read_metadata(red)
    assert meta.gps is not None and meta.gps_is_estimate


def test_scan_and_write_take_the_same_rows_to_write() -> None:
    """One rule for both commands: a placed photo's estimate and fingerprint; a camera
    fix's only with --fill-names (its names); nothing of an error row."""
    from geoscope_core.commands.scan import write_item
    from geoscope_core.photos.metadata import FileFingerprint, PhotoMetadata
    from geoscope_core.prediction import Prediction, Source
    from geoscope_core.scan.types import ScanResult, ScanStatus

    photo = Path("p/a.jpg")
    fp = FileFingerprint(10, 20, "ab" * 32)
    meta = PhotoMetadata(photo, fingerprint=fp)
    guess = Prediction(lat=45.0, lon=15.0, confidence=0.7, radius_km=25.0, source=Source.MODEL)
    fix = Prediction(lat=45.0, lon=15.0, confidence=1.0, radius_km=0.05, source=Source.EXIF)
    placed = ScanResult(photo, ScanStatus.PREDICTED, guess, meta)
    camera = ScanResult(photo, ScanStatus.EXIF, fix, meta)
    error = ScanResult(photo, ScanStatus.ERROR, None, meta, "broken")
    assert write_item(placed) == (photo, guess, fp)
    assert write_item(ScanResult(photo, ScanStatus.PREDICTED, guess, None)) == (photo, guess, None)
    assert write_item(camera) is None
    assert write_item(camera, fill_names=True) == (photo, fix, fp)
    assert write_item(error) is None and write_item(error, fill_names=True) is None
