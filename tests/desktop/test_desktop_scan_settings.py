"""Scan settings in the app: the time-neighbour window (Scan menu), kept in the settings
store and passed to the scan as ``ScanOptions.time_window_s``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from geoscope_core.prediction import Source
from geoscope_core.scan.types import ScanOptions
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.settings_store import AppSettings
from geoscope_desktop.workers import ModelChoice
from tests.bundles import BLUE, RED, write_jpeg
from tests.desktop.appdriver import FakeDialogs, scan

ZAGREB = (45.815, 15.982)
CAMERA = ("Nikon", "D70")


def _source(window: MainWindow, path: Path) -> Source:
    pred = window.model.item_for(path).prediction
    assert pred is not None
    return pred.source


def test_time_window_is_set_in_the_scan_menu_used_by_the_scan_and_kept(
    qtbot: Any, window: MainWindow, tmp_path: Path, tiny_bundle: Path
) -> None:
    folder = tmp_path / "trip"
    folder.mkdir()
    write_jpeg(folder / "1.jpg", RED, gps=ZAGREB, taken_at="2024:05:01 10:00:00", camera=CAMERA)
    later = write_jpeg(folder / "2.jpg", BLUE, taken_at="2024:05:01 10:02:00", camera=CAMERA)
    assert window.open_folder(folder)
    assert window.scanner.options is not None and window.scanner.options.time_window_s == 300
    assert "(300 s)" in window.acts.time_window.text()
    assert scan(qtbot, window) is False
    assert _source(window, later) is Source.NEIGHBORS  # two minutes from the GPS photo

    dialogs = window.dialogs
    assert isinstance(dialogs, FakeDialogs)
    dialogs.number_answer = 60
    window.acts.time_window.trigger()
    assert dialogs.numbers_asked == [("Time-neighbour window", 300)]
    options = window.scanner.options
    assert options.time_window_s == 60 and (options.batch_size, options.workers) == (8, 2)
    assert "(60 s)" in window.acts.time_window.text()
    assert scan(qtbot, window) is False
    assert _source(window, later) is Source.MODEL  # now too far in time

    dialogs.number_answer = None  # cancelled: nothing changes
    window.acts.time_window.trigger()
    assert window.scanner.options.time_window_s == 60

    # the setting outlives the app: a new window on the same settings uses it
    window.close()
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    again = MainWindow(settings, ModelChoice(str(tiny_bundle), "cpu"), ScanOptions(workers=2))
    qtbot.addWidget(again)
    assert again.scanner.options.time_window_s == 60
    assert again.scanner.options.workers == 2
    assert "(60 s)" in again.acts.time_window.text()
    again.close()
