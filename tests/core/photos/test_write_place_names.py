"""Photos with camera GPS get their place names (city, region, country, sublocation)
filled from their own point: the names only, never a GPS tag; journaled and undone
byte for byte; a photo that names its place already, or has no camera GPS, is left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from photos_testutil import PREDICTION, copy_fixture, exiftool_tags, samples_dir

from geoscope_core.photos.metadata import sidecar_path
from geoscope_core.photos.plan import SidecarPolicy, WriteOptions
from geoscope_core.photos.undo import undo
from geoscope_core.photos.writer import write_locations
from geoscope_core.prediction import Prediction, Source

#: A Nikon Coolpix photo with its camera's GPS fix (Arezzo, Tuscany).
GPS_JPEG = ("jpg", "gps", "DSCN0010.jpg")
#: An iPhone HEIC with camera GPS (a sidecar format).
GPS_HEIC = ("heic", "IMG_5195.HEIC")
NAMES = ["-XMP:City", "-XMP:State", "-XMP:Country", "-IPTC:City",
         "-IPTC:Country-PrimaryLocationName", "-XMP-iptcExt:LocationCreatedCity",
         "-XMP:Location"]  # fmt: skip


def _gps(f: Path) -> dict[str, Any]:
    """Every GPS tag exiftool reads (EXIF and XMP), by group."""
    return exiftool_tags(f, "-G1", "-gps:all", "-xmp-exif:gps*")


def _own_point(f: Path, **names: str) -> Prediction:
    gps = exiftool_tags(f, "-GPSLatitude", "-GPSLongitude")
    return Prediction(
        gps["GPSLatitude"], gps["GPSLongitude"], 1.0, 0.0, source=Source.EXIF, **names
    )


def _fill(items: list[tuple[Path, Prediction]], *args: Any, **kwargs: Any) -> Any:
    """``write_locations`` filling names (unless given other options)."""
    if not args and "options" not in kwargs:
        args = (WriteOptions(fill_names=True),)
    return write_locations(items, *args, **kwargs)


def test_names_are_filled_in_place_and_the_camera_gps_stays(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir().joinpath(*GPS_JPEG), tmp_path)
    original, gps = f.read_bytes(), _gps(f)
    assert exiftool_tags(f, *NAMES) == {}
    report = _fill([(f, _own_point(f, sublocation="Piazza Grande"))], journal_dir=tmp_path / "j")
    assert [r.action for r in report.results] == ["written"], report.results
    names = exiftool_tags(f, *NAMES)
    assert names["Country"] == "Italy" and names["Country-PrimaryLocationName"] == "Italy"
    assert names["City"] and names["City"] == names["LocationCreatedCity"], names
    assert (names["City"], names["State"]) == ("Arezzo", "Tuscany"), names
    assert names["Location"] == "Piazza Grande"
    assert _gps(f) == gps  # the camera's fix, every tag of it, as it was
    assert f.read_bytes()[-1000:] == original[-1000:]
    assert report.journal is not None
    assert {r.action for r in undo(report.journal)} == {"restored"}
    assert f.read_bytes() == original


def test_names_go_into_a_sidecar_without_any_gps(tmp_path: Path) -> None:
    heic = copy_fixture(samples_dir().joinpath(*GPS_HEIC), tmp_path)
    jpeg = copy_fixture(samples_dir().joinpath(*GPS_JPEG), tmp_path)
    before = {f: f.read_bytes() for f in (heic, jpeg)}
    report = _fill(
        [(heic, _own_point(heic)), (jpeg, _own_point(jpeg))],
        WriteOptions(sidecar=SidecarPolicy.ALWAYS, fill_names=True),
        journal_dir=tmp_path / "j",
    )
    assert [r.action for r in report.results] == ["sidecar", "sidecar"], report.results
    assert exiftool_tags(sidecar_path(heic), "-XMP:Country")["Country"] == "United States"
    for f, data in before.items():
        assert f.read_bytes() == data  # the photo itself is never touched
        xmp = sidecar_path(f).read_text()
        assert "GPS" not in xmp and "geoscope" not in xmp.lower(), xmp  # names, no estimate
    assert report.journal is not None
    undo(report.journal)
    assert not sidecar_path(heic).exists() and not sidecar_path(jpeg).exists()


def test_photos_without_camera_gps_or_with_names_are_left(tmp_path: Path) -> None:
    no_gps = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    named = copy_fixture(samples_dir().joinpath(*GPS_JPEG), tmp_path)
    first = _fill([(named, _own_point(named))], journal_dir=tmp_path / "j")
    assert first.results[0].action == "written"
    estimate = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path, "estimate.jpg")
    assert write_locations([(estimate, PREDICTION)], journal_dir=tmp_path / "j").results[
        0
    ].action == ("written")
    again = {f: f.read_bytes() for f in (no_gps, named, estimate)}
    report = _fill(
        [(f, _own_point(named)) for f in (no_gps, named, estimate)], journal_dir=tmp_path / "j"
    )
    assert [(r.action, r.reason) for r in report.results] == [
        ("skipped", "has no GPS to name"),
        ("skipped", "already names its place"),
        ("skipped", "its location is a GeoScope estimate (named when it was written)"),
    ]
    assert report.journal is None
    assert {f: f.read_bytes() for f in again} == again


def test_own_gps_is_skipped_unless_names_are_asked_for(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir().joinpath(*GPS_JPEG), tmp_path)
    report = write_locations([(f, _own_point(f))], journal_dir=tmp_path / "j")
    assert [(r.action, r.reason) for r in report.results] == [
        ("skipped", "location came from the photo's own GPS")
    ]
    dry = _fill([(f, _own_point(f))], WriteOptions(fill_names=True, dry_run=True))
    assert dry.results[0].action == "would-write" and dry.journal is None
    assert exiftool_tags(f, *NAMES) == {}


def test_names_the_user_typed_are_kept_where_the_point_agrees(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir().joinpath(*GPS_JPEG), tmp_path)
    typed = _own_point(f, city="Arezzo Centro", country="Italy", country_code="IT")
    assert _fill([(f, typed)], journal_dir=tmp_path / "j").results[0].action == ("written")
    assert exiftool_tags(f, "-XMP:City")["City"] == "Arezzo Centro"


def test_a_tiff_gets_names_in_place_and_keeps_its_gps(tmp_path: Path) -> None:
    import io

    import exiv2
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (1, 2, 3)).save(buf, "TIFF")
    image = exiv2.ImageFactory.open(buf.getvalue())
    image.readMetadata()
    exif = image.exifData()
    for key, value in (("GPSVersionID", "2 3 0 0"), ("GPSLatitudeRef", "N"),
                       ("GPSLatitude", "45/1 48/1 54/1"), ("GPSLongitudeRef", "E"),
                       ("GPSLongitude", "15/1 58/1 55/1")):  # fmt: skip
        exif[f"Exif.GPSInfo.{key}"] = value
    image.writeMetadata()
    f = tmp_path / "zagreb.tif"
    f.write_bytes(bytes(image.io().mmap()))
    original, gps = f.read_bytes(), _gps(f)
    report = _fill([(f, _own_point(f))], journal_dir=tmp_path / "j")
    assert [(r.action, r.target) for r in report.results] == [("written", f)]
    assert exiftool_tags(f, "-XMP:City", "-IPTC:Country-PrimaryLocationName") == {
        "City": "Zagreb",
        "Country-PrimaryLocationName": "Croatia",
    }
    assert _gps(f) == gps
    assert report.journal is not None
    undo(report.journal)
    assert f.read_bytes() == original
