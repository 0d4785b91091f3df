"""The user's sublocation (a district, a landmark) is written beside the city: IPTC-IIM
Sub-location (2:92) and XMP Iptc4xmpCore:Location, in place and in sidecars, only as
fine as the estimate, and undone byte for byte."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

from photos_testutil import PREDICTION, copy_fixture, exiftool_path, samples_dir

from geoscope_core.photos.metadata import sidecar_path
from geoscope_core.photos.plan import SidecarPolicy, WriteOptions
from geoscope_core.photos.undo import undo
from geoscope_core.photos.writer import write_locations

NAMED = replace(PREDICTION, sublocation="Gamla höfnin")


def _sublocation(f: Path) -> dict[str, str]:
    out = subprocess.run(
        [exiftool_path(), "-j", "-IPTC:Sub-location", "-XMP:Location", "-XMP:City", str(f)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    (d,) = json.loads(out)
    return {k: str(v) for k, v in d.items() if k != "SourceFile"}


def test_sublocation_is_written_in_place_and_undone_byte_for_byte(tmp_path: Path) -> None:
    jpeg = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    tiff = copy_fixture(samples_dir() / "tiff" / "Arbitro.tiff", tmp_path)
    before = {f: f.read_bytes() for f in (jpeg, tiff)}
    report = write_locations([(jpeg, NAMED), (tiff, NAMED)], journal_dir=tmp_path / "j")
    assert [r.action for r in report.results] == ["written", "written"], report.results
    for f in (jpeg, tiff):
        d = _sublocation(f)
        assert d == {"Sub-location": "Gamla höfnin", "Location": "Gamla höfnin",
                     "City": "Reykjavík"}, f.name  # fmt: skip
    assert report.journal is not None
    assert {r.action for r in undo(report.journal)} == {"restored"}
    for f, data in before.items():
        assert f.read_bytes() == data, f.name


def test_sublocation_goes_into_the_sidecar(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    opts = WriteOptions(sidecar=SidecarPolicy.ALWAYS)
    report = write_locations([(f, NAMED)], opts, journal_dir=tmp_path / "j")
    assert report.results[0].action == "sidecar"
    assert _sublocation(sidecar_path(f))["Location"] == "Gamla höfnin"


def test_no_sublocation_without_a_city(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    coarse = replace(NAMED, radius_km=800.0)  # too coarse to name a city, or a part of one
    assert write_locations([(f, coarse)], journal_dir=tmp_path / "j").results[0].action == (
        "written"
    )
    assert _sublocation(f) == {}
