"""Browsing and keeping work: filters, sorting, export, settings, recent folders, errors,
review work kept per folder.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from geoscope_core.scan.types import ScanOptions
from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.photo_model import Column, Filter
from geoscope_desktop.settings_store import AppSettings
from geoscope_desktop.workers import ModelChoice
from tests.desktop.appdriver import (
    FIXTURE_JPEGS,
    FakeDialogs,
    copy_fixture,
    copy_geo_photos,
    scan,
)


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
    window.selection.select_paths([photos[0]])
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


def test_review_work_is_kept_per_folder_and_quitting_asks(
    qtbot: Any, window: MainWindow, tmp_path: Path, tiny_bundle: Path
) -> None:
    from geoscope_core.prediction import Candidate

    folder = tmp_path / "trip"
    photos = copy_geo_photos(folder, 4)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.selection.select_paths([photos[0]])
    assert window.accept_selected() == 1
    window.selection.select_paths([photos[1]])
    assert window.reject_selected() == 1
    window.selection.select_paths([photos[2]])
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
