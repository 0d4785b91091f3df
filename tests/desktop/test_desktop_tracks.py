"""The user's GPS track logs in the app: loaded from the menu or dropped on the window,
drawn on the map, placing photos by time with the reason shown, and per-camera clock
offsets that move the photos live.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from geoscope_core.prediction import Source
from geoscope_core.scan.types import ScanStatus
from geoscope_desktop.controllers.tracks import OFF_TRACK
from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from tests.desktop.appdriver import (
    FakeDialogs,
    copy_fixture,
    copy_geo_photos,
    scan,
)


def _walk(tmp_path: Path, photo: Path) -> Path:
    """A walk through Zagreb, a fix every 10 min from two hours before ``photo`` was taken
    to two hours after (UTC; the camera's clock is Zagreb's, UTC+2 in May): the photo's
    own time falls on the middle fix (45.80 N, 15.97 E)."""
    out = subprocess.run(
        ["exiftool", "-s3", "-d", "%Y-%m-%dT%H:%M:%S", "-DateTimeOriginal", str(photo)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    taken = datetime.fromisoformat(out)
    points = []
    for k in range(-12, 13):
        t = taken + timedelta(minutes=10 * k) - timedelta(hours=2)
        lat, lon = 45.80 + 0.001 * k, 15.97 + 0.001 * k
        points.append(f'<trkpt lat="{lat}" lon="{lon}"><time>{t:%Y-%m-%dT%H:%M:%S}Z</time></trkpt>')
    gpx = tmp_path / "walk.gpx"
    gpx.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        + "".join(points)
        + "</trkseg></trk></gpx>"
    )
    return gpx


def _files_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drop_files(window: MainWindow, *paths: Path) -> None:
    mime = _files_mime(*paths)  # kept: the event does not own it
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)


def test_track_logs_are_drawn_and_place_photos_with_a_reason(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "walk"
    canon = copy_fixture(folder, "Canon_40D.jpg")
    copy_geo_photos(folder, 1)
    gpx = _walk(tmp_path, canon)
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    dialogs.open_paths = [gpx]
    assert window.open_folder(folder)
    window.acts.add_tracks.trigger()
    assert dialogs.errors == []
    assert len(window.map.markers.tracks) == 1
    assert scan(qtbot, window) is False
    item = window.model.item_for(canon)
    assert item.result is not None and item.result.status is ScanStatus.TRACK, item.result
    assert item.prediction.lat == pytest.approx(45.80, abs=1e-6)
    assert item.result.reason.startswith("track, on a fix (time zone: ")
    window.selection.select_paths([canon])
    assert "why: track, on a fix" in window.detail.facts.text()
    # a file that is not a track log is refused with a message; the tracks in use stay
    bad = tmp_path / "notes.gpx"
    bad.write_text("not a track")
    dialogs.open_paths = [bad]
    window.acts.add_tracks.trigger()
    assert dialogs.errors and dialogs.errors[-1][0] == "Cannot read the track logs"
    assert len(window.map.markers.tracks) == 1


def test_a_dropped_track_places_scanned_photos_and_a_clock_offset_moves_them_live(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "trip"
    canon = copy_fixture(folder, "Canon_40D.jpg")
    others = copy_geo_photos(folder, 2)
    gpx = _walk(tmp_path, canon)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    model_pred = window.model.item_for(canon).prediction
    assert model_pred.source is Source.MODEL
    # a track dragged onto the map goes on to the window, which takes it
    mime = _files_mime(gpx)  # kept: the event does not own it
    enter = QDragEnterEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.map.dragEnterEvent(enter)
    assert not enter.isAccepted()
    opened: list[Path] = []
    window.folder_opened.connect(opened.append)
    _drop_files(window, gpx)
    assert opened == [] and window.review.folder == folder  # a track, not a folder to open
    assert len(window.map.markers.tracks) == 1
    assert len(window.map.markers.tracks[0].path().toFillPolygon()) >= 25
    # the photos already scanned are placed by it at once, no rescan
    item = window.model.item_for(canon)
    assert item.prediction.source is Source.TRACK and item.result.status is ScanStatus.TRACK
    assert item.prediction.lat == pytest.approx(45.80, abs=1e-6)
    assert window.model.item_for(others[0]).prediction.source is Source.MODEL
    # one clock per camera of the scanned photos, in a panel that is now shown
    panel = window.tracking.panel
    assert window.tracking.dock.isVisible()
    camera = item.camera
    assert camera in panel.boxes and panel.boxes[camera].value() == 0
    # five minutes later on the clock: half-way to the next fix, the marker follows
    window.selection.select_paths([canon])
    panel.boxes[camera].setValue(300)
    moved = window.model.item_for(canon)
    assert moved.prediction.lat == pytest.approx(45.8005, abs=1e-4)
    assert moved.prediction.lon == pytest.approx(15.9705, abs=1e-4)
    assert moved.result.reason.startswith("track, 5 min from a fix; clock +0:05:00")
    assert "clock +0:05:00" in window.detail.facts.text()
    marker = next(p for p in window.map.markers.photos if p.path == canon)
    assert (marker.lat, marker.lon) == (moved.prediction.lat, moved.prediction.lon)
    assert (
        window.model.item_for(others[0]).prediction
        == window.model.item_for(others[0]).model_prediction
    )
    # three hours off: beyond the track's end, back to the model's estimate
    panel.boxes[camera].setValue(3 * 3600)
    back = window.model.item_for(canon)
    assert back.prediction == model_pred and back.result.status is ScanStatus.PREDICTED
    # the next scan keeps the offset set here
    panel.boxes[camera].setValue(300)
    assert scan(qtbot, window) is False
    rescanned = window.model.item_for(canon)
    assert rescanned.result.status is ScanStatus.TRACK
    assert rescanned.prediction.lat == pytest.approx(45.8005, abs=1e-4)
    assert window.tracking.panel.boxes[camera].value() == 300

    # the window with the track, the moved photo and the clock panel, to look at
    window.resize(1400, 880)
    window.selection.select_paths([canon])
    window.map.focus_on(45.80, 15.97, 3)
    qtbot.wait(100)
    shot = window.grab()
    out = Path(tempfile.gettempdir()) / "geoscope_tracks.png"
    assert shot.save(str(out))
    image = shot.toImage()
    track = window.map.mapFromScene(QPointF(15.975, -45.805))
    pixel = window.map.grab().toImage().pixelColor(track.x(), track.y())
    assert pixel.blue() > pixel.red() + 60  # the track's blue line is drawn there
    assert image.width() >= 1400


def test_photos_the_track_no_longer_places_wait_for_a_scan(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "walk"
    canon = copy_fixture(folder, "Canon_40D.jpg")
    _drop_files(window, _walk(tmp_path, canon))  # before any folder: used by the scan
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    item = window.model.item_for(canon)
    assert item.result.status is ScanStatus.TRACK
    window.tracking.panel.boxes[item.camera].setValue(-3 * 3600)
    off = window.model.item_for(canon)
    assert off.status is PhotoStatus.PENDING and off.prediction is None
    assert off.message == OFF_TRACK
    assert canon not in {p.path for p in window.map.markers.photos}
    window.selection.select_paths([canon])
    assert "scan again for the model's estimate" in window.detail.facts.text()
    # a photo the user accepted stays where it was
    window.tracking.panel.boxes[item.camera].setValue(0)
    placed = window.model.item_for(canon)
    assert placed.result.status is ScanStatus.TRACK and placed.prediction is not None
    window.selection.select_paths([canon])
    assert window.accept_selected() == 1
    window.tracking.panel.boxes[item.camera].setValue(600)
    kept = window.model.item_for(canon)
    assert kept.status is PhotoStatus.ACCEPTED
    assert kept.prediction.lat == placed.prediction.lat
    assert kept.prediction.lon == placed.prediction.lon


def test_a_new_folder_and_its_track_are_in_view_wherever_the_map_was(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    first = tmp_path / "rome"
    copy_geo_photos(first, 1)
    assert window.open_folder(first)
    window.map.focus_on(41.9, 12.5, 5.0)  # the user looked at Rome
    west, south, east, north = window.map.visible_box()
    assert east - west < 5
    folder = tmp_path / "walk"
    canon = copy_fixture(folder, "Canon_40D.jpg")
    assert window.open_folder(folder)
    west, south, east, north = window.map.visible_box()
    assert east - west > 300  # a new folder starts on the whole world, not on Rome
    assert window.tracking.add([_walk(tmp_path, canon)])
    west, south, east, north = window.map.visible_box()
    assert west <= 15.958 and east >= 15.982 and south <= 45.788 and north >= 45.812
    assert east - west < 5  # zoomed to the track
