"""After an undo the app shows what the files hold: a photo moved (a new journaled write)
and put back by Undo Last Write is listed, described and drawn at the place its file
carries again, written, not accepted at the place the undo took away.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from geoscope_core.photos.metadata import read_metadata
from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.photo_model import Column
from tests.desktop.appdriver import copy_geo_photos, gps_of, scan, sha

SPLIT = (43.51, 16.44)
DUBROVNIK = (42.65, 18.09)


def _row(window: MainWindow, path: Path) -> int:
    return window.proxy.mapFromSource(window.model.index(window.model.row_of(path), 0)).row()


def test_undoing_a_move_shows_the_first_writes_place_again(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    (photo,) = copy_geo_photos(tmp_path / "w", 1)
    assert window.open_folder(tmp_path / "w")
    assert scan(qtbot, window) is False
    window.selection.select_paths([photo])
    window.placing.place_selected(*SPLIT, 1.0)  # by hand: accepted
    with qtbot.waitSignal(window.write_finished, timeout=60_000):
        assert window.write_accepted()
    first = window.model.item_for(photo)
    assert first.status is PhotoStatus.WRITTEN and first.prediction.city == "Split"
    written = sha(photo)

    # moved to Dubrovnik: written again at once, journaled
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        window.placing.place_selected(*DUBROVNIK, 1.0)
    assert [r.action.value for r in blocker.args[0].results] == ["written"]
    assert gps_of(photo) == pytest.approx(DUBROVNIK, abs=0.01)
    assert window.model.item_for(photo).prediction.city == "Dubrovnik"

    # undone: the file holds the first write, and so does every view of it
    with qtbot.waitSignal(window.undo_finished, timeout=60_000):
        assert window.undo_last_write()
    assert sha(photo) == written
    item = window.model.item_for(photo)
    assert item.status is PhotoStatus.WRITTEN  # what the file carries, not "accepted"
    assert (item.prediction.lat, item.prediction.lon) == pytest.approx(SPLIT, abs=0.01)
    assert item.prediction.city == "Split" and item.gps == pytest.approx(SPLIT, abs=0.01)
    assert item.result.metadata == read_metadata(photo)  # the file as it is now
    row = _row(window, photo)
    assert window.proxy.index(row, Column.STATUS).data() == "written"
    assert "Split" in window.proxy.index(row, Column.PLACE).data()
    window.selection.select_paths([photo])
    pane = window.detail
    assert "Split" in pane.place.text() and pane.city_edit.text() == "Split"
    assert pane.facts.text().startswith("43.5100° N, 16.4400° E") and "written" in pane.facts.text()
    window.selection.refresh_markers()
    window.map.focus_on(*SPLIT, 50)
    window.map.update_layers()
    (marker,) = [c for c in window.map.markers.clusters if photo in c.paths]
    assert (-marker.pos().y(), marker.pos().x()) == pytest.approx(SPLIT, abs=0.01)
