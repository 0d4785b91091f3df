"""Scanning, reviewing, writing and undoing through the window.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt

from geoscope_core.geo.precision import round_to_radius
from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.photo_model import Filter
from tests.desktop.appdriver import (
    FIXTURE_JPEGS,
    SCAN_TIMEOUT_MS,
    FakeDialogs,
    copy_fixture,
    copy_geo_photos,
    gps_of,
    scan,
    sha,
)


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
        # as finely as the estimate's radius warrants
        want = round_to_radius(it.prediction.lat, it.prediction.lon, it.prediction.radius_km)
        assert (lat, lon) == pytest.approx(want, abs=1e-6)
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
    window.selection.select_paths([folder / "empty.jpg"])
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
        assert dialogs.infos and "Wrote 0 photos;" in dialogs.infos[-1][1]
    finally:
        folder.chmod(0o755)
        for p in photos:
            p.chmod(0o644)


def test_corrections_from_alternatives_and_place_here(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "c"
    (photo,) = copy_geo_photos(folder, 1)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.selection.select_paths([photo])
    item = window.detail.item
    assert item is not None and item.prediction is not None
    assert window.detail.alternatives.count() == min(5, len(item.prediction.top_k))
    assert window.detail.alternatives.count() >= 2

    second = item.prediction.top_k[1]
    window.detail.choose_alternative(1)
    moved = window.model.item_for(photo)
    assert (moved.prediction.lat, moved.prediction.lon) == (second.lat, second.lon)
    assert moved.corrected and window.detail.revert_btn.isEnabled()

    # a click on the map moves nothing; "Place Here" at Zagreb moves it there, named
    window.map.focus_on(45.815, 15.982, 200)
    window.map.centerOn(15.982, -45.815)
    coarse = window.map.km_per_pixel()
    window.map.zoom_by(4.0)  # the pick radius follows the zoom
    window.map.centerOn(15.982, -45.815)
    assert window.map.km_per_pixel() == pytest.approx(coarse / 4, rel=0.01)
    qtbot.wait(10)
    pos = window.map.view_point(45.815, 15.982)
    qtbot.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.model.item_for(photo) == moved
    (place_here,) = [a for a in window.map.context_menu(pos).actions() if "Here" in a.text()]
    assert place_here.isEnabled()
    place_here.trigger()
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


def test_photo_replaced_after_the_scan_is_not_written(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    photos = copy_geo_photos(folder, 3)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.table.selectAll()
    assert window.accept_selected() == 3
    swapped = photos[0]
    swapped.write_bytes(photos[1].read_bytes())  # another photo saved over it
    before = sha(swapped)
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        assert window.write_accepted()
    report = blocker.args[0]
    by_path = {r.path: r for r in report.results}
    assert by_path[swapped].action == "failed"
    assert "not the photo that was scanned" in by_path[swapped].reason
    assert sha(swapped) == before
    assert {by_path[p].action for p in photos[1:]} == {"written"}
