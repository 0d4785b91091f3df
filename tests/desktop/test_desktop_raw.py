"""Camera raw files in the app: listed, shown by their embedded preview (turned as the
raw file says), scanned, placed and written to a sidecar ``photo.dng.xmp`` only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from geoscope_desktop.workers import read_scaled_image
from tests.desktop.appdriver import scan
from tests.rawfiles import write_dng


def test_a_raw_file_is_shown_scanned_placed_and_written_by_sidecar(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    halves = np.zeros((48, 64, 3), np.uint8)
    halves[:24] = (210, 40, 40)  # top red
    halves[24:] = (40, 40, 210)  # bottom blue
    folder = tmp_path / "raw"
    dng = write_dng(folder / "DSC_0001.dng", halves, preview_size=(64, 48), orientation=6)
    nef = write_dng(folder / "DSC_0002.NEF", halves, gps=(42.6507, 18.0944))
    originals = {p: p.read_bytes() for p in (dng, nef)}

    image = read_scaled_image(dng, 32)  # the preview, turned 90° clockwise: portrait
    assert (image.width(), image.height()) == (24, 32)
    left, right = image.pixelColor(2, 16), image.pixelColor(21, 16)
    assert left.blue() > 150 > left.red() and right.red() > 150 > right.blue()

    assert window.open_folder(folder)
    assert len(window.model) == 2
    assert not scan(qtbot, window)
    assert window.model.item_for(dng).status is PhotoStatus.ESTIMATED
    assert window.model.item_for(nef).status is PhotoStatus.HAS_GPS
    window.selection.select_paths([dng])
    assert window.place_search.choose("Dubrovnik") is not None
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        assert window.write_accepted()
    (result,) = blocker.args[0].results
    assert result.action == "sidecar" and result.target == folder / "DSC_0001.dng.xmp"
    assert result.target.is_file()
    assert {p: p.read_bytes() for p in originals} == originals  # the raw files untouched
    assert window.model.item_for(dng).status is PhotoStatus.WRITTEN
