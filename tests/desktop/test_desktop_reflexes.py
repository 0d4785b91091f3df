"""One reflex never gives wrong data: a click on the map moves no photo, selecting keeps
the map still, the keys act on the photo shown, a double-click only opens the photo, and
the write question says how many locations are coarse.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt

from geoscope_core.prediction import Prediction, Source
from geoscope_core.scan.types import ScanOptions
from geoscope_desktop.controllers.writing import write_question
from geoscope_desktop.items import PhotoItem, PhotoStatus
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.settings_store import AppSettings
from geoscope_desktop.workers import ModelChoice
from tests.desktop.appdriver import FakeDialogs, copy_geo_photos, scan


def _scanned(qtbot: Any, window: MainWindow, folder: Path, n: int) -> list[Path]:
    copy_geo_photos(folder, n)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    return [window.model.item(r).path for r in range(len(window.model))]


def _row_of(window: MainWindow, path: Path) -> int:
    return window.proxy.mapFromSource(window.model.index(window.model.row_of(path), 0)).row()


def test_a_click_on_the_map_moves_nothing_place_here_does(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    photos = _scanned(qtbot, window, tmp_path / "click", 2)
    window.selection.select_paths([photos[0]])
    before = window.model.item_for(photos[0])
    assert before.status is PhotoStatus.ESTIMATED
    window.map.focus_on(-13.3, -77.9, 300)  # off Lima, in the sea
    qtbot.wait(10)
    pos = window.map.view_point(-13.3, -77.9)
    qtbot.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.model.item_for(photos[0]) == before  # neither moved nor accepted
    assert window.model.item_for(photos[1]).status is PhotoStatus.ESTIMATED

    # the explicit command places the selection, and says how many it places
    window.selection.select_paths(photos)
    pos = window.map.view_point(43.51, 16.44)  # Split
    (act,) = [a for a in window.map.context_menu(pos).actions() if "Here" in a.text()]
    assert act.text() == "Place 2 Selected Photos Here" and act.isEnabled()
    act.trigger()
    for p in photos:
        it = window.model.item_for(p)
        assert it.status is PhotoStatus.ACCEPTED and it.prediction.source is Source.USER
        assert it.prediction.country_code == "HR"
    # with nothing selected there is nothing to place
    window.table.clearSelection()
    (act,) = [a for a in window.map.context_menu(pos).actions() if "Here" in a.text()]
    assert not act.isEnabled()


def test_selecting_keeps_the_map_still_unless_follow_selection_is_on(
    qtbot: Any, window: MainWindow, tmp_path: Path, tiny_bundle: Path
) -> None:
    photos = _scanned(qtbot, window, tmp_path / "still", 3)
    assert not window.acts.follow_selection.isChecked()  # off by default
    window.map.focus_on(42.65, 18.09, 5)  # the user looks at Dubrovnik
    qtbot.wait(10)
    box = window.map.visible_box()
    for p in photos:
        window.selection.select_paths([p])
        assert window.detail.item.path == p
        assert window.map.visible_box() == pytest.approx(box)

    window.acts.follow_selection.trigger()
    assert window.acts.follow_selection.isChecked() and window.settings.follow_selection()
    window.selection.select_paths([photos[1]])
    pred = window.model.item_for(photos[1]).prediction
    west, south, east, north = window.map.visible_box()
    assert west <= pred.lon <= east and south <= pred.lat <= north
    assert window.map.visible_box() != pytest.approx(box)

    # kept for the next session
    window.settings.sync()
    again = MainWindow(
        AppSettings(QSettings(window.settings.store.fileName(), QSettings.Format.IniFormat)),
        ModelChoice(str(tiny_bundle), "cpu"),
        ScanOptions(batch_size=8, workers=2),
    )
    qtbot.addWidget(again)
    assert again.acts.follow_selection.isChecked() and again.selection.follow


def test_after_ctrl_end_the_keys_act_on_the_photo_shown(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    photos = _scanned(qtbot, window, tmp_path / "keys", 4)
    window.table.setFocus()
    window.table.selectRow(0)
    first = window.detail.item.path
    qtbot.keyClick(window.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    shown = window.detail.item.path
    assert shown != first
    assert _row_of(window, shown) == window.proxy.rowCount() - 1
    assert window.selection.paths() == [shown]
    window.acts.reject.trigger()
    assert window.model.item_for(shown).status is PhotoStatus.REJECTED
    assert window.model.item_for(first).status is PhotoStatus.ESTIMATED

    # Ctrl+click takes the photo shown out of the selection: the pane shows one still selected
    second = window.model.item(window.proxy.mapToSource(window.proxy.index(1, 0)).row()).path
    window.selection.select_paths([second, first])
    assert len(window.selection.paths()) == 2 and window.detail.item.path == second
    rect = window.table.visualRect(window.table.currentIndex())
    qtbot.mouseClick(
        window.table.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        rect.center(),
    )
    assert window.selection.paths() == [first]
    assert window.detail.item.path == first != second
    window.acts.accept.trigger()
    assert window.model.item_for(first).status is PhotoStatus.ACCEPTED
    assert window.model.item_for(second).status is PhotoStatus.ESTIMATED
    assert set(photos) == {it.path for it in window.model.items()}


def test_double_click_opens_the_photo_and_decides_nothing(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    photos = _scanned(qtbot, window, tmp_path / "dbl", 2)
    row = _row_of(window, photos[1])
    rect = window.table.visualRect(window.proxy.index(row, 1))
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    viewer = window.viewer
    assert viewer.isVisible() and viewer.path == photos[1]
    qtbot.waitUntil(lambda: not viewer.image.isNull(), timeout=10_000)
    assert max(viewer.image.width(), viewer.image.height()) > 320  # bigger than the pane
    assert {it.status for it in window.model.items()} == {PhotoStatus.ESTIMATED}
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert not viewer.isVisible()
    assert {it.status for it in window.model.items()} == {PhotoStatus.ESTIMATED}


def _guess(radius_km: float) -> Prediction:
    return Prediction(lat=-13.3456789, lon=-77.9123456, confidence=0.19, radius_km=radius_km)


def test_the_write_question_counts_the_coarse_locations(tmp_path: Path) -> None:
    items = [
        PhotoItem(tmp_path / f"{i}.jpg", prediction=_guess(r), status=PhotoStatus.ACCEPTED)
        for i, r in enumerate((2164.0, 650.0, 0.05))
    ]
    text, _details = write_question(items)
    assert "into 3 photos?" in text
    assert "2 of these 3 locations are coarse" in text and "±2,164 km" in text
    text, _details = write_question(items[2:])
    assert "into 1 photo?" in text and "coarse" not in text
    text, _details = write_question(items[:2])
    assert "All 2 locations are coarse" in text


def test_writing_a_coarse_guess_asks_then_writes_whole_degrees(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from tests.desktop.appdriver import gps_of

    (photo,) = _scanned(qtbot, window, tmp_path / "coarse", 1)
    window.review.correct(photo, _guess(2164.0).as_candidate())
    window.selection.select_paths([photo])
    window.accept_selected()
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]
    with qtbot.waitSignal(window.write_finished, timeout=60_000):
        assert window.write_accepted()
    assert "This location is coarse (wider than ±25 km, up to ±2,164 km)" in dialogs.confirms[-1][1]
    assert gps_of(photo) == pytest.approx((-13.0, -78.0))


def test_the_pane_and_list_show_no_more_precision_than_the_radius(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    import re

    from geoscope_desktop.photo_model import Column

    (photo,) = _scanned(qtbot, window, tmp_path / "shown", 1)
    item = window.review.item_for(photo)
    assert item is not None and item.prediction is not None
    # the decoder said the model does not know (the bundle's decoding.unsure_below);
    # an alternative of that estimate is as unsure
    window.review.model.replace_item(
        replace(item, prediction=replace(item.prediction, unsure=True))
    )
    window.review.correct(photo, _guess(2164.0).as_candidate())
    window.selection.select_paths([photo])
    facts = window.detail.facts.text()
    assert "13° S, 78° W" in facts and "±2,164 km" in facts
    assert not re.search(r"\d\.\d{3,}°", facts)  # no metre-fine digits for a 2,164 km guess
    assert window.detail.place.text().startswith("Unsure — ")
    assert "unsure: confidence 19%" in facts
    row = _row_of(window, photo)
    place = window.proxy.index(row, Column.PLACE).data()
    assert "unsure" in place


def test_a_written_photo_says_why_it_stays_and_moves_by_a_new_journaled_write(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from tests.desktop.appdriver import gps_of, sha

    photos = copy_geo_photos(tmp_path / "w", 2)
    assert window.open_folder(tmp_path / "w")
    window.selection.select_paths([photos[0]])
    window.placing.place_selected(43.51, 16.44, 1.0)  # Split, by hand
    with qtbot.waitSignal(window.write_finished, timeout=60_000):
        assert window.write_accepted()
    assert window.model.item_for(photos[0]).status is PhotoStatus.WRITTEN
    written = sha(photos[0])
    dialogs: FakeDialogs = window.dialogs  # type: ignore[assignment]

    # moved to Dubrovnik together with an unwritten photo, the user declining
    dialogs.answer = False
    window.selection.select_paths(photos)
    assert window.placing.place_selected(42.65, 18.09, 1.0) == 1
    assert "1 written photo stayed (already written)" in window.statusBar().currentMessage()
    title, text, _ = dialogs.confirms[-1]
    assert (
        title == "Move written photos"
        and "1 photo already carries the location GeoScope wrote" in text
    )
    assert window.model.item_for(photos[0]).status is PhotoStatus.WRITTEN
    assert sha(photos[0]) == written

    # accepted: written again at once, journaled
    dialogs.answer = True
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        window.placing.place_selected(42.65, 18.09, 1.0)
    report = blocker.args[0]
    assert [Path(r.path) for r in report.results] == [photos[0]]
    assert window.model.item_for(photos[0]).status is PhotoStatus.WRITTEN
    assert gps_of(photos[0]) == pytest.approx((42.65, 18.09), abs=0.01)
    assert window.model.item_for(photos[1]).status is PhotoStatus.ACCEPTED  # not written
    with qtbot.waitSignal(window.undo_finished, timeout=60_000):
        assert window.undo_last_write()
    assert sha(photos[0]) == written  # back to the first write, byte for byte
