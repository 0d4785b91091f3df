"""``geoscope track FILE``."""

from __future__ import annotations

import json

import pytest

from geoscope_core.cli import main
from geoscope_core.settings import data_dir


def test_track_summary_of_a_real_track(capsys: pytest.CaptureFixture[str]) -> None:
    path = data_dir() / "tracks" / "tracks" / "exiv2" / "FurnaceCreekInn.gpx"
    assert main(["track", str(path)]) == 0
    out = capsys.readouterr().out
    assert "points    42" in out
    assert "2008-04-18T18:45:24Z .. 2008-05-08T18:07:29Z" in out
    assert "1 longer than 1800 s" in out and "(19 d 23 h)" in out
    assert "notes     1 (what was skipped or assumed, and where):" in out
    assert "5 point(s) without <time> skipped" in out

    assert main(["track", str(path), "--json", "--max-gap", "60"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["points"] == 42 and len(d["gaps"]) >= 1 and d["max_gap_s"] == 60
    lat0, lon0, lat1, lon1 = d["bbox"]
    assert 36.36 < lat0 < lat1 < 37.02 and -121.91 < lon0 < lon1 < -116.84


def test_track_reports_unreadable_files(capsys: pytest.CaptureFixture[str]) -> None:
    bad = data_dir() / "tracks" / "tracks" / "marchyman" / "BadTrack.GPX"
    assert main(["track", str(bad)]) == 2  # bad input exits 2, as every command
    err = capsys.readouterr().err
    assert "BadTrack.GPX" in err and "not well-formed" in err
