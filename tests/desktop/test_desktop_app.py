"""The desktop app driven through its window (pytest-qt, QT_QPA_PLATFORM=offscreen).

Photos are real: copies of the shared geotagged set (their GPS stripped long
ago) and of the camera fixtures; the model is a tiny but real bundle built by
``tests.bundles``. Dialogs are answered by a stand-in so nothing modal blocks.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import exifread
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from geoscope_core.scan.types import ScanOptions
from geoscope_core.settings import CACHE_ENV, data_dir
from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.photo_model import Column, Filter
from geoscope_desktop.settings_store import AppSettings
from geoscope_desktop.workers import ModelChoice
from tests.bundles import make_bundle

SCAN_TIMEOUT_MS = 120_000
FIXTURE_JPEGS = ("Canon_40D.jpg", "Nikon_D70.jpg", "Fujifilm_FinePix_E500.jpg")


# --------------------------------------------------------------------- fixtures --
class FakeDialogs:
    """Answers the window's dialogs and records what it was asked."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []
        self.infos: list[tuple[str, str, str]] = []
        self.confirms: list[tuple[str, str, str]] = []
        self.answer = True
        self.folder: Path | None = None
        self.save_to: Path | None = None
        self.open_path: Path | None = None
        self.open_paths: list[Path] = []
        self.markdowns: list[str] = []
        self.unwritten_answer = "quit"
        self.unwritten_asked: list[int] = []

    def choose_folder(self, title: str, start: Path | None = None) -> Path | None:
        return self.folder

    def save_file(self, title: str, start: Path, filters: str) -> Path | None:
        return self.save_to

    def open_file(self, title: str, filters: str) -> Path | None:
        return self.open_path

    def open_files(self, title: str, filters: str = "") -> list[Path]:
        return self.open_paths

    def confirm(self, title: str, text: str, details: str = "", ok_text: str = "OK") -> bool:
        self.confirms.append((title, text, details))
        return self.answer

    def error(self, title: str, text: str, details: str = "") -> None:
        self.errors.append((title, text, details))

    def info(self, title: str, text: str, details: str = "") -> None:
        self.infos.append((title, text, details))

    def markdown(self, title: str, markdown: str) -> None:
        self.markdowns.append(markdown)

    def unwritten(self, n: int) -> str:
        self.unwritten_asked.append(n)
        return self.unwritten_answer


def _geo_rows() -> list[dict[str, str]]:
    labels = data_dir() / "geo" / "labels.csv"
    if not labels.is_file():
        pytest.fail(f"shared data missing: {labels} (set $GEOSCOPE_DATA)")
    with open(labels, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def copy_geo_photos(dest: Path, n: int, start: int = 0) -> list[Path]:
    """``n`` real photos from the shared geotagged set, spread over its sets."""
    rows = _geo_rows()
    step = max(1, len(rows) // max(n, 1))
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for row in rows[start::step][:n]:
        src = data_dir() / "geo" / row["path"]
        target = dest / src.name
        shutil.copyfile(src, target)  # copyfile: the shared files are read-only
        out.append(target)
    return out


def copy_fixture(dest: Path, rel: str) -> Path:
    src = data_dir() / "fixtures" / "exif-samples" / "jpg" / rel
    if not src.is_file():
        pytest.fail(f"shared fixture missing: {src}")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / Path(rel).name
    shutil.copyfile(src, target)
    return target


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


def scan(qtbot: Any, win: MainWindow) -> bool:
    """Start a scan and wait for it; returns ``cancelled``."""
    with qtbot.waitSignal(win.scan_finished, timeout=SCAN_TIMEOUT_MS) as blocker:
        assert win.start_scan()
    return bool(blocker.args[0])


def gps_of(path: Path) -> tuple[float, float] | None:
    with open(path, "rb") as f:
        tags = exifread.process_file(f, details=False)
    if "GPS GPSLatitude" not in tags:
        return None

    def deg(tag: Any) -> float:
        d, m, s = (float(x.num) / float(x.den) for x in tag.values)
        return d + m / 60 + s / 3600

    lat = deg(tags["GPS GPSLatitude"]) * (-1 if str(tags["GPS GPSLatitudeRef"]) == "S" else 1)
    lon = deg(tags["GPS GPSLongitude"]) * (-1 if str(tags["GPS GPSLongitudeRef"]) == "W" else 1)
    return lat, lon


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------ tests --
def test_end_to_end_scan_accept_write_undo(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    photos = copy_geo_photos(folder, 6)
    photos += [copy_fixture(folder, name) for name in FIXTURE_JPEGS]
    photos.append(copy_fixture(folder, "gps/DSCN0010.jpg"))
    originals = {p: sha(p) for p in photos}

    window.dialogs.folder = folder  # type: ignore[attr-defined]
    with qtbot.waitSignal(window.folder_opened):
        window.acts.open.trigger()
    assert len(window.model) == len(photos)
    assert window.acts.scan.isEnabled() and not window.acts.write.isEnabled()
    assert window.selection.rows(), "the first photo is selected"
    assert not window.acts.accept.isEnabled() and not window.acts.reject.isEnabled()
    # the file's own GPS shows before any scan (read with the thumbnail)
    window.table.scrollToBottom()
    qtbot.waitUntil(lambda: window.model.item_for(folder / "DSCN0010.jpg").gps is not None)
    assert window.model.item_for(folder / "DSCN0010.jpg").status is PhotoStatus.PENDING

    assert scan(qtbot, window) is False
    items = {it.path.name: it for it in window.model.items()}
    assert items["DSCN0010.jpg"].status is PhotoStatus.HAS_GPS
    assert items["DSCN0010.jpg"].gps is not None
    estimated = [it for it in items.values() if it.status is PhotoStatus.ESTIMATED]
    assert len(estimated) == len(photos) - 1
    for it in estimated:
        assert it.prediction is not None and 0 <= it.prediction.confidence <= 1
        assert it.prediction.top_k, "the detail pane needs alternatives"
    assert window.map.marker_count == len(photos)
    assert window.progress.value() == len(photos)

    # select everything and accept: the GPS photo is not reviewable and stays as it is
    window.table.selectAll()
    qtbot.keyClick(window.table, Qt.Key.Key_A)
    accepted = window.review.accepted_items()
    assert len(accepted) == len(estimated)
    assert window.model.item_for(folder / "DSCN0010.jpg").status is PhotoStatus.HAS_GPS
    assert window.acts.write.isEnabled()

    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        assert window.write_accepted()
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    _title, text, _details = dialogs.confirms[-1]
    assert f"{len(accepted)} photos" in text
    report = blocker.args[0]
    assert report.journal is not None and report.journal.is_file()
    assert dialogs.errors == []
    for it in accepted:
        now = window.model.item_for(it.path)
        assert now.status is PhotoStatus.WRITTEN, now.message
        lat, lon = gps_of(it.path)  # type: ignore[misc]
        assert lat == pytest.approx(it.prediction.lat, abs=1e-4)
        assert lon == pytest.approx(it.prediction.lon, abs=1e-4)
        assert sha(it.path) != originals[it.path]
    assert sha(folder / "DSCN0010.jpg") == originals[folder / "DSCN0010.jpg"]
    assert window.acts.undo.isEnabled()

    with qtbot.waitSignal(window.undo_finished, timeout=60_000):
        assert window.undo_last_write()
    assert dialogs.errors == []
    for p, digest in originals.items():
        assert sha(p) == digest, f"{p.name} not restored byte for byte"
    assert all(window.model.item_for(it.path).status is PhotoStatus.ACCEPTED for it in accepted)
    assert not window.acts.undo.isEnabled()


def test_cancel_during_scan_keeps_window_usable(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    photos = copy_geo_photos(folder, 400)
    assert window.open_folder(folder)
    cancelled_at: list[int] = []

    def on_progress(done: int, total: int) -> None:  # runs in the GUI thread
        if not cancelled_at:
            cancelled_at.append(done)
            window.acts.cancel.trigger()

    window.scan_progress.connect(on_progress)
    with qtbot.waitSignal(window.scan_finished, timeout=SCAN_TIMEOUT_MS) as blocker:
        assert window.start_scan()
        assert window.acts.cancel.isEnabled() and not window.acts.scan.isEnabled()
    assert blocker.args == [True]
    counts = window.model.counts()
    assert counts[PhotoStatus.PENDING] > 0, "the scan ran to the end despite Cancel"
    assert counts[PhotoStatus.ESTIMATED] >= 1
    assert not window.progress.isVisible()
    assert window.acts.scan.isEnabled() and not window.acts.cancel.isEnabled()
    assert window.dialogs.errors == []  # type: ignore[attr-defined]
    assert "cancelled" in window.statusBar().currentMessage()
    # the window is still usable: a second scan finishes every photo
    window.scan_progress.disconnect(on_progress)
    messages: list[str] = []
    window.scan_progress.connect(lambda *_: messages.append(window.statusBar().currentMessage()))
    assert scan(qtbot, window) is False
    assert messages and not any("cancelled" in m for m in messages)
    assert window.model.counts()[PhotoStatus.ESTIMATED] == len(photos)


def test_broken_files_are_reported_per_photo(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "broken"
    good = copy_geo_photos(folder, 2)
    broken = [copy_fixture(folder, "corrupted.jpg")]
    broken += [copy_fixture(folder, f"invalid/{n}") for n in ("image00971.jpg", "image01088.jpg")]
    (folder / "not_a_photo.jpg").write_bytes(b"this is not a JPEG at all\n" * 10)
    (folder / "empty.jpg").write_bytes(b"")
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    items = {it.path.name: it for it in window.model.items()}
    for name in ("not_a_photo.jpg", "empty.jpg"):
        assert items[name].status is PhotoStatus.ERROR
        assert items[name].message
    for p in good:
        assert items[p.name].status is PhotoStatus.ESTIMATED
    for p in broken:  # decodable-enough or an error: never pending, never a crash
        assert items[p.name].status in (PhotoStatus.ESTIMATED, PhotoStatus.ERROR)
    window.proxy.set_mode(Filter.ERRORS)
    assert window.proxy.rowCount() == window.model.counts()[PhotoStatus.ERROR] >= 2
    assert window.dialogs.errors == []  # type: ignore[attr-defined]
    # selecting an error row shows its reason and accept does nothing
    window.select_paths([folder / "empty.jpg"])
    assert window.detail.item is not None and window.detail.item.status is PhotoStatus.ERROR
    assert window.accept_selected() == 0


def test_read_only_folder_write_fails_per_file_without_crashing(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "readonly"
    photos = copy_geo_photos(folder, 3)
    before = {p: sha(p) for p in photos}
    for p in photos:
        p.chmod(0o444)
    folder.chmod(0o555)
    try:
        assert window.open_folder(folder)
        assert scan(qtbot, window) is False
        window.table.selectAll()
        assert window.accept_selected() == 3
        with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
            assert window.write_accepted()
        report = blocker.args[0]
        assert {r.action for r in report.results} <= {"failed", "skipped"}
        for p in photos:
            it = window.model.item_for(p)
            assert it.status is PhotoStatus.ACCEPTED and it.message, it
            assert sha(p) == before[p]
        dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
        assert dialogs.infos and "0 photo(s)" in dialogs.infos[-1][1]
    finally:
        folder.chmod(0o755)
        for p in photos:
            p.chmod(0o644)


def test_corrections_from_alternatives_and_map_click(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "c"
    (photo,) = copy_geo_photos(folder, 1)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.select_paths([photo])
    item = window.detail.item
    assert item is not None and item.prediction is not None
    assert window.detail.alternatives.count() == min(5, len(item.prediction.top_k))
    assert window.detail.alternatives.count() >= 2

    second = item.prediction.top_k[1]
    window.detail.choose_alternative(1)
    moved = window.model.item_for(photo)
    assert (moved.prediction.lat, moved.prediction.lon) == (second.lat, second.lon)
    assert moved.corrected and window.detail.revert_btn.isEnabled()

    # a real click on the map, at Zagreb: the estimate moves there and is named
    window.map.focus_on(45.815, 15.982, 200)
    window.map.centerOn(15.982, -45.815)
    coarse = window.map.km_per_pixel()
    window.map.zoom_by(4.0)  # the pick radius follows the zoom
    window.map.centerOn(15.982, -45.815)
    assert window.map.km_per_pixel() == pytest.approx(coarse / 4, rel=0.01)
    qtbot.wait(10)
    pos = window.map.view_point(45.815, 15.982)
    qtbot.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    clicked = window.model.item_for(photo).prediction
    assert clicked.lat == pytest.approx(45.815, abs=0.05)
    assert clicked.lon == pytest.approx(15.982, abs=0.05)
    assert clicked.country_code == "HR"
    assert 0 < clicked.radius_km < 25
    # dragging pans instead of moving the estimate
    start = window.map.view_point(10.0, 10.0)
    qtbot.mousePress(window.map.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(window.map.viewport(), start + QPoint(40, 25))
    qtbot.mouseRelease(window.map.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(40, 25))
    assert window.model.item_for(photo).prediction == clicked

    window.detail.revert_btn.click()
    assert window.model.item_for(photo).prediction == item.prediction


def test_filter_sort_export_and_about(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    photos = copy_geo_photos(folder, 8)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    confs = sorted(it.prediction.confidence for it in window.model.items())
    window.proxy.set_threshold(confs[3] + 1e-9)  # exactly four below the threshold
    window.filter_box.setCurrentIndex(list(Filter).index(Filter.UNCONFIDENT))
    assert window.proxy.rowCount() == 4
    window.filter_box.setCurrentIndex(list(Filter).index(Filter.ALL))
    window.table.sortByColumn(Column.CONFIDENCE, Qt.SortOrder.DescendingOrder)
    shown = [
        window.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 2).prediction.confidence
        for r in range(window.proxy.rowCount())
    ]
    assert shown == sorted(shown, reverse=True)
    window.search.setText(photos[0].name[:12])
    assert 1 <= window.proxy.rowCount() < len(photos)
    window.search.clear()

    # reject one, then export: the rejected photo has no location in the GeoJSON
    window.select_paths([photos[0]])
    assert window.reject_selected() == 1
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    dialogs.save_to = tmp_path / "out.geojson"
    with qtbot.waitSignal(window.export_finished):
        window.acts.export_geojson.trigger()
    gj = json.loads((tmp_path / "out.geojson").read_text())
    assert gj["type"] == "FeatureCollection"
    assert len(gj["features"]) == len(photos) - 1
    paths = {f["properties"]["path"] for f in gj["features"]}
    assert str(photos[0]) not in paths
    dialogs.save_to = tmp_path / "out.csv"
    window.acts.export_csv.trigger()
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(photos) and {"path", "lat", "lon", "confidence"} <= set(rows[0])

    window.acts.about.trigger()
    text = dialogs.markdowns[-1]
    assert "tiny-desktop" in text and window.models.predictor is not None
    assert window.models.predictor.model_id in text
    assert '{"' not in text and "[{" not in text, "no raw JSON in the About box"


def test_settings_recent_folders_and_drop(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    copy_geo_photos(a, 1)
    copy_geo_photos(b, 2)
    assert window.open_folder(a)
    # drop a file from folder b: its folder opens
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(next(b.iterdir())))])
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.folder_opened) as blocker:
        window.dropEvent(drop)
    assert blocker.args == [b] and len(window.model) == 2
    assert window.settings.recent_folders()[:2] == [b, a]
    assert [a.text() for a in window.recent_menu.actions()][:2] == [f"&1 {b}", f"&2 {a}"]
    window.acts.provider_actions["cpu"].trigger()
    window.close()

    again = MainWindow(
        AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    )
    qtbot.addWidget(again)
    assert again.settings.recent_folders()[:2] == [b, a]
    assert again.models.choice.provider == "cpu"
    assert again.models.choice.model == window.models.choice.model
    assert again.acts.provider_actions["cpu"].isChecked()


def test_missing_folder_and_bad_model_show_errors(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    assert not window.open_folder(tmp_path / "does-not-exist")
    assert dialogs.errors and "could not be read" in dialogs.errors[-1][1]
    # a folder that is not a bundle is refused with a message; the choice stays
    dialogs.folder = tmp_path
    before = window.models.choice
    window.acts.choose_model.trigger()
    assert dialogs.errors[-1][0] == "Not a usable model bundle"
    assert window.models.choice == before
    # a model that fails to load during a scan: an error dialog, the window goes on
    folder = tmp_path / "p"
    copy_geo_photos(folder, 1)
    assert window.open_folder(folder)
    window.models.set_choice(ModelChoice(str(tmp_path / "nope"), "cpu"))
    assert scan(qtbot, window) is False
    assert dialogs.errors[-1][0] == "Scan failed"
    assert window.model.counts()[PhotoStatus.PENDING] == 1
    assert window.acts.scan.isEnabled()


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
    window.select_paths([estimated[1].path, estimated[2].path])
    assert window.accept_selected() == 2
    # show an estimate in Europe, where most of the other markers are
    europe = [it for it in estimated if it.prediction.country_code in ("HR", "FR")]
    window.select_paths([(europe or estimated)[0].path])

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


def test_map_wheel_zoom_and_reset(qtbot: Any, window: MainWindow) -> None:
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    view = window.map
    view.reset_view()
    world = view.km_per_pixel()
    centre = QPointF(view.viewport().rect().center())

    def wheel(steps: int) -> None:
        ev = QWheelEvent(
            centre,
            view.mapToGlobal(centre),
            P(0, 0),
            P(0, 120 * steps),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        view.wheelEvent(ev)

    wheel(3)
    assert view.km_per_pixel() == pytest.approx(world / 1.25**3, rel=0.01)
    for _ in range(40):  # zoom is bounded
        wheel(5)
    assert view.km_per_pixel() > 0.9 * world / 4000
    window.acts.reset_map.trigger()
    assert view.km_per_pixel() == pytest.approx(world, rel=0.01)


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
    assert "grace_hopper_with_gps.jpg" in proc.stdout and "has GPS" in proc.stdout


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


def test_map_draws_natural_earth_10m_and_town_names_by_zoom(qtbot: Any, window: MainWindow) -> None:
    from geoscope_desktop.map_layers import Zoom

    view = window.map
    view.reset_view()
    view.update_layers()
    assert view.layers.zoom is Zoom.WORLD and not view.layers.visible_layers
    assert view.layers.labels == []
    view.focus_on(45.1, 15.2, 250)  # Croatia
    assert view.layers.zoom is Zoom.COUNTRY
    assert {"land_coarse", "borders", "admin1", "lakes"} <= view.layers.visible_layers
    assert "Zagreb" in view.layers.labels
    view.focus_on(42.65, 18.09, 4)  # Dubrovnik
    assert view.layers.zoom is Zoom.TOWN
    assert {"land", "borders"} <= view.layers.visible_layers
    assert "land_coarse" not in view.layers.visible_layers
    assert "Dubrovnik" in view.layers.labels
    shots = {}
    for name, (lat, lon, km) in {
        "world": (20.0, 0.0, 20_000),
        "country": (45.1, 15.2, 250),
        "town": (42.65, 18.09, 4),
    }.items():
        view.focus_on(lat, lon, km)
        qtbot.wait(20)
        shots[name] = view.grab()
        shots[name].save(str(Path(tempfile.gettempdir()) / f"geoscope_map_{name}.png"))
    # at town zoom the sea and the land differ along the 1:10m coast: two colours at least
    town = shots["town"].toImage()
    colours = {town.pixelColor(x, y).name() for x in range(0, town.width(), 7) for y in (20, 60)}
    assert len(colours) >= 2


def test_dark_palette_darkens_the_map(qtbot: Any) -> None:
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    from geoscope_desktop.map_layers import DARK, LIGHT
    from geoscope_desktop.worldmap import WorldMapView

    app = QApplication.instance()
    before = app.palette()
    dark = QPalette(before)
    dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e8eaed"))
    app.setPalette(dark)
    try:
        view = WorldMapView()
        qtbot.addWidget(view)
        assert view.colors is DARK
    finally:
        app.setPalette(before)
    light = WorldMapView()
    qtbot.addWidget(light)
    assert light.colors is LIGHT
    assert DARK.land.lightness() < 80 < LIGHT.land.lightness()


def test_review_work_is_kept_per_folder_and_quitting_asks(
    qtbot: Any, window: MainWindow, tmp_path: Path, tiny_bundle: Path
) -> None:
    from geoscope_core.prediction import Candidate

    folder = tmp_path / "trip"
    photos = copy_geo_photos(folder, 4)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.select_paths([photos[0]])
    assert window.accept_selected() == 1
    window.select_paths([photos[1]])
    assert window.reject_selected() == 1
    window.select_paths([photos[2]])
    window.placing.correct_current(
        Candidate(42.6507, 18.0944, 1.0, "HR", "Croatia", "", "Dubrovnik")
    )
    moved = window.model.item_for(photos[2]).prediction
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]

    # quitting with an accepted, unwritten location asks; "cancel" keeps the window open
    dialogs.unwritten_answer = "cancel"
    window.close()
    assert dialogs.unwritten_asked == [1] and window.isVisible()
    dialogs.unwritten_answer = "quit"
    window.close()
    assert not window.isVisible()

    def reopen() -> MainWindow:
        win = MainWindow(
            AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)),
            ModelChoice(str(tiny_bundle), "cpu"),
            ScanOptions(batch_size=8, workers=2),
        )
        win.dialogs = FakeDialogs()  # type: ignore[assignment]
        qtbot.addWidget(win)
        assert win.open_folder(folder)
        return win

    # a new window on the same folder restores every decision, even before a scan
    again = reopen()
    assert "3 decisions kept" in again.statusBar().currentMessage()
    items = {p: again.model.item_for(p) for p in photos}
    assert items[photos[0]].status is PhotoStatus.ACCEPTED
    assert items[photos[1]].status is PhotoStatus.REJECTED
    assert items[photos[2]].prediction == moved and items[photos[2]].corrected
    assert items[photos[3]].status is PhotoStatus.PENDING
    # a rescan keeps the decisions and fills in the rest
    assert scan(qtbot, again) is False
    assert again.model.item_for(photos[0]).status is PhotoStatus.ACCEPTED
    assert again.model.item_for(photos[2]).prediction == moved
    assert again.model.item_for(photos[3]).status is PhotoStatus.ESTIMATED
    again.close()
    # a photo changed since is not given its old decision
    photos[1].write_bytes(photos[1].read_bytes() + b"\0")
    third = reopen()
    assert third.model.item_for(photos[1]).status is PhotoStatus.PENDING
    assert third.model.item_for(photos[0]).status is PhotoStatus.ACCEPTED
    third.close()


def _drop_on_map(window: MainWindow, paths: list[Path], lat: float, lon: float) -> None:
    from geoscope_desktop.photo_model import PHOTOS_MIME

    view = window.map
    mime = window.model.mimeData([window.model.index(window.model.row_of(p), 0) for p in paths])
    assert mime.hasFormat(PHOTOS_MIME)
    pos = QPointF(view.view_point(lat, lon))
    view.dropEvent(
        QDropEvent(
            pos,
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    )


def test_drag_photos_onto_the_map_places_them_as_the_users(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from geoscope_core.prediction import Source

    folder = tmp_path / "drag"
    photos = copy_geo_photos(folder, 5)
    assert window.open_folder(folder)  # not scanned: placing needs no estimate
    window.map.focus_on(43.51, 16.44, 20)  # Split, zoomed in
    qtbot.wait(10)
    _drop_on_map(window, photos[:3], 43.51, 16.44)
    for p in photos[:3]:
        it = window.model.item_for(p)
        assert it.status is PhotoStatus.ACCEPTED
        assert it.prediction.source is Source.USER and it.prediction.confidence == 1.0
        assert it.prediction.lat == pytest.approx(43.51, abs=0.02)
        assert it.prediction.country_code == "HR"
        assert 0 < it.prediction.radius_km < 5  # a few pixels at this zoom
    assert window.model.item_for(photos[3]).status is PhotoStatus.PENDING
    assert sorted(window.selection.paths()) == sorted(photos[:3])
    # what was placed by hand is written as the user's, with its own radius
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        assert window.write_accepted()
    assert {r.action for r in blocker.args[0].results} == {"written"}
    lat, lon = gps_of(photos[0])  # type: ignore[misc]
    assert lat == pytest.approx(43.51, abs=0.02) and lon == pytest.approx(16.44, abs=0.02)


def test_search_a_place_and_assign_it_to_the_selection(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from geoscope_core.prediction import Source

    folder = tmp_path / "search"
    photos = copy_geo_photos(folder, 4)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.select_paths(photos[:2])
    assert any(h.label.startswith("Dubrovnik, ") for h in window.place_search.matches("dubrovn"))
    assert window.place_search.matches("Dubrovnik")[0].label.startswith("Dubrovnik, ")
    with qtbot.waitSignal(window.place_search.place_chosen):
        hit = window.place_search.choose("Dubrovnik")
    assert hit is not None
    for p in photos[:2]:
        pred = window.model.item_for(p).prediction
        assert pred.city == "Dubrovnik" and pred.country_code == "HR"
        assert pred.source is Source.USER and pred.radius_km == hit.radius_km < 10
        assert window.model.item_for(p).status is PhotoStatus.ACCEPTED
    assert window.model.item_for(photos[2]).prediction.source is not Source.USER
    # the map went there
    w, s, e, n = window.map.visible_box()
    assert w < 18.09 < e and s < 42.65 < n
    assert window.place_search.matches("croatia")[0].label == "Croatia (country)"

    # the place names are the user's to edit, and are written with the location
    window.select_paths(photos[:2])
    window.detail.set_names("Gruž", "Dubrovnik-Neretva", "Croatia")
    assert all(window.model.item_for(p).prediction.city == "Gruž" for p in photos[:2])
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        assert window.write_accepted()
    assert {r.action for r in blocker.args[0].results} == {"written"}
    out = subprocess.run(
        ["exiftool", "-s3", "-XMP-photoshop:City", "-XMP-photoshop:State", str(photos[0])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[:2] == ["Gruž", "Dubrovnik-Neretva"]


def test_clusters_count_photos_and_a_click_selects_them(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "cluster"
    photos = copy_geo_photos(folder, 6)
    assert window.open_folder(folder)
    window.map.focus_on(43.51, 16.44, 20)
    qtbot.wait(10)
    _drop_on_map(window, photos[:4], 43.51, 16.44)
    _drop_on_map(window, photos[4:5], 45.81, 15.98)  # Zagreb, far away at this zoom
    window.selection.refresh_markers()
    window.map.reset_view()  # at world zoom the five fall into one or two clusters
    window.map.update_layers()
    clusters = window.map.markers.clusters
    assert sum(len(c.photos) for c in clusters) == 5
    big = max(clusters, key=lambda c: len(c.photos))
    assert len(big.photos) >= 4
    window.select_paths([photos[5]])
    pos = window.map.mapFromScene(big.pos())
    qtbot.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert sorted(window.selection.paths()) == sorted(big.paths)
    # zoomed in on Split the Split photos still cluster, Zagreb's is apart
    window.map.focus_on(43.51, 16.44, 20)
    window.map.update_layers()
    sizes = sorted(len(c.photos) for c in window.map.markers.clusters)
    assert sizes == [1, 4]


def test_alternatives_on_the_map_are_chosen_with_one_click(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "alt"
    (photo,) = copy_geo_photos(folder, 1)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.select_paths([photo])
    item = window.model.item_for(photo)
    dots = window.map.markers.alternatives
    assert len(dots) == min(4, len(item.prediction.top_k) - 1) >= 1
    second = dots[0].candidate
    assert second == item.prediction.top_k[1]
    window.map.focus_on(second.lat, second.lon, 300)
    qtbot.wait(10)
    pos = window.map.mapFromScene(window.map.markers.alternatives[0].pos())
    qtbot.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    moved = window.model.item_for(photo).prediction
    assert (moved.lat, moved.lon) == (second.lat, second.lon)


def test_browse_date_camera_sort_by_time_filters_threshold_and_accept_moves_on(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "browse"
    fixtures = [copy_fixture(folder, name) for name in FIXTURE_JPEGS]
    photos = copy_geo_photos(folder, 4) + fixtures
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    canon = window.model.item_for(folder / "Canon_40D.jpg")
    assert canon.taken_at is not None and "Canon" in canon.camera
    row = window.proxy.mapFromSource(window.model.index(window.model.row_of(canon.path), 0)).row()
    assert window.proxy.index(row, Column.CAMERA).data() == canon.camera
    assert window.proxy.index(row, Column.TAKEN).data().startswith(f"{canon.taken_at:%Y-%m-%d}")
    assert window.table.textElideMode() is Qt.TextElideMode.ElideMiddle
    # sort by time: dated photos in order, undated ones last
    window.table.sortByColumn(Column.TAKEN, Qt.SortOrder.AscendingOrder)
    taken = [
        window.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 2).taken_at
        for r in range(window.proxy.rowCount())
    ]
    dated = [t for t in taken if t is not None]
    assert dated == sorted(dated) and taken[: len(dated)] == dated
    # the threshold is on screen and settable; "Confident" and "Accept All Confident" follow it
    confs = sorted(it.prediction.confidence for it in window.model.items())
    window.list_panel.threshold.setValue(0)
    window.filter_box.setCurrentIndex(list(Filter).index(Filter.CONFIDENT))
    assert window.proxy.rowCount() == len(photos)
    window.list_panel.threshold.setValue(100)
    certain = sum(1 for c in confs if c >= 1.0)
    assert window.proxy.rowCount() == certain
    assert window.settings.threshold() == pytest.approx(1.0)
    assert window.review.accept_confident() == certain
    window.filter_box.setCurrentIndex(list(Filter).index(Filter.MODEL))
    assert window.proxy.rowCount() == len(photos)
    window.filter_box.setCurrentIndex(list(Filter).index(Filter.PLACED))
    assert window.proxy.rowCount() == 0
    window.filter_box.setCurrentIndex(list(Filter).index(Filter.ALL))
    # the text filter finds places too
    place = window.model.item_for(photos[0]).prediction.country
    window.search.setText(place)
    assert 1 <= window.proxy.rowCount() <= len(photos)
    window.search.clear()
    # Accept moves on to the next photo
    window.table.selectRow(0)
    first = window.selection.paths()
    assert window.accept_selected() == 1
    assert window.selection.paths() != first and window.table.currentIndex().row() == 1


def _mbtiles(path: Path, fmt: str, tiles: dict[tuple[int, int, int], bytes]) -> Path:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute("CREATE TABLE tiles (zoom_level INT, tile_column INT, tile_row INT, tile_data BLOB)")
    db.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "my town"), ("format", fmt)])
    for (z, x, y), data in tiles.items():
        db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2**z - 1 - y, data))
    db.commit()
    db.close()
    return path


def test_user_mbtiles_are_drawn_at_street_level(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QColor, QImage

    from geoscope_desktop.offline_tiles import tile_box, tile_xy

    image = QImage(256, 256, QImage.Format.Format_RGB32)
    image.fill(QColor("#ff00ff"))
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    x, y = tile_xy(42.645, 18.10, 14)
    w, s_, e, n = tile_box(14, x, y)
    assert w <= 18.10 <= e and s_ <= 42.645 <= n
    tiles = {(14, x + dx, y + dy): bytes(data.data()) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    good = _mbtiles(tmp_path / "town.mbtiles", "png", tiles)
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    dialogs.open_path = good
    window.acts.open_tiles.trigger()
    assert dialogs.errors == [] and "my town" in window.statusBar().currentMessage()
    window.map.reset_view()
    window.map.update_layers()
    assert window.map.tiles_shown == 0  # not at world zoom
    window.map.focus_on(42.645, 18.10, 0.3)
    assert window.map.tiles_shown >= 1
    qtbot.wait(20)
    shot = window.map.grab().toImage()
    centre = shot.pixelColor(shot.width() // 2, shot.height() // 3)
    assert (centre.red(), centre.green(), centre.blue()) == (255, 0, 255)
    # vector tiles and non-MBTiles files are refused with a clear message
    dialogs.open_path = _mbtiles(tmp_path / "vector.mbtiles", "pbf", tiles)
    window.acts.open_tiles.trigger()
    assert "only raster tiles" in dialogs.errors[-1][1]
    (tmp_path / "junk.mbtiles").write_bytes(b"not sqlite at all" * 10)
    dialogs.open_path = tmp_path / "junk.mbtiles"
    window.acts.open_tiles.trigger()
    assert "not an MBTiles file" in dialogs.errors[-1][1]


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
