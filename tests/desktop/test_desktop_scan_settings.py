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


def test_the_app_scans_in_its_own_small_batches_whatever_else_is_set(
    qtbot: Any, tmp_path: Path, tiny_bundle: Path, monkeypatch: Any
) -> None:
    """Without options of its own the window scans ``SCAN_BATCH`` photos per encoder run
    (ONNX Runtime's memory grows with the run), and setting the time window, a track or
    a time zone keeps that batch."""
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_desktop.controllers.scan import SCAN_BATCH

    runs: list[int] = []
    real = Predictor.predict_with_embeddings

    def counted(self: Predictor, pixels: Any) -> Any:
        runs.append(len(pixels))
        return real(self, pixels)

    monkeypatch.setattr(Predictor, "predict_with_embeddings", counted)
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings, ModelChoice(str(tiny_bundle), "cpu"))
    win.dialogs = FakeDialogs()  # type: ignore[assignment]
    qtbot.addWidget(win)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(2 * SCAN_BATCH + 3):
        write_jpeg(folder / f"{i:02d}.jpg", RED if i % 2 else BLUE)
    win.scanner.set_time_window(60)
    win.scanner.set_zone("+02:00")
    assert win.open_folder(folder)
    assert scan(qtbot, win) is False
    assert sum(runs) == 2 * SCAN_BATCH + 3 and max(runs) == SCAN_BATCH < ScanOptions().batch_size
    options = win.scanner.options
    assert (options.batch_size, options.time_window_s) == (SCAN_BATCH, 60)
    win.close()
