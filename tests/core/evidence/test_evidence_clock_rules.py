"""Clock offsets are applied only when the evidence as a whole says so, the user's --tz and
--time-offset win, and every offset is told in hours, minutes and seconds."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.evidence.offsets import OffsetSearch, format_offset, from_anchors, from_photos
from geoscope_core.evidence.personal import EvidenceOptions, PersonalEvidence
from geoscope_core.evidence.phototime import parse_time_offset
from geoscope_core.evidence.tracks import load_track
from geoscope_core.geo.distance import haversine_km
from geoscope_core.photos.metadata import read_metadata
from geoscope_core.settings import data_dir

TRIPS = data_dir() / "tracks" / "trips"
FURNACE = TRIPS / "exiv2_furnacecreek_2008-05-08"
FURNACE_TRACK = data_dir() / "tracks" / "tracks" / "exiv2" / "FurnaceCreekInn.gpx"
NIKON = data_dir() / "fixtures" / "exif-samples" / "jpg" / "gps"


def _need(*paths: Path) -> None:
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"test data missing: {p} (set $GEOSCOPE_DATA)")


def test_offsets_are_told_in_hours_minutes_and_seconds() -> None:
    assert format_offset(90) == "+0:01:30"
    assert format_offset(-28800) == "-8:00:00"
    assert format_offset(86308) == "+23:58:28"
    assert format_offset(-92.1) == "-0:01:32.1"
    assert format_offset(0) == "+0:00:00"


def test_gps_date_a_day_off_is_no_clock_error() -> None:
    # NIKON COOLPIX P6000 photos of Arezzo: their GPS date is the day after the camera's,
    # their GPS time 92 s before the camera's (once the zone is Italy's): the scan of
    # them used to print "clock +86308 s"
    _need(NIKON)
    metas = [read_metadata(p) for p in sorted(NIKON.glob("DSCN*.jpg"))]
    metas = [m for m in metas if "P6000" in m.camera]
    assert len(metas) >= 5
    ev = PersonalEvidence(None, EvidenceOptions())
    ev.add_reference_photos(metas)
    (cam,) = ev.resolve_offsets(metas)
    assert cam.origin == "estimated" and cam.estimate is not None
    assert cam.seconds == pytest.approx(-92, abs=1.0)
    assert "GPS dates +1 day(s)" in cam.estimate.note and "-0:01:32" in cam.estimate.note


def _furnace_metas():  # type: ignore[no-untyped-def]
    _need(FURNACE, FURNACE_TRACK)
    return [read_metadata(p) for p in sorted(FURNACE.glob("*.jpg"))]


def _exiftool_positions() -> dict[str, tuple[float, float]]:
    path = data_dir() / "tracks" / "expected" / "exiv2_furnacecreek_2008-05-08.csv"
    _need(path)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        r["file"]: (float(r["lat"]), float(r["lon"])) for r in rows if r["tz_role"] == "primary"
    }


def test_tz_wins_over_a_gps_time_equal_to_local_time() -> None:
    # FurnaceCreekInn.jpg carries a GPS time equal to its local time (a camera habit);
    # with --tz -08:00 it must not become a -8 h clock error that moves the others off
    # the track
    metas = _furnace_metas()
    track = load_track(FURNACE_TRACK)
    ev = PersonalEvidence(track, EvidenceOptions(tz="-08:00"))
    ev.add_reference_photos([m for m in metas if m.gps is not None])
    (cam,) = ev.resolve_offsets(metas)
    assert cam.seconds == 0.0 and cam.origin == "none"
    want = _exiftool_positions()
    untagged = [m for m in metas if m.gps is None]
    placed = ev.place(untagged)
    for m, tp in zip(untagged, placed, strict=True):
        assert tp is not None and tp.source == "track", m.path.name
        assert haversine_km(tp.lat, tp.lon, *want[m.path.name]) * 1000 < 5.0
    # the user's --time-offset wins over any estimate
    given = EvidenceOptions(tz="-08:00", time_offsets=(parse_time_offset("Canon=+0:00:05"),))
    ev = PersonalEvidence(track, given)
    (cam,) = ev.resolve_offsets(metas)
    assert (cam.seconds, cam.origin) == (5.0, "--time-offset")


def test_anchor_rules() -> None:
    cam = np.array([1000.0, 2000.0, 3000.0])
    # a GPS time equal to the camera's own wall time is no anchor
    assert from_anchors(cam, cam - 3600.0, local=cam - 3600.0) is None
    # a known zone keeps whole hours; a real clock error of 40 s stays
    est = from_anchors(cam, cam + 3640.0, zone_known=True)
    assert est is not None and est.seconds == pytest.approx(40.0) and est.clear
    est = from_anchors(cam, cam + 3640.0, zone_known=False)  # a clock on home time
    assert est is not None and est.seconds == pytest.approx(3640.0)
    # anchors that disagree are not clear
    est = from_anchors(cam, cam + np.array([0.0, 300.0, 900.0]))
    assert est is not None and not est.clear


def test_one_look_alike_pair_is_never_enough() -> None:
    # one phone photo of another scene, 40 min away, looks like one camera photo: no offset
    cam = np.array([0.0, 600.0, 1200.0])
    ref = np.array([2400.0, 9000.0])
    sim = np.array([[0.9, 0.1], [0.1, 0.1], [0.1, 0.1]])
    est = from_photos(cam, ref, sim, OffsetSearch())
    assert est is not None and not est.clear and "not clear" in est.note
    # three pairs agreeing on the same offset are
    ref = cam + 2400.0
    sim = np.full((3, 3), 0.1) + 0.8 * np.eye(3)
    est = from_photos(cam, ref, sim, OffsetSearch())
    assert est is not None and est.clear and est.seconds == pytest.approx(2400.0, abs=1.0)


def test_a_track_alone_lets_the_model_estimate_the_clock() -> None:
    metas = _furnace_metas()
    track = load_track(FURNACE_TRACK)
    untagged = [m for m in metas if m.gps is None]
    # no GPS photos of other devices, no anchor of its own: the track and the model tell
    assert PersonalEvidence(track).cameras_to_estimate(untagged) == {untagged[0].camera}
    assert PersonalEvidence(None).cameras_to_estimate(untagged) == set()
    off = PersonalEvidence(track, EvidenceOptions(estimate_offsets=False))
    assert off.cameras_to_estimate(untagged) == set()
