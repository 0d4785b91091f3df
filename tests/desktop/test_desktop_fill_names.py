"""Photos that carry camera GPS get their place names filled from their own point: the
detail pane shows them pre-filled and editable, "Fill Place Names from GPS" writes the
names only (the camera's GPS reads back as it was) and Undo restores the files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from tests.core.photos.photos_testutil import exiftool_tags
from tests.desktop.appdriver import copy_fixture, scan


def _gps(f: Path) -> dict[str, Any]:
    return exiftool_tags(f, "-G1", "-gps:all", "-xmp-exif:gps*")


def test_fill_place_names_from_gps_writes_names_only_and_undoes(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "trip"
    arezzo = copy_fixture(folder, "gps/DSCN0010.jpg")
    other = copy_fixture(folder, "gps/DSCN0012.jpg")
    no_gps = copy_fixture(folder, "Canon_40D.jpg")
    photos = (arezzo, other, no_gps)
    originals = {p: p.read_bytes() for p in photos}
    camera_gps = {p: _gps(p) for p in photos}
    assert window.open_folder(folder)
    assert not scan(qtbot, window)
    assert window.model.item_for(arezzo).status is PhotoStatus.HAS_GPS
    assert not window.acts.fill_names.isEnabled()  # nothing selected yet

    # the pane shows the point's names, editable; a sublocation typed is kept
    window.selection.select_paths([arezzo])
    pane = window.detail
    assert pane.city_edit.isEnabled() and pane.city_edit.text() == "Arezzo"
    assert pane.country_edit.text() == "Italy"
    pane.sublocation_edit.setText("Piazza Grande")
    qtbot.mouseClick(pane.names_btn, Qt.MouseButton.LeftButton)
    item = window.model.item_for(arezzo)
    assert item.prediction.sublocation == "Piazza Grande"
    assert item.status is PhotoStatus.HAS_GPS

    window.selection.select_paths(list(photos))
    assert window.acts.fill_names.isEnabled()
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        window.acts.fill_names.trigger()
    title, text, _ = window.dialogs.confirms[-1]
    assert title == "Fill place names from GPS" and "2 photos" in text
    assert [r.action for r in blocker.args[0].results] == ["written", "written"]
    assert exiftool_tags(arezzo, "-XMP:City", "-XMP:Country", "-XMP:Location") == {
        "City": "Arezzo",
        "Country": "Italy",
        "Location": "Piazza Grande",
    }
    assert exiftool_tags(arezzo, "-IPTC:City")["City"] == "Arezzo"
    assert exiftool_tags(other, "-XMP:Country")["Country"] == "Italy"
    for p in photos:
        assert _gps(p) == camera_gps[p], p.name  # the camera's GPS, as it was
    assert no_gps.read_bytes() == originals[no_gps]
    item = window.model.item_for(arezzo)
    assert item.status is PhotoStatus.HAS_GPS and item.message == "place names written"

    with qtbot.waitSignal(window.undo_finished, timeout=60_000):
        assert window.undo_last_write()
    for p, data in originals.items():
        assert p.read_bytes() == data, p.name
