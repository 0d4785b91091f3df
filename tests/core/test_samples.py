from pathlib import Path

import exifread
import numpy as np
import pytest
from PIL import Image

from geoscope_core import samples
from geoscope_core.samples import DRAWN_NAME, TAGGED_LAT, TAGGED_LON, make_sample_folder


def _deg(tag: object) -> float:
    d, m, s = (float(x.num) / float(x.den) for x in tag.values)  # type: ignore[attr-defined]
    return d + m / 60 + s / 3600


def test_sample_folder_has_untagged_photos_and_one_with_gps(tmp_path: Path) -> None:
    folder = make_sample_folder(tmp_path / "s")
    photos = sorted(p.name for p in folder.glob("*.jpg"))
    assert DRAWN_NAME in photos and "mountain_lake_with_gps.jpg" in photos
    with open(folder / "mountain_lake_with_gps.jpg", "rb") as f:
        tags = exifread.process_file(f, details=False)
    assert abs(_deg(tags["GPS GPSLatitude"]) - TAGGED_LAT) < 1e-4
    assert abs(_deg(tags["GPS GPSLongitude"]) - abs(TAGGED_LON)) < 1e-4
    assert str(tags["GPS GPSLongitudeRef"]) == "W"
    with open(folder / DRAWN_NAME, "rb") as f:
        assert "GPS GPSLatitude" not in exifread.process_file(f, details=False)


def test_the_base_install_alone_makes_a_photo_like_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No optional package ships a photo (matplotlib is only in the plot extra): the
    drawn photo and its two copies are still there, and it is a real JPEG with the
    detail and colour of a photo, not a flat test card."""
    monkeypatch.setattr(samples, "_SHIPPED", ())
    folder = make_sample_folder(tmp_path)
    assert sorted(p.name for p in folder.glob("*.jpg")) == [
        "mountain_lake.jpg",
        "mountain_lake_on_track.jpg",
        "mountain_lake_with_gps.jpg",
    ]
    with Image.open(folder / DRAWN_NAME) as im:
        assert im.format == "JPEG" and im.size == (1200, 800)
        px = np.asarray(im.convert("RGB"), dtype=np.float64)
    sky, land = px[:100].mean(axis=(0, 1)), px[-60:].mean(axis=(0, 1))
    assert sky[2] > sky[0] + 30 and land[1] > land[2] + 20  # blue sky, green shore
    assert len(np.unique(px.reshape(-1, 3) // 8, axis=0)) > 400  # many colours
    assert np.abs(np.diff(px, axis=1)).mean() > 1.0  # texture and noise, not flat
    assert np.array_equal(
        np.asarray(samples.draw_landscape()), np.asarray(samples.draw_landscape())
    )


def test_sample_folder_is_idempotent(tmp_path: Path) -> None:
    a = make_sample_folder(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in a.iterdir()}
    make_sample_folder(tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in a.iterdir()} == before


def test_sample_track_places_the_photo_taken_on_it(tmp_path: Path) -> None:
    import numpy as np

    from geoscope_core.evidence.personal import PersonalEvidence
    from geoscope_core.evidence.tracks import load_track
    from geoscope_core.photos.metadata import read_metadata
    from geoscope_core.samples import ON_TRACK_NAME, TRACK_FIXES, TRACK_NAME, _route_point

    folder = make_sample_folder(tmp_path)
    track = load_track(folder / TRACK_NAME)
    assert len(track) == TRACK_FIXES and track.end - track.start == 1800
    meta = read_metadata(folder / ON_TRACK_NAME)
    assert meta.gps is None and meta.utc_offset_min == -240
    (placed,) = PersonalEvidence(track).place([meta])
    assert placed is not None and placed.source == "track"
    assert placed.reason == "track, 5 s from a fix"
    want = _route_point(1055 / 1800)
    assert np.hypot(placed.lat - want[0], placed.lon - want[1]) < 2e-4


def test_the_demo_says_which_photo_is_drawn_and_where_each_answer_comes_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert samples.main([str(tmp_path / "s")]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(tmp_path / "s")  # the path alone on stdout, for the Makefile
    lines = {ln.split(":")[0].strip(): ln for ln in err.splitlines()[1:]}
    assert "draws, of no real place" in lines["mountain_lake.jpg"]
    assert "status 'exif'" in lines["mountain_lake_with_gps.jpg"]
    assert "status 'track'" in lines["mountain_lake_on_track.jpg"]
    real = [n for n in ("grace_hopper.jpg", "china.jpg", "flower.jpg") if n in lines]
    assert all("a real photo" in lines[n] for n in real)
