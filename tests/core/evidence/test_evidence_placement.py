"""Placement by time (limits, great circle, radius, confidence) and photo times in UTC."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from geoscope_core.errors import ConfigError
from geoscope_core.evidence.phototime import (
    ClockOffset,
    offset_for,
    parse_time_offset,
    parse_zone,
    photo_utc,
)
from geoscope_core.evidence.placement import How, PlacementLimits, place_by_time, slerp
from geoscope_core.evidence.tracks import Track


def _track() -> Track:
    # fixes at 0, 100 s (1 km north), then a 2 h gap, then 7300 s
    return Track.from_arrays([0.0, 100.0, 7300.0], [0.0, 0.009, 0.018], [10.0, 10.0, 10.0])


def test_interpolation_limits_and_reasons() -> None:
    tr = _track()
    t = np.array([50.0, -100.0, -4000.0, 200.0, 3700.0, 7300.0 + 1800.0, 9200.0, math.nan])
    p = place_by_time(tr, t)
    assert [How(h) for h in p.how] == [
        How.INTERPOLATED,
        How.BEFORE_START,
        How.REFUSED_BEFORE,
        How.NEAREST,
        How.REFUSED_GAP,
        How.AFTER_END,
        How.REFUSED_AFTER,
        How.NO_TIME,
    ]
    assert list(p.ok) == [True, True, False, True, False, True, False, False]
    assert p.lat[0] == pytest.approx(0.0045, abs=1e-9)
    assert p.reason(0) == "track, 50 s from a fix"
    assert "gap" in p.reason(4) and "too far" in p.reason(2)
    # settable limits: a 3 h gap limit interpolates inside the gap
    p2 = place_by_time(tr, np.array([3700.0]), PlacementLimits(max_gap_s=3 * 3600))
    assert How(p2.how[0]) is How.INTERPOLATED and 0.009 < p2.lat[0] < 0.018
    p3 = place_by_time(tr, np.array([-100.0]), PlacementLimits(max_extrapolation_s=60))
    assert not p3.ok[0]
    with pytest.raises(ConfigError):
        PlacementLimits(max_gap_s=-1)


def test_radius_and_confidence_grow_with_gap_and_speed() -> None:
    slow = Track.from_arrays([0.0, 600.0], [0.0, 0.001], [0.0, 0.0])  # 111 m in 10 min
    fast = Track.from_arrays([0.0, 600.0], [0.0, 0.1], [0.0, 0.0])  # 11 km in 10 min
    t = np.array([10.0, 300.0])
    ps, pf = place_by_time(slow, t), place_by_time(fast, t)
    assert ps.radius_m[0] < ps.radius_m[1] < pf.radius_m[1]
    assert ps.radius_m[1] == pytest.approx(10 + 1.5 * 300)  # walking speed bound
    assert pf.radius_m[1] == pytest.approx(10 + 11119.5 / 600 * 300, rel=1e-3)
    assert ps.confidence[0] > ps.confidence[1] > pf.confidence[1] > 0


def test_great_circle_interpolation() -> None:
    # along the equator across the antimeridian, and a long high-latitude arc
    lat, lon = slerp(np.array(0.0), np.array(179.0), np.array(0.0), np.array(-179.0), 0.5)
    assert abs(lat) < 1e-9 and abs(abs(float(lon)) - 180.0) < 1e-9
    lat, lon = slerp(np.array(60.0), np.array(0.0), np.array(60.0), np.array(90.0), 0.5)
    assert float(lon) == pytest.approx(45.0) and float(lat) > 60.0  # poleward of the rhumb line


def test_photo_time_sources() -> None:
    dt = datetime(2024, 8, 10, 14, 34, 15, 694000)
    utc = datetime(2024, 8, 10, 12, 34, 15, 694000, tzinfo=timezone.utc).timestamp()
    t = photo_utc(dt, 120)
    assert t.utc == pytest.approx(utc) and "OffsetTimeOriginal" in t.zone_note
    t = photo_utc(dt, None, zone=parse_zone("Europe/Rome"))
    assert t.utc == pytest.approx(utc) and "the zone you gave" in t.zone_note
    t = photo_utc(dt, None, position=(41.9, 12.48))
    assert t.utc == pytest.approx(utc) and "Europe/Rome" in t.zone_note
    t = photo_utc(dt, None, position_at=lambda _t: (41.9, 12.48), offset_s=-30)
    assert t.utc == pytest.approx(utc - 30) and "track position" in t.zone_note
    t = photo_utc(dt, None)
    assert not t.known and "--tz" in t.zone_note
    # winter: Rome is +01:00
    w = photo_utc(datetime(2024, 1, 29, 10, 40, 5), None, zone=parse_zone("Europe/Rome"))
    assert w.utc == datetime(2024, 1, 29, 9, 40, 5, tzinfo=timezone.utc).timestamp()
    assert parse_zone("-08:00").utcoffset(None) == timedelta(hours=-8)
    with pytest.raises(ConfigError):
        parse_zone("Mars/Olympus")


def test_time_offsets_like_geosync() -> None:
    assert parse_time_offset("+30") == ClockOffset(30.0)
    assert parse_time_offset("-1:30") == ClockOffset(-90.0)
    assert parse_time_offset("1:02:03") == ClockOffset(3723.0)
    assert parse_time_offset("ILCE-7M2=-0:42") == ClockOffset(-42.0, "ILCE-7M2")
    offs = [parse_time_offset("+10"), parse_time_offset("sony=-5")]
    assert offset_for("SONY ILCE-7M2 123", offs) == -5.0
    assert offset_for("Canon EOS", offs) == 10.0
    for bad in ("abc", "+1:75", "x=", "+1:2:3:4"):
        with pytest.raises(ConfigError):
            parse_time_offset(bad)
