"""The place names of the detail pane (Sublocation, City, Region, Country) are typed by the
user, written with the location and undone byte for byte."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from geoscope_desktop.items import place_text
from geoscope_desktop.main_window import MainWindow
from tests.desktop.appdriver import copy_geo_photos


def _exiftool_names(f: Path) -> dict[str, str]:
    out = subprocess.run(
        ["exiftool", "-j", "-IPTC:Sub-location", "-XMP:Location", "-XMP:City", str(f)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    (d,) = json.loads(out)
    return {k: str(v) for k, v in d.items() if k != "SourceFile"}


def test_sublocation_typed_in_the_pane_is_written_and_undone(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "names"
    photos = copy_geo_photos(folder, 3)
    originals = {p: p.read_bytes() for p in photos}
    assert window.open_folder(folder)
    window.selection.select_paths(photos[:2])
    assert window.place_search.choose("Dubrovnik") is not None  # placed by hand: fine radius
    pane = window.detail
    assert pane.sublocation_edit.isEnabled() and pane.sublocation_edit.text() == ""
    pane.sublocation_edit.clear()
    qtbot.keyClicks(pane.sublocation_edit, "Stari grad")
    qtbot.mouseClick(pane.names_btn, Qt.MouseButton.LeftButton)
    for p in photos[:2]:
        pred = window.model.item_for(p).prediction
        assert pred.sublocation == "Stari grad" and pred.city == "Dubrovnik"
    assert window.model.item_for(photos[2]).prediction is None
    assert place_text(window.model.item_for(photos[0]).prediction).startswith(
        "Stari grad, Dubrovnik"
    )
    assert pane.place.text().startswith("Stari grad, Dubrovnik")

    # Enter in the field applies too, and the review keeps it across a reopening
    window.selection.select_paths([photos[1]])
    pane.sublocation_edit.setText("Pile")
    qtbot.keyClick(pane.sublocation_edit, Qt.Key.Key_Return)
    assert window.model.item_for(photos[1]).prediction.sublocation == "Pile"
    window.review.save_now()
    assert window.open_folder(folder)
    assert window.model.item_for(photos[1]).prediction.sublocation == "Pile"

    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        assert window.write_accepted()
    assert {r.action for r in blocker.args[0].results} == {"written"}
    assert _exiftool_names(photos[0]) == {
        "Sub-location": "Stari grad",
        "Location": "Stari grad",
        "City": "Dubrovnik",
    }
    assert _exiftool_names(photos[1])["Sub-location"] == "Pile"

    # moving a photo elsewhere forgets the part of the old place
    window.selection.select_paths([photos[2]])
    window.place_search.choose("Dubrovnik")
    window.detail.set_names("Dubrovnik", "", "Croatia", sublocation="Lapad")
    window.place_search.choose("Split")
    assert window.model.item_for(photos[2]).prediction.sublocation == ""

    with qtbot.waitSignal(window.undo_finished, timeout=60_000):
        assert window.undo_last_write()
    for p in photos[:2]:
        assert p.read_bytes() == originals[p], p.name


def test_names_finer_than_the_radius_cannot_be_typed(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from dataclasses import replace

    from geoscope_core.geo.place import CITY_MAX_RADIUS_KM

    folder = tmp_path / "wide"
    photos = copy_geo_photos(folder, 2)
    assert window.open_folder(folder)
    window.selection.select_paths(photos[:1])
    assert window.place_search.choose("Dubrovnik") is not None
    pane = window.detail
    assert pane.city_edit.isEnabled() and pane.region_edit.isEnabled()
    # the same photo with a continent-wide radius: only its country can be named
    item = window.model.item_for(photos[0])
    wide = replace(item, prediction=replace(item.prediction, radius_km=3000.0))
    pane.show_item(wide)
    assert pane.country_edit.isEnabled()
    assert not pane.city_edit.isEnabled() and not pane.sublocation_edit.isEnabled()
    assert not pane.region_edit.isEnabled() and pane.city_edit.text() == ""
    assert "place the photo on the map" in pane.city_edit.toolTip()
    region = replace(item, prediction=replace(item.prediction, radius_km=CITY_MAX_RADIUS_KM + 1))
    pane.show_item(region)
    assert pane.region_edit.isEnabled() and not pane.city_edit.isEnabled()
