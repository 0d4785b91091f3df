"""Placing many photos at once: drag to the map, place search, clusters, alternatives.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent

from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from tests.desktop.appdriver import (
    copy_geo_photos,
    gps_of,
    scan,
)


def _drop_on_map(window: MainWindow, paths: list[Path], lat: float, lon: float) -> None:
    from geoscope_desktop.photo_model import PHOTOS_MIME

    view = window.map
    mime = window.model.mimeData([window.model.index(window.model.row_of(p), 0) for p in paths])
    assert mime.hasFormat(PHOTOS_MIME)
    pos = QPointF(view.view_point(lat, lon))
    view.dropEvent(
        QDropEvent(
            pos,
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    )


def test_drag_photos_onto_the_map_places_them_as_the_users(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from geoscope_core.prediction import Source

    folder = tmp_path / "drag"
    photos = copy_geo_photos(folder, 5)
    assert window.open_folder(folder)  # not scanned: placing needs no estimate
    window.map.focus_on(43.51, 16.44, 20)  # Split, zoomed in
    qtbot.wait(10)
    _drop_on_map(window, photos[:3], 43.51, 16.44)
    for p in photos[:3]:
        it = window.model.item_for(p)
        assert it.status is PhotoStatus.ACCEPTED
        assert it.prediction.source is Source.USER and it.prediction.confidence == 1.0
        assert it.prediction.lat == pytest.approx(43.51, abs=0.02)
        assert it.prediction.country_code == "HR"
        assert 0 < it.prediction.radius_km < 5  # a few pixels at this zoom
    assert window.model.item_for(photos[3]).status is PhotoStatus.PENDING
    assert sorted(window.selection.paths()) == sorted(photos[:3])
    # what was placed by hand is written as the user's, with its own radius
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        assert window.write_accepted()
    assert {r.action for r in blocker.args[0].results} == {"written"}
    lat, lon = gps_of(photos[0])  # type: ignore[misc]
    assert lat == pytest.approx(43.51, abs=0.02) and lon == pytest.approx(16.44, abs=0.02)


def test_search_a_place_and_assign_it_to_the_selection(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from geoscope_core.prediction import Source

    folder = tmp_path / "search"
    photos = copy_geo_photos(folder, 4)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.selection.select_paths(photos[:2])
    assert any(h.label.startswith("Dubrovnik, ") for h in window.place_search.matches("dubrovn"))
    assert window.place_search.matches("Dubrovnik")[0].label.startswith("Dubrovnik, ")
    with qtbot.waitSignal(window.place_search.place_chosen):
        hit = window.place_search.choose("Dubrovnik")
    assert hit is not None
    for p in photos[:2]:
        pred = window.model.item_for(p).prediction
        assert pred.city == "Dubrovnik" and pred.country_code == "HR"
        assert pred.source is Source.USER and pred.radius_km == hit.radius_km < 10
        assert window.model.item_for(p).status is PhotoStatus.ACCEPTED
    assert window.model.item_for(photos[2]).prediction.source is not Source.USER
    # the map went there
    w, s, e, n = window.map.visible_box()
    assert w < 18.09 < e and s < 42.65 < n
    assert window.place_search.matches("croatia")[0].label == "Croatia (country)"

    # the place names are the user's to edit, and are written with the location
    window.selection.select_paths(photos[:2])
    window.detail.set_names("Gruž", "Dubrovnik-Neretva", "Croatia")
    assert all(window.model.item_for(p).prediction.city == "Gruž" for p in photos[:2])
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        assert window.write_accepted()
    assert {r.action for r in blocker.args[0].results} == {"written"}
    out = subprocess.run(
        ["exiftool", "-s3", "-XMP-photoshop:City", "-XMP-photoshop:State", str(photos[0])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[:2] == ["Gruž", "Dubrovnik-Neretva"]


def test_clusters_count_photos_and_a_click_selects_them(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "cluster"
    photos = copy_geo_photos(folder, 6)
    assert window.open_folder(folder)
    window.map.focus_on(43.51, 16.44, 20)
    qtbot.wait(10)
    _drop_on_map(window, photos[:4], 43.51, 16.44)
    _drop_on_map(window, photos[4:5], 45.81, 15.98)  # Zagreb, far away at this zoom
    window.selection.refresh_markers()
    window.map.reset_view()  # at world zoom the five fall into one or two clusters
    window.map.update_layers()
    clusters = window.map.markers.clusters
    assert sum(len(c.photos) for c in clusters) == 5
    big = max(clusters, key=lambda c: len(c.photos))
    assert len(big.photos) >= 4
    window.selection.select_paths([photos[5]])
    pos = window.map.mapFromScene(big.pos())
    qtbot.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert sorted(window.selection.paths()) == sorted(big.paths)
    # zoomed in on Split the Split photos still cluster, Zagreb's is apart
    window.map.focus_on(43.51, 16.44, 20)
    window.map.update_layers()
    sizes = sorted(len(c.photos) for c in window.map.markers.clusters)
    assert sizes == [1, 4]


def test_alternatives_on_the_map_are_chosen_with_one_click(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "alt"
    (photo,) = copy_geo_photos(folder, 1)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.selection.select_paths([photo])
    item = window.model.item_for(photo)
    dots = window.map.markers.alternatives
    assert len(dots) == min(4, len(item.prediction.top_k) - 1) >= 1
    second = dots[0].candidate
    assert second == item.prediction.top_k[1]
    window.map.focus_on(second.lat, second.lon, 300)
    qtbot.wait(10)
    pos = window.map.mapFromScene(window.map.markers.alternatives[0].pos())
    qtbot.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    moved = window.model.item_for(photo).prediction
    assert (moved.lat, moved.lon) == (second.lat, second.lon)


def _drag_marker(qtbot: Any, window: MainWindow, photo: Path, lat: float, lon: float) -> float:
    """Press on ``photo``'s marker, move the mouse in steps and release at (lat, lon);
    returns the pick radius (km) at the zoom of the drop (placing recentres the map)."""
    window.map.focus_on(43.52, 16.35, 20)  # Split and Trogir, 15 km apart
    window.selection.refresh_markers()
    marker = next(c for c in window.map.markers.clusters if photo in c.paths)
    start = window.map.mapFromScene(marker.pos())
    end = window.map.view_point(lat, lon)
    vp = window.map.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    box = window.map.visible_box()
    for k in range(1, 6):
        qtbot.mouseMove(vp, pos=start + (end - start) * (k / 5))
    assert marker.pos().x() == pytest.approx(lon, abs=0.01)  # the marker follows the mouse
    assert window.map.visible_box() == pytest.approx(box)  # and the map does not pan
    radius = window.map.pick_radius_km()
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    return radius


def test_dragging_a_marker_moves_its_photos_or_the_selection(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from geoscope_core.prediction import Source

    folder = tmp_path / "marker"
    photos = copy_geo_photos(folder, 5)
    assert window.open_folder(folder)
    window.map.focus_on(43.52, 16.35, 20)
    qtbot.wait(10)
    _drop_on_map(window, photos[:2], 43.508, 16.44)  # Split
    _drop_on_map(window, photos[2:3], 43.516, 16.25)  # Trogir
    split = window.model.item_for(photos[0]).prediction

    # a marker outside the selection moves its own photo, with the radius of the zoom
    window.selection.select_paths([photos[4]])
    radius = _drag_marker(qtbot, window, photos[2], 43.55, 16.33)  # Kaštela
    moved = window.model.item_for(photos[2]).prediction
    assert moved.lat == pytest.approx(43.55, abs=0.01)
    assert moved.lon == pytest.approx(16.33, abs=0.01)
    assert moved.source is Source.USER and moved.country_code == "HR"
    assert moved.radius_km == pytest.approx(radius) and radius < 5  # as for a drop
    assert window.model.item_for(photos[2]).status is PhotoStatus.ACCEPTED
    assert window.model.item_for(photos[0]).prediction == split
    assert window.model.item_for(photos[4]).prediction is None

    # a marker that is part of the selection takes the whole selection along
    window.selection.select_paths([photos[0], photos[4]])
    _drag_marker(qtbot, window, photos[0], 43.53, 16.40)
    for p in (photos[0], photos[1], photos[4]):  # photos[1] shares photos[0]'s marker
        pred = window.model.item_for(p).prediction
        assert (pred.lat, pred.lon) == pytest.approx((43.53, 16.40), abs=0.01), p.name
    assert window.model.item_for(photos[2]).prediction == moved
    assert window.model.item_for(photos[3]).prediction is None

    # pressing a marker without moving stays a click: it selects the marker's photos
    window.map.focus_on(43.52, 16.35, 20)
    window.selection.refresh_markers()
    marker = next(c for c in window.map.markers.clusters if photos[2] in c.paths)
    pos = window.map.mapFromScene(marker.pos())
    qtbot.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.selection.paths() == [photos[2]]
    assert window.model.item_for(photos[2]).prediction == moved


def test_a_chosen_alternative_is_written_and_exported_with_its_own_radius(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from geoscope_core.geo.place import CITY_MAX_RADIUS_KM

    folder = tmp_path / "altw"
    (photo,) = copy_geo_photos(folder, 1)
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    window.selection.select_paths([photo])
    top = window.model.item_for(photo).prediction
    row = max(range(1, len(top.top_k)), key=lambda i: abs(top.top_k[i].radius_km - top.radius_km))
    alt = top.top_k[row]
    assert alt.radius_km is not None and abs(alt.radius_km - top.radius_km) > 1.0
    window.detail.choose_alternative(row)  # the pane's list, as a double-click does
    chosen = window.model.item_for(photo).prediction
    assert (chosen.lat, chosen.lon, chosen.radius_km) == (alt.lat, alt.lon, alt.radius_km)
    assert window.accept_selected() == 1
    with qtbot.waitSignal(window.write_finished, timeout=60_000) as blocker:
        assert window.write_accepted()
    assert [r.action for r in blocker.args[0].results] == ["written"]
    tags = ["-GPS:GPSHPositioningError", "-GPS:GPSAreaInformation", "-XMP-photoshop:City"]
    run = subprocess.run(
        ["exiftool", "-j", "-n", *tags, str(photo)], capture_output=True, text=True, check=True
    )
    got = json.loads(run.stdout)[0]
    assert got["GPSHPositioningError"] == pytest.approx(alt.radius_km * 1000, rel=1e-3)
    assert f"radius {alt.radius_km:.3g} km" in got["GPSAreaInformation"]
    assert ("City" in got) == (alt.radius_km <= CITY_MAX_RADIUS_KM)  # no city for a wide guess
    window.dialogs.save_to = tmp_path / "out.csv"  # type: ignore[attr-defined]
    assert window.export_dialog("csv")
    (exported,) = csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8"))
    assert float(exported["radius_km"]) == pytest.approx(alt.radius_km, abs=1e-3)


def test_place_search_ignores_case_and_accents_either_way() -> None:
    from geoscope_desktop.place_search import fold, place_index

    assert fold("Dubrovník") == "dubrovnik" and fold("ZAGREB") == "zagreb"
    assert fold("São Paulo") == fold("SAO PAULO") == "sao paulo"
    index = place_index()
    for typed in ("sao paulo", "SÃO PAU", "São Paulo"):
        assert index.search(typed)[0].label.startswith("São Paulo, "), typed
    assert index.search("cote d")[0].label.startswith("Côte d"), "an area by its plain name"
    assert index.search("x") == []  # one letter: too many to list
