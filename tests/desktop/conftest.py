"""Fixtures of the desktop tests: a tiny but real model bundle (``tests.bundles``) and the
main window on it, shown offscreen (QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# the desktop tests need the 'desktop' extra and pytest-qt: without them they skip
pytest.importorskip("PySide6", reason="needs the 'desktop' extra (PySide6)")
pytest.importorskip("pytestqt", reason="needs pytest-qt (the 'dev' extra)")

from PySide6.QtCore import QSettings

from geoscope_core.scan.types import ScanOptions
from geoscope_core.settings import CACHE_ENV
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.settings_store import AppSettings
from geoscope_desktop.workers import ModelChoice
from tests.bundles import make_bundle
from tests.desktop.appdriver import FakeDialogs


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle") / "tiny", name="tiny-desktop")


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(
        settings,
        ModelChoice(str(tiny_bundle), "cpu"),
        ScanOptions(batch_size=8, workers=2),
    )
    win.dialogs = FakeDialogs()  # type: ignore[assignment]
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
