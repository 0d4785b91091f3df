"""A folder is a trip in the app: placing, accepting or moving one photo places the
folder again, and its undecided trip-mates follow with the reason shown.

Driven through the main window (pytest-qt); see ``appdriver`` and ``conftest``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from geoscope_core.geo.distance import haversine_km
from geoscope_core.prediction import Source
from geoscope_desktop.controllers.review import candidate_at
from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.main_window import MainWindow
from tests.bundles import BLUE, GREEN, RED, write_jpeg
from tests.desktop.appdriver import copy_fixture, scan

PARIS = (48.857, 2.352)


def test_trip_mates_follow_a_photo_placed_by_hand(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "day"
    folder.mkdir()
    shots = [
        write_jpeg(folder / f"{i}.jpg", px, taken_at=f"2024:05:14 10:0{i}:00")
        for i, px in enumerate((RED, GREEN, BLUE))
    ]
    late = write_jpeg(folder / "late.jpg", RED, taken_at="2024:05:14 16:00:00")
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    own = {p: window.model.item_for(p).prediction for p in (*shots, late)}
    assert all(pred is not None and pred.source is Source.MODEL for pred in own.values())
    followed: list[int] = []
    window.tracking.controller.followed.connect(followed.append)

    # the first photo placed by hand in Paris: the two taken a minute or two later follow
    window.review.place([shots[0]], candidate_at(*PARIS), 0.1)
    assert followed and followed[-1] == 2
    for p, dt in ((shots[1], "60 s"), (shots[2], "2 min")):
        item = window.model.item_for(p)
        assert item.status is PhotoStatus.ESTIMATED  # still the user's to accept
        assert haversine_km(item.prediction.lat, item.prediction.lon, *PARIS) < 0.5
        assert item.prediction.source is Source.NEIGHBORS
        assert item.result.reason == f"placed by you: same camera, {dt} from a photo you placed"
        mine = item.result.trip.own  # its own estimate, before any trip-mate weighed in
        assert (item.prediction.top_k[1].lat, item.prediction.top_k[1].lon) == (mine.lat, mine.lon)
    window.selection.select_paths([shots[1]])
    assert "placed by you: same camera" in window.detail.facts.text()
    # six hours later is another outing: it keeps its own estimate
    assert window.model.item_for(late).prediction == own[late]

    # the placement taken back (rejected): they go back to what the scan gave them
    window.review.reject([window.model.row_of(shots[0])])
    for p in shots[1:]:
        item = window.model.item_for(p)
        assert (item.prediction.lat, item.prediction.lon) == pytest.approx((own[p].lat, own[p].lon))
        assert item.prediction.source is own[p].source


def test_an_estimated_clock_says_why(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    # the P6000's GPS dates are a day after its clock's: the clock is 92 s fast, not a day
    folder = tmp_path / "arezzo"
    for name in ("DSCN0010.jpg", "DSCN0012.jpg"):
        copy_fixture(folder, f"gps/{name}")
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    panel = window.tracking.panel
    (camera,) = [c for c in panel.boxes if "P6000" in c]
    assert panel.boxes[camera].value() == -92
    tip = panel.boxes[camera].toolTip()
    assert "-0:01:31.8" in tip and "GPS dates +1 day(s) from the camera's" in tip


def test_place_names_typed_do_not_place_the_folder_again(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geoscope_core.scan.items as scan_items
    from geoscope_desktop.items import PlaceEdit

    folder = tmp_path / "day"
    folder.mkdir()
    shots = [
        write_jpeg(folder / f"{i}.jpg", px, taken_at=f"2024:05:14 10:0{i}:00")
        for i, px in enumerate((RED, GREEN, BLUE))
    ]
    assert window.open_folder(folder)
    assert scan(qtbot, window) is False
    runs: list[int] = []
    place_again = scan_items.follow_decisions

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return place_again(*args, **kwargs)

    monkeypatch.setattr(scan_items, "follow_decisions", counted)
    window.review.place([shots[0]], candidate_at(*PARIS), 0.1)
    assert len(runs) == 1  # a decision places the folder again
    followed = window.model.item_for(shots[1]).prediction

    # names typed for the placed photo and for a follower: nothing the placement reads
    window.review.rename([shots[0]], PlaceEdit(city="Montmartre", country="France"))
    window.review.rename([shots[1]], PlaceEdit(city="Paris 18e"))
    assert len(runs) == 1
    assert window.model.item_for(shots[0]).prediction.city == "Montmartre"
    renamed = window.model.item_for(shots[1]).prediction
    assert renamed.city == "Paris 18e"
    assert (renamed.lat, renamed.lon) == (followed.lat, followed.lon)
    # what placing it again would have given: nothing moves
    assert window.tracking.controller.follow() == 0 and len(runs) == 2
    assert window.model.item_for(shots[1]).prediction == renamed

    # a decision the placement reads still places the folder again
    window.review.reject([window.model.row_of(shots[0])])
    assert len(runs) == 3
    assert window.model.item_for(shots[2]).prediction.source is Source.MODEL  # back
