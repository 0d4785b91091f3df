"""GeoScope's track placements against ExifTool 13.58's (the reference implementation) on
the real tracks and photos of ``$GEOSCOPE_DATA/tracks`` (see its README).

For every photo/track pair ExifTool geotagged, GeoScope's position is within 1 m of
ExifTool's; where ExifTool refused for its gap limits (GeoMaxIntSecs/GeoMaxExtSecs 1800 s)
GeoScope places nothing. Time settings are ExifTool's: ``${DateTimeOriginal}TZ`` (whole
seconds) and the TZ of each row.

GeoScope interpolates along the great circle; ExifTool linearly in degrees. On short
segments the two agree to millimetres; on long ones (tens of km between fixes) they
differ by metres, so there the check is: ExifTool's answer equals the linear
interpolation between the very fixes GeoScope chose (within 1 m), and GeoScope's point
differs from it by no more than the great circle's own departure from that line.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.evidence.formats.base import parse_time
from geoscope_core.evidence.phototime import parse_zone, photo_utc
from geoscope_core.evidence.placement import How, place_by_time
from geoscope_core.evidence.tracks import Track, TrackError, load_track
from geoscope_core.photos.metadata import read_metadata
from geoscope_core.settings import data_dir

TOL_M = 1.0

#: Tracks where GeoScope deliberately reads differently from ExifTool, and why.
DIFFERENT_READING = {
    # KML pairs <when> and <gx:coord> by position; an empty <gx:coord/> (an OpenTracks
    # pause) has its own <when>. ExifTool pairs the times with the non-empty coords only,
    # shifting every later fix to an earlier time.
    "tracks/gpsbabel/opentracks.kml": "empty gx:coord shifts ExifTool's time pairing",
    "tracks/opentracks/kml22_order_location_and_when.kml": "empty gx:coord (as above)",
    # OpenTracks writes lat=100/200 as pause markers; ExifTool interpolates towards them
    # (its answers there have latitudes of 91 and 169 degrees). GeoScope skips them.
    "tracks/opentracks/legacy_gpx_pause_resume.gpx": "lat=100/200 pause markers",
    "tracks/opentracks/legacy_kml22_statistics_marker.kml": "lat=100 marker at 1970-01-01",
    # Google's newer exports: ExifTool 13.58 reads some of their points (2 of 6 in
    # timeline_new_format.json); GeoScope also reads visits, activities and timelinePath.
    "tracks/dawarich/timeline_new_format.json": "visits/activities ExifTool does not read",
    "tracks/dawarich/phone-takeout_w_3_duplicates.json": "as above",
    "tracks/dawarich/location-history.json": "as above (iOS export)",
}


def _root() -> Path:
    root = data_dir() / "tracks"
    if not (root / "expected" / "track_probes.csv").is_file():
        raise FileNotFoundError(f"track test data missing: {root} (set $GEOSCOPE_DATA)")
    return root


def _rows(name: str) -> list[dict[str, str]]:
    with (_root() / "expected" / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


_tracks: dict[str, Track | TrackError] = {}


def _track(rel: str) -> Track | TrackError:
    if rel not in _tracks:
        try:
            _tracks[rel] = load_track(_root() / rel)
        except TrackError as e:
            _tracks[rel] = e
    return _tracks[rel]


def _dist_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(min(1.0, a)))


def _linear(track: Track, t: float, i0: int, i1: int) -> tuple[float, float]:
    """ExifTool's interpolation: linear in degrees between fixes i0 and i1."""
    t0, t1 = track.t[i0], track.t[i1]
    f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
    lon0, lon1 = track.lon[i0], track.lon[i1]
    if abs(lon1 - lon0) > 180:
        lon0, lon1 = (lon0 + 360, lon1) if lon0 < lon1 else (lon0, lon1 + 360)
    return (
        track.lat[i0] * (1 - f) + track.lat[i1] * f,
        (lon0 * (1 - f) + lon1 * f + 180) % 360 - 180,
    )


def _check(track: Track, t: float, exif_lat: str, exif_lon: str, message: str) -> str:
    """'agree', 'refused-both', or a description of the disagreement."""
    p = place_by_time(track, np.array([t]))
    placed = bool(p.ok[0])
    if not exif_lat:
        if "too far" in message:
            return "refused-both" if not placed else f"placed ({p.reason(0)}); ExifTool: {message}"
        return "no-reference"
    if not placed:
        return f"refused ({p.reason(0)}); ExifTool placed {exif_lat},{exif_lon}"
    la, lo = float(exif_lat), float(exif_lon)
    d = _dist_m(la, lo, float(p.lat[0]), float(p.lon[0]))
    if d <= TOL_M:
        return "agree"
    if How(int(p.how[0])) is How.INTERPOLATED:
        i1 = int(np.clip(np.searchsorted(track.t, t, side="right"), 1, len(track) - 1))
        lin = _linear(track, t, i1 - 1, i1)
        d_lin = _dist_m(la, lo, *lin)
        gc_vs_lin = _dist_m(float(p.lat[0]), float(p.lon[0]), *lin)
        if d_lin <= TOL_M and d <= gc_vs_lin + TOL_M:
            return "agree-great-circle"
    return f"{d:.2f} m from ExifTool's {exif_lat},{exif_lon}"


def test_track_probes_agree_with_exiftool() -> None:
    """ExifTool's answers at 9 times on every track it reads (741 probes)."""
    counts: dict[str, int] = {}
    bad = []
    for r in _rows("track_probes.csv"):
        rel = r["track"]
        tr = _track(rel)
        if rel in DIFFERENT_READING:
            counts["different-reading"] = counts.get("different-reading", 0) + 1
            continue
        if isinstance(tr, TrackError):
            counts["unsupported"] = counts.get("unsupported", 0) + 1
            continue
        out = _check(tr, parse_time(r["geotime_utc"]), r["lat"], r["lon"], r["exiftool_message"])
        counts[
            out if out in ("agree", "agree-great-circle", "refused-both", "no-reference") else "bad"
        ] = counts.get(out, 0) + 1
        if out not in ("agree", "agree-great-circle", "refused-both", "no-reference"):
            bad.append(f"{rel} {r['probe']} {r['geotime_utc']}: {out}")
    assert not bad, "\n".join(bad)
    # the comparison covered what it should: most probes, both outcomes
    assert counts.get("agree", 0) >= 400 and counts.get("refused-both", 0) >= 150, counts
    assert counts.get("agree-great-circle", 0) <= 6, counts
    # only the date-less NMEA log is left out: ExifTool matches such a track by the time of
    # day alone (on any date); GeoScope places by UTC time and skips fixes without a date
    unsupported = {
        r["track"] for r in _rows("track_probes.csv") if isinstance(_track(r["track"]), TrackError)
    }
    assert unsupported == {"tracks/gpsbabel/adddate.nmea"}, unsupported


#: Tracks whose altitudes GeoScope reads differently from ExifTool, and why.
ALTITUDE_DIFFERENT = {
    # Google's location history writes altitude 0 on every point (clamped to the ground):
    # GeoScope reads no elevation; ExifTool writes 0 at the end fixes, none between.
    "tracks/exiftool/Geotag.kml": "altitude 0 everywhere",
    "tracks/timelinegeotag/history-2016-10-25.kml": "altitude 0 everywhere",
    # Files where a few fixes carry an elevation: GeoScope takes the nearest fix with one
    # (within the limits), also on such a fix itself; ExifTool's outward scan differs.
    "tracks/gpxpy/first_and_last_elevation.gpx": "2 of 10 fixes have an elevation",
    "tracks/gpscorrelate/track11.gpx": "1 of 2 fixes has an elevation",
}
#: The log's ZDA sentences are whole seconds, its GGA/RMC fixes .379 s later: altitudes
#: between fixes differ by centimetres between the two readers.
ALTITUDE_TOL_M = {"tracks/gpsbabel/nmea": 0.25}


def test_altitudes_agree_with_exiftool() -> None:
    """ExifTool writes GPSAltitude where the track has elevations; GeoScope's interpolated
    elevation agrees (its 3 decimals) at every probe and trip photo both place, and
    neither has one where the other has none."""
    rows = [r for r in _rows("track_probes.csv") if r["track"] not in DIFFERENT_READING]
    for trip in TRIPS:
        rows += _rows(f"{trip}.csv")
    agree, bad = 0, []
    for r in rows:
        tr = _track(r["track"])
        if isinstance(tr, TrackError) or not r["lat"] or r["track"] in ALTITUDE_DIFFERENT:
            continue
        p = place_by_time(tr, np.array([parse_time(r["geotime_utc"])]))
        assert p.ok[0], r
        ours = float(p.ele[0])
        if not r["alt"] or math.isnan(ours):
            if bool(r["alt"]) != (not math.isnan(ours)):
                bad.append(f"{r['track']} {r['geotime_utc']}: {r['alt'] or '-'} vs {ours}")
        elif abs(ours - float(r["alt"])) <= ALTITUDE_TOL_M.get(r["track"], 0.0015):
            agree += 1
        else:
            bad.append(f"{r['track']} {r['geotime_utc']}: ExifTool {r['alt']}, GeoScope {ours}")
    assert not bad, "\n".join(bad)
    assert agree >= 390, agree


TRIPS = [
    "exiv2_furnacecreek_2008-05-08",
    "giretti_viggiu_2024-01-29",
    "gottengeography_edmonton_2010-10-15",
    "gottengeography_redvers_2009-07-03",
    "gpx2exif_poznan_2012-03-24",
]


def _photo_time(photo: Path, tz: str) -> float:
    meta = read_metadata(photo)
    assert meta.taken_at is not None, photo
    whole = meta.taken_at.replace(microsecond=0)  # ${DateTimeOriginal}: whole seconds
    return photo_utc(whole, None, zone=parse_zone(tz)).utc


@pytest.mark.parametrize("trip", TRIPS)
def test_trip_photos_agree_with_exiftool(trip: str) -> None:
    rows = _rows(f"{trip}.csv")
    assert rows
    for r in rows:
        photo = _root() / "trips" / trip / r["file"]
        t = _photo_time(photo, r["tz_arg"])
        assert t == parse_time(r["geotime_utc"]), (r["file"], r["tz_arg"])
        tr = _track(r["track"])
        assert isinstance(tr, Track), tr
        out = _check(tr, t, r["lat"], r["lon"], r["exiftool_message"])
        assert out in ("agree", "refused-both"), f"{r['file']} {r['tz_arg']}: {out}"


def test_gpscorrelate_suite_agrees_with_exiftool() -> None:
    outcomes = []
    for r in _rows("gpscorrelate_suite_vs_exiftool.csv"):
        photo = _root() / r["image"]
        meta = read_metadata(photo)
        tr = _track(r["track"])
        if isinstance(tr, TrackError):
            # ExifTool: "GPS track is empty" for the same files
            assert "empty" in r["exiftool_message"], (r["test"], tr)
            outcomes.append("empty-both")
            continue
        if meta.taken_at is None or (not r["exiftool_lat"] and not r["exiftool_message"]):
            outcomes.append("no-reference")
            continue
        t = photo_utc(
            meta.taken_at.replace(microsecond=0), None, zone=parse_zone(r["photo_tz"])
        ).utc
        out = _check(tr, t, r["exiftool_lat"], r["exiftool_lon"], r["exiftool_message"])
        assert out in ("agree", "refused-both"), f"{r['test']} {r['title']}: {out}"
        outcomes.append(out)
    assert outcomes.count("agree") >= 13 and outcomes.count("empty-both") == 5, outcomes


_GEOTIME = re.compile(r"-(?:xmp:)?geotime=(\d{4}):(\d\d):(\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(\S*)'")


def test_exiftool_geotag_t_cases() -> None:
    """ExifTool's own t/Geotag.t cases (GPX, NMEA with $PMGNTRK and $GPRMC, Garmin XML
    with a -geosync offset, KML, Bramor gEO, DJI CSV, Garmin FIT). Test 12's geotime has
    no zone: ExifTool reads it, and the DJI start time in the file name, in the computer's
    zone (UTC when the reference was made); GeoScope takes both as UTC."""
    from geoscope_core.evidence.phototime import offset_for, parse_time_offset

    checked = []
    for r in _rows("exiftool_testsuite_cli.csv"):
        if r["test"] == "7":
            continue  # 7: two-point clock drift
        tr = _track(r["track"])
        assert isinstance(tr, Track), (r["test"], tr)
        m = _GEOTIME.search(r["args"])
        if m:
            y, mo, d, hms, zone = m.groups()
            t = parse_time(f"{y}-{mo}-{d}T{hms}{zone or 'Z'}")
        else:
            meta = read_metadata(_root() / r["image"])
            zone = re.search(r"DateTimeOriginal\}([+-]\d\d:\d\d)", r["args"])
            assert meta.taken_at is not None and zone is not None
            sync = re.search(r"-geosync=(\S+)", r["args"])
            offsets = [parse_time_offset(sync.group(1))] if sync else []
            t = photo_utc(
                meta.taken_at,
                None,
                zone=parse_zone(zone.group(1)),
                offset_s=offset_for(meta.camera, offsets),
            ).utc
        out = _check(tr, t, r["lat"], r["lon"], r["exiftool_message"])
        assert out in ("agree", "refused-both"), f"test {r['test']}: {out}"
        checked.append(r["test"])
    assert checked == ["2", "3", "4", "6", "8", "9", "10", "12", "13"], checked
