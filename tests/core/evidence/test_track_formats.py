"""One registry row per track format: detection follows the rows' order, and the CLI help,
the desktop app's file dialog and the README's list are derived from the rows."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from geoscope_core.cli import main
from geoscope_core.evidence.formats import registry
from geoscope_core.evidence.formats.base import TrackError
from geoscope_core.evidence.tracks import TRACK_SUFFIXES

ROOT = Path(__file__).resolve().parents[3]


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(argv)
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_the_cli_help_names_every_format_and_suffix(capsys) -> None:
    for argv in (["scan", "--help"], ["track", "--help"]):
        text = _help(argv, capsys)
        for f in registry.FORMATS.values():
            assert f"{f.title} ({' '.join(f.suffixes)})" in text, (argv, f.key)


def test_the_readme_lists_the_registry_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- track-formats[^>]*-->\n(.*?)<!-- /track-formats -->", readme, re.S)
    assert m, "README has no track-formats block"
    assert m.group(1) == registry.markdown(), (
        "README's track formats differ from the registry: paste the output of "
        "`python -m geoscope_core.evidence.formats.registry`"
    )
    for s in registry.suffixes():
        assert f"`{s}`" in m.group(1)


def test_the_app_offers_and_accepts_every_suffix() -> None:
    pytest.importorskip("PySide6")
    from geoscope_desktop.tracking import TRACK_FILTER

    patterns = re.search(r"Track logs \(([^)]*)\)", TRACK_FILTER)
    assert patterns and set(patterns.group(1).split()) == {f"*{s}" for s in registry.suffixes()}
    assert {".fit", ".log", ".rec"} <= TRACK_SUFFIXES  # the filter lacked .fit and .log
    assert set(registry.suffixes()) == TRACK_SUFFIXES


def _zip() -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("doc.kml", "<kml/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "ext", "key"),
    [
        (b'<?xml version="1.0"?>\n<gpx version="1.1">', ".xml", "gpx"),
        (b"<?xml version='1.0'?><!-- long comment --><kml>", "", "kml"),
        (_zip(), ".zip", "kml"),
        (b"<TrainingCenterDatabase>", ".xml", "tcx"),
        (b"\x0e\x10\x00\x00\x00\x00\x00\x00.FIT", "", "fit"),
        (b"time,lat,lon\n", ".fit", "fit"),  # a .fit is read as FIT whatever it holds
        (b'{"type": "FeatureCollection"}', ".txt", "json"),
        (b"2024-03-01T09:03:09Z\towntracks/u/d\t{}", "", "owntracks"),
        (b"AXXX\nHFDTE010124\nB1000", "", "igc"),
        (b"$GPRMC,000001.00,A,4249.9,S,14726.7,E,0.0,,231019,,,A*00\n", ".txt", "nmea"),
        (b"1 0001 42.7 61.6 249 25.2 21/04/2014 07:06:41 25.2 5.9 3.2 ypr\n", ".log", "bramor"),
        (b"time,lat,lon\n", ".txt", "csv"),
        (b"<?xml version='1.0'?><!-- a name ends the comment -->", ".gpx", "gpx"),  # suffix
    ],
)
def test_detection_follows_the_rows(data: bytes, ext: str, key: str) -> None:
    assert registry.detect(registry.Head(data, ext)).key == key


def test_detection_refuses_binary_and_unknown_xml() -> None:
    with pytest.raises(TrackError, match="binary"):
        registry.detect(registry.Head(b"\x89PNG\r\n\x1a\n\x00\x00", ".gpx"))
    with pytest.raises(TrackError, match="XML, but not GPX, KML/KMZ or TCX"):
        registry.detect(registry.Head(b"<svg></svg>", ".svg"))
