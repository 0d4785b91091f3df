"""What a photographer meets in the first hour: how many photos are selected, whole
dates, two files of one name told apart, the user's own placements told from the
model's guesses, F1 for help, and a Camera Clocks panel that stays narrow, lists this
folder's cameras, speaks ±h:mm:ss and hides from its menu item.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from geoscope_core.prediction import Source
from geoscope_core.scan.types import ScanOptions
from geoscope_desktop.clocks import OffsetBox, offset_text
from geoscope_desktop.controllers.tracks import CameraClock
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.photo_model import Column
from geoscope_desktop.settings_store import AppSettings
from geoscope_desktop.workers import ModelChoice
from tests.desktop.appdriver import FakeDialogs, copy_fixture, copy_geo_photos, scan
from tests.desktop.test_desktop_tracks import _walk


def test_selection_count_whole_dates_and_same_names_told_apart(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "trip"
    canon = copy_fixture(folder / "day1", "Canon_40D.jpg")
    (folder / "day2").mkdir()
    twin = folder / "day2" / canon.name
    shutil.copyfile(canon, twin)
    copy_geo_photos(folder, 2)
    assert window.open_folder(folder)
    names = [window.proxy.index(r, Column.NAME).data() for r in range(window.proxy.rowCount())]
    assert "day1/Canon_40D.jpg" in names and "day2/Canon_40D.jpg" in names
    assert sum("/" in n for n in names) == 2  # unique names stay bare

    window.table.selectAll()
    assert window.status.selected_label.text() == "4 selected ·"
    window.selection.select_paths([twin])
    assert window.status.selected_label.text() == "1 selected ·"

    # the date taken is read with the thumbnail; its column shows it whole
    qtbot.waitUntil(lambda: window.model.item_for(canon).taken_at is not None, timeout=10_000)
    row = window.proxy.mapFromSource(window.model.index(window.model.row_of(canon), 0)).row()
    text = window.proxy.index(row, Column.TAKEN).data()
    assert text.startswith("2008-05-")
    needed = window.table.fontMetrics().horizontalAdvance(text)
    assert window.table.columnWidth(Column.TAKEN) >= needed + 8


def test_the_users_own_placements_are_drawn_apart_from_the_models(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    photos = copy_geo_photos(tmp_path / "p", 2)
    assert window.open_folder(tmp_path / "p")
    assert scan(qtbot, window) is False
    window.selection.select_paths([photos[0]])
    window.placing.place_selected(42.65, 18.09, 1.0)  # Dubrovnik, by hand
    assert window.model.item_for(photos[0]).prediction.source is Source.USER
    window.selection.refresh_markers()
    window.map.focus_on(20, 20, 8000)
    window.map.update_layers()
    by_path = {c.paths[0]: c for c in window.map.markers.clusters if len(c.paths) == 1}
    assert by_path[photos[0]].by_evidence and "placed by your track" in by_path[photos[0]].toolTip()
    model_only = [c for c in window.map.markers.clusters if photos[1] in c.paths]
    assert model_only and not model_only[0].by_evidence


def test_f1_opens_help_not_about(qtbot: Any, window: MainWindow) -> None:
    assert window.acts.help.shortcut().toString() == "F1"
    assert window.acts.about.shortcut().isEmpty()
    window.acts.help.trigger()
    text = window.dialogs.markdowns[-1]  # type: ignore[attr-defined]
    assert text.startswith("# Using GeoScope") and "Place Here" in text and "| F1 | help |" in text


def test_camera_clocks_panel_is_narrow_toggled_and_this_folders_own(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    act, dock, panel = window.acts.clocks, window.tracking.dock, window.tracking.panel
    assert act.isCheckable() and not act.isChecked() and not dock.isVisible()
    act.trigger()
    assert dock.isVisible() and act.isChecked()
    panel.set_cameras(
        [
            CameraClock("NIKON CORPORATION NIKON D7000 serial 1234567890", 5400.0, "estimated", 42),
            CameraClock("Apple iPhone 12 Pro Max", -5.0, "none", 1),
        ]
    )
    qtbot.wait(10)
    # the window still fits a 1,600 px screen, and the panel can be made narrow
    assert window.minimumSizeHint().width() <= 1400
    assert dock.minimumSizeHint().width() <= 260
    box = panel.boxes["NIKON CORPORATION NIKON D7000 serial 1234567890"]
    assert isinstance(box, OffsetBox) and box.text() == "+1:30:00"
    assert panel.boxes["Apple iPhone 12 Pro Max"].text() == "-0:00:05"
    box.lineEdit().setText("-2:00:30")
    box.interpretText()
    assert box.value() == -7230 and offset_text(-7230) == "-2:00:30"
    act.trigger()
    assert not dock.isVisible() and not act.isChecked()

    # a track and a scan in one folder; another folder lists none of its cameras
    folder = tmp_path / "one"
    canon = copy_fixture(folder, "Canon_40D.jpg")
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    assert window.tracking.add([_walk(tmp_path, canon)])
    assert len(panel.boxes) == 1
    other = tmp_path / "two"
    copy_geo_photos(other, 1)
    assert window.open_folder(other)
    assert panel.boxes == {}
    assert window.selection.table.selectionModel().selectedRows()


def _late_walk(tmp_path: Path, photo: Path, minutes_after: int) -> Path:
    """A walk in Zagreb starting ``minutes_after`` the photo was taken (the camera's
    clock is Zagreb's, UTC+2 in May), a fix every 10 min for 90 min."""
    out = subprocess.run(
        ["exiftool", "-s3", "-d", "%Y-%m-%dT%H:%M:%S", "-DateTimeOriginal", str(photo)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    start = datetime.fromisoformat(out) - timedelta(hours=2) + timedelta(minutes=minutes_after)
    points = "".join(
        f'<trkpt lat="{45.80 + 0.001 * k}" lon="{15.97 + 0.001 * k}">'
        f"<time>{start + timedelta(minutes=10 * k):%Y-%m-%dT%H:%M:%S}Z</time></trkpt>"
        for k in range(10)
    )
    gpx = tmp_path / "late.gpx"
    gpx.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>' + points + "</trkseg></trk></gpx>"
    )
    return gpx


def test_a_track_that_places_no_photo_says_why_shows_itself_and_offers_the_offset(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "late"
    canon = copy_fixture(folder, "Canon_40D.jpg")
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    dialogs.answer = False  # first: only told
    window.map.reset_view()
    assert window.tracking.add([_late_walk(tmp_path, canon, 56)])
    title, text, _ = dialogs.confirms[-1]
    assert title == "The track places no photo"
    assert "0 of 1 photo inside the track; photos are 56 min before it" in text
    assert "+1:41:00" in text  # the photos moved to the middle of the track
    west, south, east, north = window.map.visible_box()
    assert west <= 15.97 and east >= 15.979 and south <= 45.80 and north >= 45.809
    assert east - west < 5  # zoomed to the track, not the world
    assert window.model.item_for(canon).prediction.source is Source.MODEL

    # accepted: the clock is corrected and the photo lands on the track
    dialogs.answer = True
    assert window.tracking.add([_late_walk(tmp_path, canon, 56)])
    item = window.model.item_for(canon)
    assert item.prediction.source is Source.TRACK
    assert window.tracking.panel.boxes[item.camera].text() == "+1:41:00"


def test_tracks_and_clock_offsets_come_back_with_the_folder(
    qtbot: Any, window: MainWindow, tmp_path: Path, tiny_bundle: Path
) -> None:
    folder = tmp_path / "trip"
    canon = copy_fixture(folder, "Canon_40D.jpg")
    gpx = _late_walk(tmp_path, canon, 0)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    assert window.tracking.add([gpx])
    camera = window.model.item_for(canon).camera
    window.tracking.panel.boxes[camera].setValue(300)
    window.close()

    again = MainWindow(
        AppSettings(QSettings(window.settings.store.fileName(), QSettings.Format.IniFormat)),
        ModelChoice(str(tiny_bundle), "cpu"),
        ScanOptions(batch_size=8, workers=2),
    )
    again.dialogs = FakeDialogs()  # type: ignore[assignment]
    qtbot.addWidget(again)
    assert again.open_folder(folder)
    ev = again.scanner.options.evidence
    assert ev.track_files == (gpx,)
    assert [(o.camera, o.seconds) for o in ev.time_offsets] == [(camera, 300.0)]
    assert len(again.map.markers.tracks) == 1  # drawn at once
    assert scan(qtbot, again) is False
    placed = again.model.item_for(canon)
    assert placed.prediction.source is Source.TRACK and "clock +0:05:00" in placed.result.reason
    # another folder gets none of them
    other = tmp_path / "other"
    copy_geo_photos(other, 1)
    assert again.open_folder(other)
    assert again.settings.folder_evidence(other) == ([], {})
