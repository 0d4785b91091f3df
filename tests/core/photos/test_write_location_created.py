"""IPTC Extension "Location created" (a Bag of one location structure) is written from the
tag table's structured row beside the flat place fields: ExifTool reads the structure
back from every writer (append to a packet, exiv2 in a TIFF, a new packet, a sidecar),
``exiftool -validate`` finds nothing new, undo restores the bytes, and a structure the
photo already has is kept whole."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

from photos_testutil import PREDICTION, copy_fixture, exiftool_path, exiftool_warnings, samples_dir

from geoscope_core.photos.metadata import decode_xmp, sidecar_path
from geoscope_core.photos.plan import SidecarPolicy, WriteOptions
from geoscope_core.photos.tags import Field, xmp_values
from geoscope_core.photos.undo import undo
from geoscope_core.photos.writer import write_locations

NAMED = replace(PREDICTION, sublocation="Gamla höfnin")
LOCATION = {
    "Sublocation": "Gamla höfnin",
    "City": "Reykjavík",
    "ProvinceState": "Capital Region",
    "CountryName": "Iceland",
    "CountryCode": "IS",
}


def _location_created(f: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [exiftool_path(), "-j", "-n", "-struct", "-XMP-iptcExt:LocationCreated", str(f)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    (d,) = json.loads(out)
    return list(d.get("LocationCreated", []))


def _assert_named_at_reykjavik(f: Path) -> None:
    (loc,) = _location_created(f)
    assert {k: loc[k] for k in LOCATION} == LOCATION, f.name
    assert abs(float(str(loc["GPSLatitude"])) - NAMED.lat) < 1e-6, f.name
    assert abs(float(str(loc["GPSLongitude"])) - NAMED.lon) < 1e-6, f.name


def test_location_created_is_written_validated_and_undone(tmp_path: Path) -> None:
    photos = [
        copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path),  # no XMP: new packet
        copy_fixture(samples_dir() / "jpg" / "Nikon_D70.jpg", tmp_path),  # appended to its XMP
        copy_fixture(samples_dir() / "tiff" / "Arbitro.tiff", tmp_path),  # exiv2
    ]
    before = {f: f.read_bytes() for f in photos}
    warnings_before = exiftool_warnings(photos)
    report = write_locations([(f, NAMED) for f in photos], journal_dir=tmp_path / "j")
    assert [r.action for r in report.results] == ["written"] * 3, report.results
    for f in photos:
        _assert_named_at_reykjavik(f)
    warnings_after = exiftool_warnings(photos)
    for f in photos:
        assert warnings_after[f] <= warnings_before[f], (f.name, warnings_after[f])
    assert report.journal is not None
    assert {r.action for r in undo(report.journal)} == {"restored"}
    for f, data in before.items():
        assert f.read_bytes() == data, f.name


def test_location_created_goes_into_the_sidecar_once(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    opts = WriteOptions(sidecar=SidecarPolicy.ALWAYS, overwrite_gps=True)
    moved = replace(NAMED, lat=64.15, lon=-21.95)
    for i, prediction in enumerate((moved, NAMED)):  # a second write replaces the first
        report = write_locations([(f, prediction)], opts, journal_dir=tmp_path / f"j{i}")
        assert report.results[0].action == "sidecar", report.results
    _assert_named_at_reykjavik(sidecar_path(f))
    assert exiftool_warnings([sidecar_path(f)])[sidecar_path(f)] == set()


def test_a_location_created_the_photo_has_is_kept(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    subprocess.run(
        [exiftool_path(), "-q", "-overwrite_original", "-XMP-iptcExt:LocationCreatedCity=Oslo",
         str(f)],
        check=True,
        timeout=60,
    )  # fmt: skip
    report = write_locations([(f, NAMED)], journal_dir=tmp_path / "j")
    assert report.results[0].action == "written", report.results
    assert _location_created(f) == [{"City": "Oslo"}]


def test_structure_members_are_read_inside_their_structure_only() -> None:
    """A location shown in the photo is not where it was taken: its GPS members are
    never read as the photo's own ``exif:GPSLatitude``."""
    packet = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
      xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
     <rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/"
       xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">
      <Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li rdf:parseType="Resource">
       <Iptc4xmpExt:City>Paris</Iptc4xmpExt:City>
       <exif:GPSLatitude>48,51.4N</exif:GPSLatitude>
      </rdf:li></rdf:Bag></Iptc4xmpExt:LocationShown>
     </rdf:Description></rdf:RDF></x:xmpmeta>"""
    got = decode_xmp(packet)
    assert "Xmp.exif.GPSLatitude" not in got
    assert got["Xmp.iptcExt.LocationShown[1]/iptcExt:City"] == "Paris"
    assert got["Xmp.iptcExt.LocationShown[1]/exif:GPSLatitude"] == "48,51.4N"


def test_one_field_writes_its_flat_property_and_its_structure_member() -> None:
    xmp = xmp_values({Field.CITY: "Reykjavík", Field.LATITUDE: 64.1466})
    assert xmp["Xmp.photoshop.City"] == "Reykjavík"
    assert xmp["Xmp.iptcExt.LocationCreated[1]/iptcExt:City"] == "Reykjavík"
    assert xmp["Xmp.iptcExt.LocationCreated[1]/exif:GPSLatitude"] == xmp["Xmp.exif.GPSLatitude"]
