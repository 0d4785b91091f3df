"""One format table: every photo the walk finds is decoded, read and written, and nothing else."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from photos_testutil import PREDICTION
from PIL import Image

from geoscope_core.formats import FORMATS, WriteMode, format_from_header, format_of
from geoscope_core.photos.metadata import read_metadata
from geoscope_core.photos.walk import iter_photos
from geoscope_core.photos.writer import write_locations
from geoscope_core.runtime.images import load_image

PIXELS = np.full((40, 48, 3), (30, 120, 200), np.uint8)


def test_walk_finds_exactly_the_table(tmp_path: Path) -> None:
    names = [f"a{s}" for f in FORMATS for s in f.suffixes] + [
        "b.CR2.xmp",
        "c.psd",
        "d.txt",
        "e.xmp",
    ]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    found = {p.name for p in iter_photos(tmp_path)}
    assert found == {f"a{s}" for f in FORMATS for s in f.suffixes}
    assert ".bmp" in {p.suffix for p in map(Path, found)}
    assert format_of(Path("X.JFIF")) is format_of(Path("x.jpg"))


def test_every_format_pillow_writes_is_decoded_read_and_written(tmp_path: Path) -> None:
    for suffix, pil_format in ((".bmp", "BMP"), (".png", "PNG"), (".webp", "WEBP"),
                               (".tif", "TIFF"), (".jpg", "JPEG")):  # fmt: skip
        path = tmp_path / f"photo{suffix}"
        Image.fromarray(PIXELS).save(path, pil_format)
        fmt = format_of(path)
        assert fmt is not None and format_from_header(path.read_bytes()[:32]) is fmt
        assert load_image(path, 16).shape == (16, 16, 3)
        assert read_metadata(path).gps is None
        original = path.read_bytes()
        result = write_locations([(path, PREDICTION)], journal_dir=tmp_path / "j").results[0]
        if fmt.write is WriteMode.SIDECAR:
            assert result.action == "sidecar", (suffix, result)
            assert f"{fmt.name} files are not modified in place" in result.reason
            assert path.read_bytes() == original
        else:
            assert result.action == "written", (suffix, result)
        gps = read_metadata(path).gps
        assert gps is not None and math.isclose(gps[0], PREDICTION.lat, abs_tol=1e-6)


def test_unknown_files_are_not_written(tmp_path: Path) -> None:
    other = tmp_path / "IMG_0001.psd"
    other.write_bytes(b"II*\x00" + bytes(60))
    result = write_locations([(other, PREDICTION)], journal_dir=tmp_path / "j").results[0]
    assert result.action == "skipped" and "unsupported format .psd" in result.reason
    assert not (tmp_path / "IMG_0001.psd.xmp").exists()
