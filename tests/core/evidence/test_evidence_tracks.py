"""Track readers: every format, damaged files keep their good points and name the place."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.evidence.formats.base import parse_time
from geoscope_core.evidence.tracks import Track, TrackError, load_track, load_tracks

GPX = """<?xml version="1.0"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="45.0" lon="7.0"><time>2024-05-01T09:59:00Z</time></wpt>
<trk><trkseg>
<trkpt lat="45.0" lon="7.0"><ele>100</ele><time>2024-05-01T10:00:00Z</time></trkpt>
<trkpt lat="45.001" lon="7.0"><time>2024-05-01T10:00:10Z</time></trkpt>
</trkseg><trkseg>
<trkpt lat="45.002" lon="7.0"><time>2024-05-01T10:00:20Z</time></trkpt>
<trkpt lat="45.003" lon="7.0"></trkpt>
</trkseg></trk></gpx>
"""


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_gpx_all_segments_waypoints_and_untimed_points(tmp_path: Path) -> None:
    tr = load_track(_write(tmp_path, "a.gpx", GPX))
    assert len(tr) == 4
    assert tr.formats == ("GPX 1.1",)
    assert tr.t[0] == parse_time("2024-05-01T09:59:00Z")
    assert np.all(np.diff(tr.t) > 0)
    assert tr.ele[1] == 100 and np.isnan(tr.ele[2])
    assert any("without <time>" in w for w in tr.warnings)
    assert len(tr.polylines()) == 3  # waypoint, segment 1, segment 2


def test_truncated_gpx_keeps_points_before_the_damage(tmp_path: Path) -> None:
    cut = GPX[: GPX.index('<trkpt lat="45.002"') + 30]
    tr = load_track(_write(tmp_path, "cut.gpx", cut))
    assert len(tr) == 3
    assert any("line 8" in w and "not well-formed" in w for w in tr.warnings), tr.warnings


def test_unreadable_and_empty_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(TrackError, match="empty file"):
        load_track(_write(tmp_path, "e.gpx", ""))
    with pytest.raises(TrackError, match=r"n\.gpx: no fix with a time"):
        load_track(
            _write(tmp_path, "n.gpx", GPX.replace("<time>", "<x>").replace("</time>", "</x>"))
        )
    with pytest.raises(TrackError, match="binary"):
        load_track(_write(tmp_path, "a.gpx", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    with pytest.raises(TrackError, match=r"a\.fit: not a FIT file"):
        load_track(_write(tmp_path, "a.fit", b"\x0e\x10\x00\x00FIT\x00"))
    with pytest.raises(TrackError, match="cannot read"):
        load_track(tmp_path / "missing.gpx")


KML = """<?xml version="1.0"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">
<Document>
<Placemark><gx:Track>
<when>2024-05-01T10:00:00-02:00</when><when>2024-05-01T10:00:05-02:00</when>
<when>2024-05-01T10:00:09-02:00</when>
<gx:coord>7.0 45.0 100</gx:coord><gx:coord/><gx:coord>7.1 45.1 90</gx:coord>
</gx:Track></Placemark>
<Placemark><TimeStamp><when>2024-05-01T13:00:00Z</when></TimeStamp>
<Point><coordinates>7.2,45.2,0</coordinates></Point></Placemark>
<Placemark><TimeSpan><begin>2024-05-01T14:00:00Z</begin><end>2024-05-01T18:00:00Z</end></TimeSpan>
<LineString><coordinates>7.3,45.3 7.4,45.4 7.5,45.5</coordinates></LineString></Placemark>
</Document></kml>
"""


def test_kml_gx_track_placemarks_and_timespans(tmp_path: Path) -> None:
    tr = load_track(_write(tmp_path, "a.kml", KML))
    assert len(tr) == 6
    assert tr.t[0] == parse_time("2024-05-01T12:00:00Z")
    assert (tr.lat[1], tr.lon[1]) == (45.1, 7.1)  # the empty coord keeps its own <when>
    assert any("gx:coord 2: empty" in w for w in tr.warnings)
    spread = tr.t[-3:] - parse_time("2024-05-01T14:00:00Z")
    assert list(spread) == [0.0, 7200.0, 14400.0]
    assert tr.span[-1] == tr.span[-3] >= 0 and tr.span[0] == -1


def test_kmz_and_truncated_kml(tmp_path: Path) -> None:
    p = tmp_path / "a.kmz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("doc.kml", KML)
    assert len(load_track(p)) == 6
    cut = KML[: KML.index("<Placemark><TimeSpan>") + 20]
    tr = load_track(_write(tmp_path, "cut.kml", cut))
    assert len(tr) == 3
    assert any("not well-formed" in w and "line" in w for w in tr.warnings)


def test_nmea_rmc_gga_and_bad_checksum(tmp_path: Path) -> None:
    def sentence(body: str, good: bool = True) -> str:
        cs = 0
        for ch in body:
            cs ^= ord(ch)
        return f"${body}*{cs if good else cs ^ 1:02X}"

    text = "\n".join(
        [
            sentence("GPGGA,235959.000,5013.476,N,01710.477,E,1,09,0.8,468.7,M,0.0,M,,"),  # no date
            sentence("GPRMC,000001.00,A,4249.96542,S,14726.73195,E,0.013,,231019,,,A"),
            sentence("GPGGA,000001.00,4249.96542,S,14726.73195,E,1,09,0.96,30.0,M,-8.8,M,,"),
            sentence("GPGGA,000003.00,4249.96600,S,14726.73195,E,1,09,0.96,31.0,M,-8.8,M,,", False),
            sentence("GPGGA,000005.00,4249.96700,S,14726.73195,E,1,09,0.96,32.0,M,-8.8,M,,"),
            "garbage line",
        ]
    )
    tr = load_track(_write(tmp_path, "a.nmea", text))
    # the first GGA has no date; the one with a wrong checksum is skipped and named
    assert any("line 4: checksum" in w for w in tr.warnings), tr.warnings
    assert any("no date" in w for w in tr.warnings)
    assert len(tr) == 2
    assert tr.t[0] == parse_time("2019-10-23T00:00:01Z") and tr.t[1] == tr.t[0] + 4
    assert tr.lat[0] == pytest.approx(-42.832757, abs=1e-6)


def test_tcx_geojson_csv_and_google(tmp_path: Path) -> None:
    tcx = (
        '<?xml version="1.0"?><TrainingCenterDatabase xmlns="http://www.garmin.com/'
        'xmlschemas/TrainingCenterDatabase/v2"><Activities><Activity><Lap><Track>'
        "<Trackpoint><Time>2024-01-01T10:00:00Z</Time><Position><LatitudeDegrees>52.52"
        "</LatitudeDegrees><LongitudeDegrees>13.405</LongitudeDegrees></Position>"
        "<AltitudeMeters>34</AltitudeMeters></Trackpoint>"
        "<Trackpoint><Time>2024-01-01T10:00:05Z</Time><HeartRateBpm/></Trackpoint>"
        "</Track></Lap></Activity></Activities></TrainingCenterDatabase>"
    )
    tr = load_track(_write(tmp_path, "a.tcx", tcx))
    assert len(tr) == 1 and tr.ele[0] == 34

    gj = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [1, 2]},
                "properties": {"time": "2024-01-01T10:00:00+01:00"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[1, 3], [1, 4]]},
                "properties": {"coordTimes": ["2024-01-01T10:00:00Z", "2024-01-01T10:01:00Z"]},
            },
        ],
    }
    tr = load_track(_write(tmp_path, "a.geojson", json.dumps(gj)))
    assert len(tr) == 3 and tr.t[0] == parse_time("2024-01-01T09:00:00Z")

    csv_text = "time,lat,lon,ele\n2024-01-01T10:00:00Z,1,2,3\nbad,1,2,3\n1704103260,1.5,2,\n"
    tr = load_track(_write(tmp_path, "a.csv", csv_text))
    assert len(tr) == 2 and tr.t[1] == 1704103260.0
    assert any(w.startswith("line 3:") for w in tr.warnings)

    records = {
        "locations": [
            {"latitudeE7": 500000000, "longitudeE7": 140000000, "timestampMs": "1398441583147"},
            {
                "latitudeE7": 500000100,
                "longitudeE7": 140000000,
                "timestamp": "2014-04-25T16:00:00Z",
            },
        ]
    }
    tr = load_track(_write(tmp_path, "Records.json", json.dumps(records)))
    assert len(tr) == 2 and tr.lat[0] == pytest.approx(50.0) and tr.t[0] == 1398441583.147

    timeline = {
        "semanticSegments": [
            {
                "startTime": "2024-06-15T09:00:00.000+02:00",
                "endTime": "2024-06-15T12:00:00.000+02:00",
                "visit": {"topCandidate": {"placeLocation": {"latLng": "48.8566°, 2.3522°"}}},
            },
            {
                "startTime": "2024-06-15T12:00:00.000+02:00",
                "endTime": "2024-06-15T13:00:00.000+02:00",
                "timelinePath": [
                    {"point": "48.86°, 2.34°", "time": "2024-06-15T12:10:00.000+02:00"}
                ],
            },
        ]
    }
    tr = load_track(_write(tmp_path, "Timeline.json", json.dumps(timeline)))
    assert len(tr) == 3 and tr.span[0] == tr.span[1] >= 0  # a 3 h visit is one span

    semantic = {
        "timelineObjects": [
            {
                "placeVisit": {
                    "location": {"latitudeE7": 533407440, "longitudeE7": 837026901},
                    "duration": {
                        "startTimestamp": "2013-12-01T07:05:14Z",
                        "endTimestamp": "2013-12-01T08:05:14Z",
                    },
                }
            }
        ]
    }
    tr = load_track(_write(tmp_path, "Semantic.json", json.dumps(semantic)))
    assert len(tr) == 2 and tr.lat[0] == pytest.approx(53.340744)

    with pytest.raises(TrackError, match="line 1, column"):
        load_track(_write(tmp_path, "bad.json", '{"locations": [}'))


#: Time texts as loggers write them and as they go wrong: each is read, or skipped, alike
#: whatever the format (an hour of "+1" or " 1" is not ISO 8601; Feb 30 is Mar 1).
ODD_TIMES = [
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:00:01.5Z",
    "2024-05-01T12:00:02+02:00",
    "2024-05-01 10:00:03",
    "2024-05-01T+1:00:04Z",
    "2024-05-01T 1:00:05Z",
    "2024-02-30T10:00:06Z",
    "2024-13-01T10:00:07Z",
    "2024-05-01T10:00:60Z",
    "not a time",
]


def test_gpx_kml_and_tcx_read_every_time_text_alike(tmp_path: Path) -> None:
    n = 3000  # a thousand and more: the texts are parsed together with numpy
    texts = [f"2024-06-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(n)]
    texts[1000 : 1000 + len(ODD_TIMES)] = ODD_TIMES
    lon = [f"{7 + i / 1e4:.4f}" for i in range(n)]
    gpx = "".join(
        f'<trkpt lat="45" lon="{x}"><time>{t}</time></trkpt>\n'
        for t, x in zip(texts, lon, strict=True)
    )
    kml = "".join(f"<when>{t}</when>\n" for t in texts) + "".join(
        f"<gx:coord>{x} 45 0</gx:coord>\n" for x in lon
    )
    tcx = "".join(
        f"<Trackpoint><Time>{t}</Time><Position><LatitudeDegrees>45</LatitudeDegrees>"
        f"<LongitudeDegrees>{x}</LongitudeDegrees></Position></Trackpoint>\n"
        for t, x in zip(texts, lon, strict=True)
    )
    tracks = [
        load_track(
            _write(tmp_path, "t.gpx", f'<gpx version="1.1"><trk><trkseg>{gpx}</trkseg></trk></gpx>')
        ),
        load_track(
            _write(
                tmp_path,
                "t.kml",
                '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/'
                f'kml/ext/2.2"><Placemark><gx:Track>{kml}</gx:Track></Placemark></kml>',
            )
        ),
        load_track(
            _write(
                tmp_path,
                "t.tcx",
                '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/'
                f'TrainingCenterDatabase/v2"><Activities><Activity><Lap><Track>{tcx}'
                "</Track></Lap></Activity></Activities></TrainingCenterDatabase>",
            )
        ),
    ]
    read = []
    for t in texts:
        try:
            read.append(parse_time(t))
        except ValueError:
            continue
    assert len(read) == n - 4  # "+1", " 1", month 13 and "not a time" are skipped
    for tr in tracks:
        assert np.array_equal(tr.t, np.sort(read)), tr.formats
        assert np.array_equal(tr.lon, tracks[0].lon) and len(tr.warnings) == 4, tr.warnings


def test_equal_times_keep_the_last_and_merge_renumbers() -> None:
    a = Track.from_arrays([2.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 0.0, 0.0])
    assert list(a.t) == [1.0, 2.0] and a.lat[1] == 2.0
    b = Track.from_arrays([0.5], [9.0], [9.0], segment=[0])
    from geoscope_core.evidence.tracks import merge_tracks

    m = merge_tracks([a, b])
    assert list(m.t) == [0.5, 1.0, 2.0] and m.segment[0] == 1


def test_every_shared_track_file_loads_or_says_why() -> None:
    from geoscope_core.settings import data_dir

    root = data_dir() / "tracks" / "tracks"
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) >= 100, root
    loaded = 0
    for p in files:
        try:
            tr = load_tracks([p])
        except TrackError as e:
            assert str(p) in str(e)
            continue
        loaded += 1
        assert len(tr) and np.all(np.diff(tr.t) > 0)
    assert loaded >= 90


def _shared(rel: str) -> Path:
    from geoscope_core.settings import data_dir

    return data_dir() / "tracks" / "tracks" / rel


def test_fit_records_in_semicircles_with_altitude() -> None:
    tr = load_track(_shared("exiftool/Garmin.fit"))
    # 5 records: 4 with a position (one from 2019, appended after the 2026 activity)
    assert len(tr) == 4 and tr.formats == ("FIT",) and not tr.warnings
    assert tr.t[0] == parse_time("2019-11-24T21:28:43Z")
    assert tr.t[-1] == parse_time("2026-04-01T14:00:54Z")
    assert tr.lat[-1] == pytest.approx(390516088 * 180 / 2**31)
    assert tr.lon[-1] == pytest.approx(-1397701601 * 180 / 2**31)
    assert tr.ele[-1] == pytest.approx(66.0) and tr.ele[0] == pytest.approx(17.8)


def test_damaged_fit_keeps_the_records_before_the_damage(tmp_path: Path) -> None:
    data = _shared("exiftool/Garmin.fit").read_bytes()
    tr = load_track(_write(tmp_path, "cut.fit", data[:2900]))
    assert len(tr) == 3 and tr.t[-1] == parse_time("2026-04-01T14:00:54Z")
    assert any("byte 2899" in w and "truncated" in w for w in tr.warnings), tr.warnings
    bad_crc = data[:-1] + bytes([data[-1] ^ 0xFF])
    tr = load_track(_write(tmp_path, "crc.fit", bad_crc))
    assert len(tr) == 4 and any("checksum" in w for w in tr.warnings), tr.warnings
    with pytest.raises(TrackError, match=r"head\.fit: byte 83: file ends inside a message"):
        load_track(_write(tmp_path, "head.fit", data[:100]))
    with pytest.raises(TrackError, match=r"text\.fit: not a FIT file"):
        load_track(_write(tmp_path, "text.fit", "time,lat,lon\n"))


BRAMOR = (
    "   1 0001   42.721544   61.671879  249  25.21 21/04/2014 07:06:41  25.21    5.90"
    "    3.27 ypr\n\n"
    "   1 0002   42.721664   61.672028  250  21.94 21/04/2014 07:06:42.5  21.94    7.33"
    "    1.26 ypr\n\n"
    "   1 0003   42.721786   61.672173  249  28.36 31/13/2014 07:06:43  28.36    6.42"
    "    0.34 ypr\n\n"
    "   1 0004   42.721910   61.672337  248  22.98 21/04/2014 07:06:44  22.98    5.50"
    "    -0.80 ypr\n\n"
    "   1 0005   42.722"
)


def test_bramor_geo_log(tmp_path: Path) -> None:
    tr = load_track(_write(tmp_path, "flight.log", BRAMOR))
    assert tr.formats == ("Bramor gEO",) and len(tr) == 3
    assert tr.t[0] == parse_time("2014-04-21T07:06:41Z") and tr.t[1] == tr.t[0] + 1.5
    assert (tr.lat[0], tr.lon[0], tr.ele[0]) == (42.721544, 61.671879, 249.0)
    assert any(w.startswith("line 5: time 31/13/2014") for w in tr.warnings), tr.warnings
    assert any(w.startswith("line 9: not a Bramor record") for w in tr.warnings), tr.warnings
    with pytest.raises(TrackError, match=r"notes\.log: no CSV header"):
        load_track(_write(tmp_path, "notes.log", "started the engine\nlanded\n"))


DJI = (
    "Id,Time(seconds),Time(text),Latitude,Longitude\n"
    "1,0.3,0m 0.3s,-44.69009395,170.42456545\n"
    "2,0.4,0m 0.4s,-44.69009389,x\n"
    "3,1.5,0m 1.5s,-44.69009351,170.42456512\n"
)


def test_dji_csv_counts_seconds_from_the_time_in_its_name(tmp_path: Path) -> None:
    tr = load_track(_write(tmp_path, "DJI_2020-12-02_[07-50-31].csv", DJI))
    assert tr.formats == ("DJI CSV",) and len(tr) == 2
    assert tr.t[0] == pytest.approx(parse_time("2020-12-02T07:50:31.3Z"))
    assert tr.t[1] == pytest.approx(parse_time("2020-12-02T07:50:32.5Z"))
    assert any("taken as UTC" in w for w in tr.warnings)
    assert any(w.startswith("line 3: longitude 'x'") for w in tr.warnings), tr.warnings
    with pytest.raises(TrackError, match=r"flight\.csv: DJI CSV .* has none"):
        load_track(_write(tmp_path, "flight.csv", DJI))
