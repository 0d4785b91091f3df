from pathlib import Path

import exifread

from geoscope_core.samples import TAGGED_LAT, TAGGED_LON, make_sample_folder


def _deg(tag: object) -> float:
    d, m, s = (float(x.num) / float(x.den) for x in tag.values)  # type: ignore[attr-defined]
    return d + m / 60 + s / 3600


def test_sample_folder_has_untagged_photos_and_one_with_gps(tmp_path: Path) -> None:
    folder = make_sample_folder(tmp_path / "s")
    photos = sorted(p.name for p in folder.glob("*.jpg"))
    assert "grace_hopper.jpg" in photos and "grace_hopper_with_gps.jpg" in photos
    with open(folder / "grace_hopper_with_gps.jpg", "rb") as f:
        tags = exifread.process_file(f, details=False)
    assert abs(_deg(tags["GPS GPSLatitude"]) - TAGGED_LAT) < 1e-4
    assert abs(_deg(tags["GPS GPSLongitude"]) - abs(TAGGED_LON)) < 1e-4
    assert str(tags["GPS GPSLongitudeRef"]) == "W"
    with open(folder / "grace_hopper.jpg", "rb") as f:
        assert "GPS GPSLatitude" not in exifread.process_file(f, details=False)


def test_sample_folder_is_idempotent(tmp_path: Path) -> None:
    a = make_sample_folder(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in a.iterdir()}
    make_sample_folder(tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in a.iterdir()} == before
