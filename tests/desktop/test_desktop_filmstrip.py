"""View ▸ Filmstrip: bigger thumbnails of the current photo's neighbours in the list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from geoscope_desktop.filmstrip import FRAME_PX
from geoscope_desktop.main_window import MainWindow
from tests.desktop.appdriver import copy_geo_photos


def _list_order(window: MainWindow) -> list[Path]:
    proxy, model = window.proxy, window.model
    return [
        model.item(proxy.mapToSource(proxy.index(r, 0)).row()).path for r in range(proxy.rowCount())
    ]


def test_filmstrip_shows_the_neighbours_bigger_and_selects_on_click(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "strip"
    copy_geo_photos(folder, 12)
    assert window.open_folder(folder)
    strip = window.filmstrip
    assert not strip.isVisible() and not window.acts.filmstrip.isChecked()
    assert strip.paths == []  # hidden, it decodes nothing

    window.acts.filmstrip.trigger()
    qtbot.waitUntil(strip.isVisible)
    assert window.settings.filmstrip_shown()
    order = _list_order(window)
    window.selection.select_paths([order[6]])
    n = strip.frame_count()
    assert n % 2 == 1 and 3 <= n <= len(order)
    assert strip.paths == order[6 - n // 2 : 6 + n // 2 + 1]  # centred on the current one
    frames = [f for f in strip.frames if f.isVisible()]
    assert len(frames) == n
    assert frames[n // 2].iconSize().width() == FRAME_PX > 64  # bigger than the list's

    def decoded() -> bool:
        return all(not f.icon().isNull() for f in frames)

    qtbot.waitUntil(decoded, timeout=30_000)
    size = frames[0].icon().availableSizes()[0]
    assert max(size.width(), size.height()) == FRAME_PX

    # a click on a frame selects its photo, and the strip follows
    target = strip.paths[0]
    qtbot.mouseClick(frames[0], Qt.MouseButton.LeftButton)
    assert window.selection.paths() == [target]
    assert window.detail.item is not None and window.detail.item.path == target
    k = order.index(target)
    assert strip.paths[min(k, n // 2)] == target

    # at the start of the list the strip does not run off the end
    window.selection.select_paths([order[0]])
    assert strip.paths == order[:n]

    # it follows the list's filter
    window.search.setText(order[3].name[:12])
    assert strip.paths == _list_order(window)[:n]

    window.acts.filmstrip.trigger()
    qtbot.waitUntil(lambda: not strip.isVisible())
    assert not window.settings.filmstrip_shown()
