"""The map: zoom, Natural Earth layers, rivers and town names, dark palette.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QGraphicsSimpleTextItem

from geoscope_desktop.main_window import MainWindow


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
    # no two names overlap on screen, at either zoom (Vienna/Bratislava, Srebreno/Mlini)
    for lat, lon, km in ((48.1, 17.1, 250), (42.65, 18.09, 4)):
        view.focus_on(lat, lon, km)
        texts = [i for i in view.layers._labels if isinstance(i, QGraphicsSimpleTextItem)]
        boxes = [
            QRectF(view.mapFromScene(t.parentItem().pos()), t.boundingRect().size())
            .translated(4, -8) for t in texts
        ]  # fmt: skip
        assert len(boxes) >= 5
        overlaps = [
            (texts[a].text(), texts[b].text())
            for a in range(len(boxes)) for b in range(a) if boxes[a].intersects(boxes[b])
        ]  # fmt: skip
        assert not overlaps
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


def test_rivers_are_blue_lines_by_zoom(qtbot: Any, window: MainWindow) -> None:
    from geoscope_desktop.basemap import basemap
    from geoscope_desktop.map_layers import RIVER_PX, Zoom

    view = window.map
    view.reset_view()
    view.update_layers()
    assert "rivers" not in view.layers.visible_layers
    view.focus_on(47.5, 19.05, 250)  # Hungary
    assert view.layers.zoom is Zoom.COUNTRY and "rivers" in view.layers.visible_layers
    # the Danube flows through Budapest: a river point within 2 km of the city centre
    rivers = basemap()["rivers"]
    points = np.vstack(
        [r for t in rivers.tiles_in(18.9, 47.3, 19.2, 47.7) for r in rivers.tile_rings(t)]
    )
    near = points[np.argmin(np.hypot(points[:, 0] - 19.05, points[:, 1] - 47.50))]
    assert abs(near[0] - 19.05) < 0.03 and abs(near[1] - 47.50) < 0.03
    widths = {}
    for zoom, km in ((Zoom.COUNTRY, 250), (Zoom.TOWN, 10)):
        view.focus_on(float(near[1]), float(near[0]), km)
        assert view.layers.zoom is zoom
        qtbot.wait(20)
        items = [i for (n, _), i in view.layers._built.items() if n == "rivers" and i.isVisible()]
        widths[zoom] = {i.pen().widthF() for i in items}
        # drawn in the palette's river colour where the river point is, with the town
        # names hidden (Budapest's dot sits on the river where the map is short)
        for label in view.layers._labels:
            label.setVisible(False)
        shot = view.viewport().grab().toImage()
        at = view.view_point(float(near[1]), float(near[0]))
        river = view.colors.river
        seen = [
            shot.pixelColor(at.x() + dx, at.y() + dy) for dx in range(-2, 3) for dy in range(-2, 3)
        ]
        assert any(
            abs(c.red() - river.red())
            + abs(c.green() - river.green())
            + abs(c.blue() - river.blue())
            < 40
            for c in seen
        ), [c.name() for c in seen]
    assert widths == {Zoom.COUNTRY: {RIVER_PX[Zoom.COUNTRY]}, Zoom.TOWN: {RIVER_PX[Zoom.TOWN]}}


def test_towns_share_the_gazetteer_tables() -> None:
    # one parse of the GeoNames data per process: the map's preload and a scan each
    # loading their own used to overlap on a cold cache (RSS ~580 instead of ~470 MB)
    from geoscope_core.geo.gazetteer import get_gazetteer
    from geoscope_desktop.towns import Towns, town_table

    tables = get_gazetteer().tables
    towns = town_table()
    assert isinstance(towns, Towns)
    assert towns.names is tables.city_names
    assert towns.lat is tables.city_lat
