"""Camera raw files in the app: listed, shown by their embedded preview (turned as the
raw file says), scanned, placed and written to a sidecar ``photo.dng.xmp`` only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

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
    assert window.model.item_for(dng).gps is not None  # what its sidecar now carries
    # undone: the sidecar goes, and the photo (named by its sidecar in the journal)
    # shows the file without a location again, its decision kept to write again
    with qtbot.waitSignal(window.undo_finished, timeout=60_000):
        assert window.undo_last_write()
    assert not result.target.exists()
    undone = window.model.item_for(dng)
    assert undone.status is PhotoStatus.ACCEPTED and undone.gps is None


#: four colours, one per quarter of the preview: any turn or mirror moves them apart
_QUARTERS = ((220, 30, 30), (30, 200, 30), (30, 30, 220), (235, 235, 40))


def _quartered(h: int, w: int) -> np.ndarray:
    out = np.zeros((h, w, 3), np.uint8)
    (tl, tr, bl, br) = _QUARTERS
    out[: h // 2, : w // 2], out[: h // 2, w // 2 :] = tl, tr
    out[h // 2 :, : w // 2], out[h // 2 :, w // 2 :] = bl, br
    return out


def _quarter_colours(pixels: np.ndarray) -> list[tuple[int, ...]]:
    """The colour at the middle of each quarter (top-left, top-right, bottom-left,
    bottom-right) of uint8 [H, W, 3] ``pixels``."""
    h, w = pixels.shape[:2]
    return [
        tuple(int(v) for v in pixels[y, x])
        for y in (h // 4, 3 * h // 4)
        for x in (w // 4, 3 * w // 4)
    ]


def _near(got: list[tuple[int, ...]], want: list[tuple[int, ...]]) -> bool:
    return all(
        abs(a - b) <= 40 for g, w in zip(got, want, strict=True) for a, b in zip(g, w, strict=True)
    )


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_raw_preview_is_turned_and_mirrored_as_its_orientation_says(
    tmp_path: Path, orientation: int
) -> None:
    from PIL import Image, ImageOps

    from geoscope_core.runtime.images import load_image
    from geoscope_core.runtime.manifest import ResizeMode

    stored = _quartered(48, 64)
    dng = write_dng(tmp_path / "o.dng", stored, preview_size=(64, 48), orientation=orientation)
    # what a viewer must show: Pillow's transpose of the stored pixels for this orientation
    im = Image.fromarray(stored)
    im.getexif()[0x0112] = orientation
    want = np.asarray(ImageOps.exif_transpose(im))
    turned = orientation >= 5
    assert want.shape[:2] == ((64, 48) if turned else (48, 64))

    image = read_scaled_image(dng, 32)  # the app's preview and thumbnail
    assert (image.height(), image.width()) == ((32, 24) if turned else (24, 32))
    shown = np.array(
        [[image.pixelColor(x, y).getRgb()[:3] for x in range(image.width())]
         for y in range(image.height())],
        np.uint8,
    )  # fmt: skip
    assert _near(_quarter_colours(shown), _quarter_colours(want)), orientation
    if orientation != 1:  # a wrong turn is seen
        assert not _near(_quarter_colours(shown), _quarter_colours(stored[:, :, :]))
    # and the scan's decode of the same file agrees
    scanned = load_image(dng, 32, ResizeMode.SQUASH)
    assert _near(_quarter_colours(scanned), _quarter_colours(want)), orientation
