"""The user's GPS track logs in the app.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from geoscope_desktop.main_window import MainWindow
from tests.desktop.appdriver import (
    FakeDialogs,
    copy_fixture,
    copy_geo_photos,
    scan,
)


def test_track_logs_are_drawn_and_place_photos_with_a_reason(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "walk"
    canon = copy_fixture(folder, "Canon_40D.jpg")
    copy_geo_photos(folder, 1)
    out = subprocess.run(
        ["exiftool", "-s3", "-d", "%Y-%m-%dT%H:%M:%S", "-DateTimeOriginal", str(canon)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    from datetime import datetime, timedelta

    taken = datetime.fromisoformat(out)
    # a walk through Zagreb from two hours before to two hours after (UTC, 10 min apart)
    points = []
    for k in range(-12, 13):
        t = taken + timedelta(minutes=10 * k) - timedelta(hours=2)  # Zagreb is UTC+2 in May
        lat, lon = 45.80 + 0.001 * k, 15.97 + 0.001 * k
        points.append(f'<trkpt lat="{lat}" lon="{lon}"><time>{t:%Y-%m-%dT%H:%M:%S}Z</time></trkpt>')
    gpx = tmp_path / "walk.gpx"
    gpx.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        + "".join(points)
        + "</trkseg></trk></gpx>"
    )
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    dialogs.open_paths = [gpx]
    assert window.open_folder(folder)
    window.acts.add_tracks.trigger()
    assert dialogs.errors == []
    assert len(window.map.markers.tracks) == 1
    assert scan(qtbot, window) is False
    item = window.model.item_for(canon)
    assert item.result is not None and item.result.status == "track", item.result
    assert item.prediction.lat == pytest.approx(45.80, abs=0.02)
    assert "track" in item.result.reason
    window.select_paths([canon])
    assert "why: " in window.detail.facts.text()
    # a file that is not a track log is refused with a message; the tracks in use stay
    bad = tmp_path / "notes.gpx"
    bad.write_text("not a track")
    dialogs.open_paths = [bad]
    window.acts.add_tracks.trigger()
    assert dialogs.errors and dialogs.errors[-1][0] == "Cannot read the track logs"
    assert len(window.map.markers.tracks) == 1
