"""Evaluation metrics against hand-computed values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.metrics import (
    THRESHOLDS_KM,
    accuracy_at,
    evaluate,
    geoscore,
    plot_accuracy_vs_distance,
)

PARIS = (48.8566, 2.3522)
LONDON = (51.5074, -0.1278)
ZAGREB = (45.815, 15.982)


def test_geoscore_hand_values() -> None:
    assert geoscore(0.0) == 5000.0
    assert geoscore([1492.7]) == pytest.approx(5000 / math.e)
    assert geoscore([0.0, 1492.7 * 2]) == pytest.approx((5000 + 5000 * math.exp(-2)) / 2)
    with pytest.raises(DataError):
        geoscore([])
    with pytest.raises(DataError):
        geoscore([-1.0])


def test_accuracy_thresholds_are_inclusive() -> None:
    acc = accuracy_at([0.5, 1.0, 24.0, 200.0, 751.0, 3000.0])
    assert list(acc) == ["1", "25", "200", "750", "2500"]
    assert acc == {"1": 2 / 6, "25": 3 / 6, "200": 4 / 6, "750": 4 / 6, "2500": 5 / 6}


def test_evaluate_on_known_city_pairs() -> None:
    # predictions: Paris for London (~343.6 km off), Zagreb exactly, Paris exactly
    pred_lat = [PARIS[0], ZAGREB[0], PARIS[0]]
    pred_lon = [PARIS[1], ZAGREB[1], PARIS[1]]
    true_lat = [LONDON[0], ZAGREB[0], PARIS[0]]
    true_lon = [LONDON[1], ZAGREB[1], PARIS[1]]
    m = evaluate(
        pred_lat, pred_lon, true_lat, true_lon,
        pred_cc=["fr", "HR", "FR"], true_cc=["GB", "hr", "FR"],
        pred_admin1=["FR/Île-de-France", "HR/Zagreb", "FR/Île-de-France"],
        true_admin1=["GB/England", "HR/Zagreb", ""],
    )  # fmt: skip
    assert set(m) == {
        "n", "acc_km", "median_km", "mean_km", "country_acc", "admin1_acc", "city_acc", "geoscore"
    }  # fmt: skip
    assert m["n"] == 3
    assert m["acc_km"] == {"1": 2 / 3, "25": 2 / 3, "200": 2 / 3, "750": 1.0, "2500": 1.0}
    d = 343.56  # Paris-London great-circle km
    assert m["median_km"] == 0.0
    assert m["mean_km"] == pytest.approx(d / 3, abs=0.05)
    assert m["geoscore"] == pytest.approx((2 * 5000 + 5000 * math.exp(-d / 1492.7)) / 3, abs=0.1)
    assert m["country_acc"] == pytest.approx(2 / 3)
    assert m["admin1_acc"] == pytest.approx(1 / 2)  # the row without a true admin-1 is left out
    assert m["city_acc"] is None
    # radii: London is 343.6 km off (outside 300, inside 400); exact hits are always inside
    within = evaluate(pred_lat, pred_lon, true_lat, true_lon, pred_radius_km=[300, 1, 1])
    assert within["within_radius"] == pytest.approx(2 / 3)
    assert evaluate(pred_lat, pred_lon, true_lat, true_lon, pred_radius_km=[400, 1, 1])[
        "within_radius"
    ] == pytest.approx(1.0)


def test_evaluate_rejects_bad_input() -> None:
    with pytest.raises(DataError):
        evaluate([], [], [], [])
    with pytest.raises(DataError):
        evaluate([1.0, 2.0], [1.0], [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(DataError):
        evaluate([91.0], [0.0], [0.0], [0.0])
    with pytest.raises(DataError):
        evaluate([0.0], [0.0], [0.0], [0.0], pred_cc=["HR", "FR"], true_cc=["HR"])
    with pytest.raises(DataError):
        evaluate([0.0], [0.0], [0.0], [0.0], pred_radius_km=[1.0, 2.0])


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="needs the 'plot' extra (matplotlib)")
    rng = np.random.default_rng(0)
    out = plot_accuracy_vs_distance(
        {"model": rng.exponential(300, 200), "baseline": rng.exponential(2000, 200)},
        tmp_path / "plots" / "acc.png",
    )
    assert out == tmp_path / "plots" / "acc.png"
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(out) as im:
        assert im.size[0] > 400 and im.size[1] > 300
        colours = im.convert("RGB").getcolors(maxcolors=100_000)
        assert colours is not None and len(colours) > 10  # more than a blank canvas
    with pytest.raises(ConfigError):
        plot_accuracy_vs_distance({}, tmp_path / "x.png")
    with pytest.raises(DataError):
        plot_accuracy_vs_distance({"empty": np.array([])}, tmp_path / "x.png")
    assert THRESHOLDS_KM == (1, 25, 200, 750, 2500)
