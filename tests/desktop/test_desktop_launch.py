"""Starting the app: the command, self-test, About box, no display, a screenshot.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from geoscope_core.settings import CACHE_ENV
from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.workers import ModelChoice
from tests.desktop.appdriver import (
    copy_fixture,
    copy_geo_photos,
    scan,
)


def test_app_command_imports_no_qt_at_module_level() -> None:
    code = (
        "import sys, geoscope_core.cli as c; c.build_parser(); "
        "bad = [m for m in ('PySide6', 'torch', 'onnxruntime') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_launch_exits_when_shown(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", CACHE_ENV: str(tmp_path)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geoscope_desktop",
            "--settings",
            str(tmp_path / "s.ini"),
            "--exit-when-shown",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("shown ")
    assert "torch" not in proc.stderr


def test_the_window_shows_before_onnx_runtime_is_imported(tmp_path: Path) -> None:
    """ONNX Runtime is no work for the first show: the model loads when a scan starts,
    and the GPU choice is checked when its menu opens."""
    code = (
        "import sys; from pathlib import Path; "
        "from PySide6.QtWidgets import QApplication; app = QApplication([]); "
        "from geoscope_desktop.main_window import MainWindow; "
        "from geoscope_desktop.settings_store import make_settings; "
        f"w = MainWindow(make_settings(Path({str(tmp_path / 's.ini')!r}))); "
        "w.show(); app.processEvents(); "
        "print('onnxruntime' in sys.modules); "
        "w.acts.check_cuda(); print('onnxruntime' in sys.modules); "
        "print(w.acts.provider_actions['cuda'].isEnabled()); w.close()"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", CACHE_ENV: str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    shown, checked, enabled = proc.stdout.split()[-3:]
    assert (shown, checked) == ("False", "True")
    import onnxruntime

    has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    assert enabled == str(has_cuda)


def test_screenshot_of_main_window_with_results(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    """Saves the window with results and the map; the PNG is for people to look at."""
    from geoscope_core.settings import DEFAULT_MODEL, models_dir

    default = models_dir() / DEFAULT_MODEL
    if default.is_dir():  # the shipped model gives real places; the tiny one random ones
        window.models.set_choice(ModelChoice(None, "cpu"))
    folder = tmp_path / "Holiday photos"
    photos = copy_geo_photos(folder, 14, start=3)
    photos.append(copy_fixture(folder, "gps/DSCN0010.jpg"))
    window.resize(1400, 880)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    estimated = [it for it in window.model.items() if it.status is PhotoStatus.ESTIMATED]
    window.selection.select_paths([estimated[1].path, estimated[2].path])
    assert window.accept_selected() == 2
    # show an estimate in Europe, where most of the other markers are
    europe = [it for it in estimated if it.prediction.country_code in ("HR", "FR")]
    window.selection.select_paths([(europe or estimated)[0].path])

    def visible_thumbnails_loaded() -> bool:
        view, proxy = window.table, window.proxy
        rows = [
            r
            for r in range(proxy.rowCount())
            if view.visualRect(proxy.index(r, 0)).intersects(view.viewport().rect())
        ]
        items = [proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 2) for r in rows]
        return len(rows) >= 8 and all(window.model.thumbnail(it.path) for it in items)

    qtbot.waitUntil(visible_thumbnails_loaded, timeout=30_000)
    qtbot.waitUntil(lambda: window.detail.preview.pixmap().width() > 50, timeout=30_000)
    qtbot.wait(50)
    shot = window.grab()
    out = tmp_path / "geoscope_main_window.png"
    assert shot.save(str(out))
    shutil.copyfile(out, Path(tempfile.gettempdir()) / "geoscope_screenshot.png")
    assert out.stat().st_size > 50_000  # a real picture, not a blank window
    image = shot.toImage()
    assert image.width() >= 1400 and image.height() >= 860
    # the map shows every photo and the selected estimate with its circle
    assert window.map.marker_count == len(photos)
    assert window.detail.alternatives.count() >= 2


def test_cli_app_self_test(tmp_path: Path, tiny_bundle: Path) -> None:
    """``geoscope app --self-test`` scans the sample photos headlessly and exits 0."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", CACHE_ENV: str(tmp_path)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geoscope_core.cli",
            "app",
            "--self-test",
            "--model",
            str(tiny_bundle),
            "--provider",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout
    assert "mountain_lake_with_gps.jpg" in proc.stdout and "has GPS" in proc.stdout


def test_self_test_with_a_missing_model_says_so_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", CACHE_ENV: str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "geoscope_core.cli", "app", "--model", "nosuch", "--self-test"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "the model cannot be used" in out and "nosuch" in out
    assert "Traceback" not in out


def test_about_box_summarises_the_default_model() -> None:
    from geoscope_desktop.about import about_markdown

    text = about_markdown(ModelChoice(None, "cpu"))
    assert "- Accuracy: within 25 km" in text and "GeoScore" in text
    assert "- Error radius: 68% of" in text
    assert '{"' not in text, "no raw JSON in the About box"
    assert "## Model card: `geoscope-lite`" in text  # the card beside the bundle, demoted


def test_no_display_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env[CACHE_ENV] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "geoscope_core.cli", "app"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "no display" in proc.stderr
