"""The desktop app's plain-Python parts: item state, progress arithmetic, map data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from geoscope_core.errors import ConfigError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.photos.plan import WriteAction
from geoscope_core.photos.undo import UndoAction
from geoscope_core.prediction import Candidate, Prediction, Source
from geoscope_core.scan.types import ScanStatus
from geoscope_desktop.items import (
    PhotoItem,
    PhotoStatus,
    ProgressMeter,
    estimate_text,
    format_km,
    format_latlon,
    is_unsure,
    place_text,
)
from geoscope_desktop.mapdata import circle_points, world_outlines


def _pred(lat: float = 45.8, lon: float = 15.98, conf: float = 0.4) -> Prediction:
    alt = Candidate(43.5, 16.44, 0.3, "HR", "Croatia", "Splitsko-Dalmatinska", "Split", 310.0)
    first = Candidate(lat, lon, conf, "HR", "Croatia", "Grad Zagreb", "Zagreb", 120.0)
    return Prediction(
        lat=lat,
        lon=lon,
        confidence=conf,
        radius_km=120.0,
        country_code="HR",
        country="Croatia",
        admin1="Grad Zagreb",
        city="Zagreb",
        top_k=(first, alt),
        source=Source.MODEL,
        model="tiny@abc",
    )


def _result(status: ScanStatus, pred: Prediction | None = None, gps=None, error: str = ""):
    meta = SimpleNamespace(gps=gps, taken_at=None, camera="")
    return SimpleNamespace(
        path=Path("a.jpg"), status=status, prediction=pred, metadata=meta, error=error
    )


def test_scan_results_map_to_statuses() -> None:
    item = PhotoItem(Path("a.jpg"))
    assert item.with_scan(_result(ScanStatus.PREDICTED, _pred())).status is PhotoStatus.ESTIMATED
    assert item.with_scan(_result(ScanStatus.NEIGHBORS, _pred())).status is PhotoStatus.ESTIMATED
    exif = item.with_scan(_result(ScanStatus.EXIF, _pred(), gps=(1.0, 2.0)))
    assert exif.status is PhotoStatus.HAS_GPS and exif.gps == (1.0, 2.0)
    err = item.with_scan(_result(ScanStatus.ERROR, None, error="truncated JPEG"))
    assert err.status is PhotoStatus.ERROR and err.message == "truncated JPEG"
    assert err.prediction is None


def test_review_transitions_and_correction() -> None:
    est = PhotoItem(Path("a.jpg")).with_scan(_result(ScanStatus.PREDICTED, _pred()))
    acc = est.accepted()
    assert acc.status is PhotoStatus.ACCEPTED
    assert acc.rejected().status is PhotoStatus.REJECTED
    # photos with their own GPS and errors cannot be accepted or moved
    exif = PhotoItem(Path("a.jpg")).with_scan(_result(ScanStatus.EXIF, _pred(), gps=(45.8, 15.98)))
    assert exif.accepted() is exif
    assert exif.corrected_to(Candidate(0.0, 0.0, 1.0)) is exif
    # choosing the second alternative moves the estimate and keeps the model's original
    alt = est.prediction.top_k[1]
    moved = acc.corrected_to(alt)
    assert (moved.prediction.lat, moved.prediction.lon) == (alt.lat, alt.lon)
    assert moved.prediction.city == "Split" and moved.prediction.confidence == pytest.approx(0.3)
    assert moved.prediction.radius_km == 310.0  # the alternative's own radius, not the top's
    assert moved.corrected and moved.status is PhotoStatus.ESTIMATED
    assert moved.model_prediction == est.prediction
    # a candidate without a radius of its own (saved by an older version) keeps the radius
    legacy = moved.corrected_to(Candidate(10.0, 20.0, 0.2))
    assert legacy.prediction.radius_km == 310.0 and legacy.prediction.lat == 10.0
    back = legacy.reverted()
    assert back.prediction == est.prediction and not back.corrected


def test_text_helpers() -> None:
    # named no finer than the radius supports (120 km: a region, not a city)
    assert place_text(_pred()) == "Grad Zagreb, Croatia"
    assert place_text(replace(_pred(), radius_km=20.0)) == "Zagreb, Grad Zagreb, Croatia"
    assert place_text(replace(_pred(), radius_km=900.0)) == "Croatia"
    assert place_text(Candidate(1, 2, 0.5, country_code="FR")) == "FR"
    assert place_text(None) == ""
    assert format_latlon(-33.8688, 151.2093) == "33.86880° S, 151.20930° E"  # a fix
    # no finer than the radius: a continent-wide guess shows whole degrees
    assert format_latlon(-13.3456789, -77.9123456, 2164.0) == "13° S, 78° W"
    assert format_latlon(-13.3456789, -77.9123456, 25.0) == "13.35° S, 77.91° W"
    assert format_latlon(-13.3456789, -77.9123456, 0.011) == "13.34568° S, 77.91235° W"
    assert format_km(0.35) == "350 m" and format_km(1234) == "1,234 km"


def test_progress_meter_rate_and_eta() -> None:
    now = [0.0]
    meter = ProgressMeter(window_s=10, clock=lambda: now[0])
    meter.reset(100)
    assert meter.rate == 0 and meter.eta_s is None
    for step in range(1, 6):
        now[0] = float(step)
        meter.update(step * 4, 100)  # 4 photos/s
    assert meter.rate == pytest.approx(4.0)
    assert meter.eta_s == pytest.approx(20.0)
    assert meter.text() == "20 / 100 · 4.0 photos/s · 20 s left"
    # old samples leave the window: the rate follows the recent speed
    for step in range(6, 30):
        now[0] = float(step)
        meter.update(20 + (step - 5) * 1, 100)  # 1 photo/s
    assert meter.rate == pytest.approx(1.0)
    with pytest.raises(ConfigError):
        ProgressMeter(window_s=0)


@pytest.mark.parametrize(
    ("lat", "lon", "radius"), [(45.8, 15.98, 25.0), (-33.9, 151.2, 750.0), (64.0, 179.5, 300.0)]
)
def test_circle_points_are_at_the_radius(lat: float, lon: float, radius: float) -> None:
    pts = circle_points(lat, lon, radius, n=64)
    assert pts.shape == (64, 2)
    d = haversine_km(lat, lon, pts[:, 1], ((pts[:, 0] + 180) % 360) - 180)
    np.testing.assert_allclose(d, radius, rtol=1e-3)
    # continuous across the antimeridian: no jump of ~360 degrees between neighbours
    assert np.abs(np.diff(pts[:, 0])).max() < 30


def test_world_outlines_resource() -> None:
    countries = world_outlines()
    assert len(countries) == 177
    codes = {c.iso_a2 for c in countries}
    assert {"HR", "FR", "US", "JP", "AU", "HU", "RS", "AL", "AE"} <= codes
    hr = next(c for c in countries if c.iso_a2 == "HR")
    lons = np.concatenate([r[:, 0] for r in hr.rings])
    lats = np.concatenate([r[:, 1] for r in hr.rings])
    assert 13 < lons.min() < lons.max() < 20 and 42 < lats.min() < lats.max() < 47
    from importlib import resources

    size = resources.files("geoscope_desktop").joinpath("resources", "world_outlines.json")
    assert len(size.read_bytes()) < 2_000_000


def test_installed_qt_bindings_keep_reference_counts() -> None:
    """PySide6 6.12.0 loses a reference to None/True per call; the app would abort."""
    import sys

    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QApplication, QLabel

    from geoscope_desktop.bindings import bindings_problem

    class Probe(QObject):
        ping = Signal(int)

    app = QApplication.instance() or QApplication([])
    label, probe = QLabel(), Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(100):
        label.setText("x")
        probe.ping.emit(1)
    assert sys.getrefcount(None) - none_before > -50, bindings_problem()
    assert sys.getrefcount(True) - true_before > -50, bindings_problem()
    assert app is not None


@pytest.mark.parametrize(
    ("lat", "lon", "radius"),
    [(13.6, 101.3, 8793.0), (-70.0, 20.0, 3000.0), (64.0, 179.5, 300.0), (-33.9, 151.2, 750.0)],
)
def test_circle_shapes_fill_exactly_the_circle_on_the_map(
    lat: float, lon: float, radius: float
) -> None:
    """Circles over a pole or across the antimeridian: a map point is inside one of the
    polygons exactly when it lies within the radius."""
    from matplotlib.path import Path as MplPath

    from geoscope_desktop.mapdata import circle_shapes

    shapes = circle_shapes(lat, lon, radius, n=720)
    assert shapes.closed == (lat > -60 and radius < 5000)  # the outline is a loop
    paths = [MplPath(poly) for poly in shapes.fills]
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-180, 180, 4000), rng.uniform(-89, 89, 4000)])
    d = haversine_km(lat, lon, pts[:, 1], pts[:, 0])
    clear = np.abs(d - radius) > 0.02 * radius + 100  # away from the drawn edge
    inside = np.array([any(p.contains_point(pt) for p in paths) for pt in pts[clear]])
    np.testing.assert_array_equal(inside, d[clear] <= radius)


def test_circle_shapes_over_both_poles_fill_the_whole_map() -> None:
    from geoscope_desktop.mapdata import circle_shapes

    shapes = circle_shapes(0.0, 0.0, 15000.0)
    (world,) = shapes.fills
    assert shapes.outlines == []
    assert world[:, 0].min() == -180 and world[:, 0].max() == 180
    assert world[:, 1].min() == -90 and world[:, 1].max() == 90


def test_confident_write_and_undo_transitions() -> None:
    est = PhotoItem(Path("a.jpg")).with_scan(_result(ScanStatus.PREDICTED, _pred(conf=0.4)))
    assert est.is_confident(0.4) and not est.is_confident(0.41)
    assert not est.accepted().is_confident(0.1), "only unreviewed estimates are accepted in bulk"
    acc = est.accepted()
    side = acc.after_write(WriteAction.SIDECAR, target=Path("a.jpg.xmp"))
    assert side.status is PhotoStatus.WRITTEN and side.message == "written to a.jpg.xmp"
    failed = acc.after_write(WriteAction.FAILED, "read-only")
    assert failed.status is PhotoStatus.ACCEPTED and failed.message == "not written: read-only"
    assert acc.after_write(WriteAction.SKIPPED, "has GPS").message == "skipped: has GPS"
    assert side.after_undo(UndoAction.RESTORED).status is PhotoStatus.ACCEPTED
    assert side.after_undo(UndoAction.REFUSED) is side
    assert acc.after_undo(UndoAction.RESTORED) is acc


def test_first_eta_ignores_the_model_load() -> None:
    now = [0.0]
    meter = ProgressMeter(window_s=10, clock=lambda: now[0])
    meter.reset(1000)
    now[0] = 30.0  # 30 s loading the model before the first photo is done
    meter.update(10, 1000)
    assert meter.eta_s is None, "no ETA from a single report"
    now[0] = 31.0
    meter.update(20, 1000)
    assert meter.eta_s is None, "no ETA before the rate has settled"
    now[0] = 32.0
    meter.update(30, 1000)
    assert meter.rate == pytest.approx(10.0)  # not 30 / 32 s
    assert meter.eta_s == pytest.approx(97.0)


def test_missing_qt_system_libraries_are_named_with_their_packages(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from geoscope_desktop import app, system_libs

    assert system_libs.missing_libraries(["libc.so.6", "libgeoscope-nosuch.so.9"]) == [
        "libgeoscope-nosuch.so.9"
    ]
    assert system_libs.uses_xcb({"DISPLAY": ":0"}, "linux")
    assert not system_libs.uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert system_libs.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not system_libs.uses_xcb({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux")
    assert not system_libs.uses_xcb({"DISPLAY": ":0"}, "darwin")
    # the app refuses to start (instead of Qt aborting the process) and says what to install
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(
        system_libs, "missing_libraries", lambda: ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
    )
    assert app.main(["--settings", "/nonexistent/s.ini"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install libxcb-cursor0 libxcb-icccm4" in err
    assert "Traceback" not in err
    # so does the self-test run on X11 by choice (headless, it needs none of them)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert app.main(["--self-test"]) == 2
    assert "apt-get install libxcb-cursor0" in capsys.readouterr().err


def test_unsure_is_said_where_the_model_does_not_know() -> None:
    weak = replace(_pred(conf=0.19), radius_km=2164.0, unsure=True)
    assert is_unsure(weak) and estimate_text(weak) == "unsure: confidence 19% · within ±2,164 km"
    assert not is_unsure(_pred(conf=0.62))
    # the decoder decides, not a threshold of the app's own
    assert not is_unsure(replace(weak, unsure=False))
    assert estimate_text(_pred(conf=0.62)) == "confidence 62% · within ±120 km"
    # a placement by the user's own evidence is never the model's doubt
    assert not is_unsure(replace(weak, source=Source.TRACK))
