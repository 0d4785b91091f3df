"""The time zone of the camera clocks in the Camera Clocks panel: chosen from the zones
where the track is, fixed UTC offsets or any IANA zone, it moves the photos exactly as
``geoscope scan --tz`` places them, and the folder keeps it.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from geoscope_core.cli import main
from geoscope_core.scan.types import ScanOptions
from geoscope_core.settings import data_dir
from geoscope_desktop.clocks import ZoneBox
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.settings_store import AppSettings
from geoscope_desktop.workers import ModelChoice
from tests.desktop.appdriver import FakeDialogs, scan

# a Canon whose clock was on PST (UTC-8) in May, when California kept PDT (UTC-7): with
# the zone of the place its photos fall 56 min before the track (the GPS photo of the
# three places the others), with -08:00 (exiv2's own test) the track places them
FURNACE = data_dir() / "tracks" / "trips" / "exiv2_furnacecreek_2008-05-08"
FURNACE_TRACK = data_dir() / "tracks" / "tracks" / "exiv2" / "FurnaceCreekInn.gpx"

Places = dict[str, tuple[str, float, float, float, str]]


def _trip(tmp_path: Path) -> Path:
    if not FURNACE.is_dir() or not FURNACE_TRACK.is_file():
        pytest.fail(f"shared data missing: {FURNACE} (set $GEOSCOPE_DATA)")
    folder = tmp_path / "furnace"
    folder.mkdir()
    for src in sorted(FURNACE.glob("*.jpg")):
        shutil.copyfile(src, folder / src.name)
    return folder


def _cli(folder: Path, bundle: Path, out: Path, *zone: str) -> Places:
    args = ["scan", str(folder), "--model", str(bundle), f"--track={FURNACE_TRACK}"]
    assert main([*args, *zone, "--no-cache", "--out", str(out)]) == 0
    return {
        Path(r["path"]).name: (
            r["status"],
            r["prediction"]["lat"],
            r["prediction"]["lon"],
            r["prediction"]["radius_km"],
            r["reason"],
        )
        for r in json.loads(out.read_text(encoding="utf-8"))
    }


def _app(win: MainWindow) -> Places:
    out: Places = {}
    for it in win.model.items():
        assert it.result is not None and it.prediction is not None
        p = it.prediction
        out[it.path.name] = (it.result.status.value, p.lat, p.lon, p.radius_km, it.result.reason)
    return out


def _choose(box: ZoneBox, zone: str) -> None:
    """Pick ``zone`` from the box as the user does (its popup entry activated)."""
    i = box.findData(zone)
    assert i >= 0, zone
    box.setCurrentIndex(i)
    box.activated.emit(i)


def test_the_zone_chosen_moves_photos_as_scan_tz_does_and_the_folder_keeps_it(
    qtbot: Any, window: MainWindow, tmp_path: Path, tiny_bundle: Path
) -> None:
    folder = _trip(tmp_path)
    auto = _cli(folder, tiny_bundle, tmp_path / "auto.json")
    pst = _cli(folder, tiny_bundle, tmp_path / "pst.json", "--tz=-08:00")
    la = _cli(folder, tiny_bundle, tmp_path / "la.json", "--tz=America/Los_Angeles")
    assert {s for s, *_ in pst.values()} == {"exif", "track"}
    assert auto["FurnaceCreekInn2.jpg"][0] == "neighbors"  # a different answer to move to

    assert window.open_folder(folder)
    assert window.tracking.add([FURNACE_TRACK])
    assert scan(qtbot, window) is False
    assert _app(window) == auto
    box = window.tracking.panel.zone_box
    assert box.zone() == ""
    # the zone where the track is comes first, as tzfpy tells it offline
    assert box.itemData(1) == "America/Los_Angeles"  # PDT in May
    assert box.itemText(1) == "America/Los_Angeles, UTC−07:00 · your track"
    assert "America/Los_Angeles, UTC−07:00" in window.tracking.panel.zone_note.text()
    assert box.findText("UTC−08:00") == box.findData("-08:00") > 0
    assert box.findData("Europe/Rome") > 0 and box.findData("Etc/GMT+8") < 0

    # the clocks were on PST: the photos move onto the track, as `scan --tz -08:00` puts them
    _choose(box, "-08:00")
    assert window.scanner.options.evidence.tz == "-08:00"
    assert window.tracking.panel.zone_note.text().endswith(": UTC−08:00")
    assert _app(window) == pst
    _choose(box, "America/Los_Angeles")
    assert _app(window) == la
    _choose(box, "")
    assert _app(window) == auto
    _choose(box, "-08:00")
    assert window.settings.folder_zone(folder) == "-08:00"
    window.close()

    # the folder keeps its zone: opened again, a scan places by it at once
    again = MainWindow(
        AppSettings(QSettings(window.settings.store.fileName(), QSettings.Format.IniFormat)),
        ModelChoice(str(tiny_bundle), "cpu"),
        ScanOptions(batch_size=8, workers=2),
    )
    again.dialogs = FakeDialogs()  # type: ignore[assignment]
    qtbot.addWidget(again)
    assert again.open_folder(folder)
    assert again.tracking.panel.zone_box.zone() == "-08:00"
    assert scan(qtbot, again) is False
    assert _app(again) == pst
    # another folder reads its clocks where its photos were
    other = tmp_path / "other"
    other.mkdir()
    assert again.open_folder(other)
    ev = again.scanner.options.evidence
    assert ev.tz is None and ev.track_files == () and ev.time_offsets == ()
    box = again.tracking.panel.zone_box
    assert box.zone() == "" and box.suggestions == []  # nothing of the trip's
    assert again.map.markers.tracks == []


def test_a_zone_is_found_by_typing_and_text_that_names_none_gives_way(qtbot: Any) -> None:
    from PySide6.QtCore import Qt

    from geoscope_desktop.clocks import ClockPanel

    panel = ClockPanel()
    qtbot.addWidget(panel)
    panel.show()
    chosen: list[str] = []
    panel.zone_changed.connect(chosen.append)
    box = panel.zone_box
    edit = box.lineEdit()
    edit.selectAll()
    qtbot.keyClicks(edit, "Europe/Rome")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert chosen == ["Europe/Rome"] and box.zone() == "Europe/Rome"
    # a part of a name, in any case, completes to the zones that contain it
    edit.selectAll()
    qtbot.keyClicks(edit, "tokyo")
    completer = box.completer()
    assert [
        completer.completionModel().index(i, 0).data() for i in range(completer.completionCount())
    ] == ["Asia/Tokyo"]
    # text that names no zone changes nothing and gives way to the zone in use
    edit.selectAll()
    qtbot.keyClicks(edit, "nowhere")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: edit.text() == "Europe/Rome", timeout=2000)
    assert chosen == ["Europe/Rome"] and box.zone() == "Europe/Rome"
