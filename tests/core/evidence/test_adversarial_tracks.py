"""Hostile track logs: each is refused (or read within bounds) with a clear message, never
a hang, a traceback or gigabytes of memory."""

from __future__ import annotations

import json
import os
import struct
import threading
import zipfile
from pathlib import Path

import pytest

from geoscope_core.cli import main
from geoscope_core.errors import ConfigError
from geoscope_core.evidence.tracks import ReadLimits, TrackError, load_track

KML = (
    '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
    "<Placemark><TimeStamp><when>2024-05-01T13:00:00Z</when></TimeStamp>"
    "<Point><coordinates>7.2,45.2,0</coordinates></Point></Placemark>"
)
GPX_POINT = '<trkpt lat="45.0" lon="7.0"><time>2024-05-01T10:00:00Z</time></trkpt>'


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def _kmz_of_spaces(path: Path, megabytes: int) -> None:
    """A KMZ whose KML is a placemark and then ``megabytes`` MB of spaces (1000:1)."""
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("doc.kml", "w", force_zip64=True) as f,
    ):
        f.write(KML.encode())
        block = b" " * (1 << 20)
        for _ in range(megabytes):
            f.write(block)
        f.write(b"</Document></kml>")


def test_kmz_bomb_is_refused_before_it_is_inflated(tmp_path: Path, monkeypatch) -> None:
    bomb = tmp_path / "bomb.kmz"
    _kmz_of_spaces(bomb, 64)
    assert bomb.stat().st_size < 200_000  # 64 MB of KML in under 0.2 MB

    def no_inflating(*args: object, **kw: object) -> None:
        raise AssertionError("the KML was inflated")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_inflating)
    with pytest.raises(TrackError, match=r"bomb\.kmz: KMZ: doc\.kml inflates \d+ times"):
        load_track(bomb)


def test_kmz_member_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "big.kmz"
    _kmz_of_spaces(p, 2)
    with pytest.raises(TrackError, match=r"inflates to 2\.1 MB; over 1\.0 MB is refused"):
        load_track(p, limits=ReadLimits(max_bytes=1_000_000, max_ratio=10_000))


def test_kmz_member_that_lies_about_its_size_stops_at_the_declared_size(tmp_path: Path) -> None:
    """A member declaring 1 KB that inflates to 8 MB: reading stops at 1 KB (the checksum
    then fails), whatever the real size."""
    p = tmp_path / "liar.kmz"
    _kmz_of_spaces(p, 8)
    data = bytearray(p.read_bytes())
    real = 8 * (1 << 20) + len(KML) + len("</Document></kml>")
    # the local header's zip64 size and the central directory's (the one readers use)
    for fmt in ("<Q", "<I"):
        at = data.rindex(struct.pack(fmt, real))
        data[at : at + struct.calcsize(fmt)] = struct.pack(fmt, 1024)
    p.write_bytes(bytes(data))
    with pytest.raises(TrackError, match=r"liar\.kmz: not a readable KMZ archive: Bad CRC-32"):
        load_track(p)


def test_a_sparse_2gb_file_is_refused_by_its_size_unread(tmp_path: Path) -> None:
    p = tmp_path / "huge.gpx"
    with p.open("wb") as f:
        f.truncate(2 << 30)  # sparse: no disk used
    with pytest.raises(TrackError, match=r"huge\.gpx: 2\.1 GB: track files over 1\.0 GB"):
        load_track(p)


def test_zeros_under_the_limit_are_refused_from_the_first_bytes(tmp_path: Path) -> None:
    p = tmp_path / "zeros.csv"
    with p.open("wb") as f:
        f.truncate(900 << 20)
    with pytest.raises(TrackError, match=r"zeros\.csv: binary file"):
        load_track(p)


def test_limits_are_validated() -> None:
    with pytest.raises(ConfigError, match="max_ratio"):
        ReadLimits(max_ratio=0)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_refused() -> None:
    with pytest.raises(TrackError, match=r"/dev/zero: not a regular file"):
        load_track("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.gpx"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_track(fifo)
            outcome.append(None)
        except BaseException as e:
            outcome.append(e)

    th = threading.Thread(target=load, daemon=True)
    th.start()
    th.join(10)
    if th.is_alive():  # unblock the reader before failing
        with open(fifo, "wb"):
            pass
        th.join(5)
        pytest.fail("reading a FIFO as a track hung")
    assert isinstance(outcome[0], TrackError) and "not a regular file" in str(outcome[0])


def test_deeply_nested_json_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrackError, match=r"deep\.json: .*nested"):
        load_track(_write(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000))
    inner: dict = {"type": "Point", "coordinates": [7, 45]}
    for _ in range(40):
        inner = {"type": "GeometryCollection", "geometries": [inner]}
    doc = {"type": "Feature", "properties": {"time": "2024-05-01T10:00:00Z"}, "geometry": inner}
    with pytest.raises(TrackError, match=r"collection\.json: .*nested over 16 deep"):
        load_track(_write(tmp_path, "collection.json", json.dumps(doc)))


def test_huge_epochs_are_skipped_with_a_warning(tmp_path: Path) -> None:
    records = {
        "locations": [
            {"latitudeE7": 450000000, "longitudeE7": 70000000, "timestamp": 1.7e9},
            {"latitudeE7": 450000000, "longitudeE7": 70000000, "timestamp": 1e300},
            {"latitudeE7": 450000000, "longitudeE7": 70000000, "timestamp": 10**400},
            {"latitudeE7": 10**400, "longitudeE7": "x", "timestamp": 1.7e9 + 1},
            {"latitudeE7": [], "longitudeE7": {}, "timestamp": 1.7e9 + 2},
        ]
    }
    tr = load_track(_write(tmp_path, "Records.json", json.dumps(records)))
    assert len(tr) == 1 and tr.t[0] == 1.7e9
    assert sum("out of range" in w for w in tr.warnings) == 2, tr.warnings
    assert sum("locations[3]" in w or "locations[4]" in w for w in tr.warnings) == 2
    csv = f"time,lat,lon\n{10**30},45,7\n9999-12-31T23:59:59Z,45,7\n"
    with pytest.raises(TrackError, match=r"e\.csv: no fix .*out of range.*1900\.\.2200"):
        load_track(_write(tmp_path, "e.csv", csv))


def test_cli_reports_a_hostile_track_without_a_traceback(tmp_path: Path, capsys) -> None:
    bad = _write(tmp_path, "e.csv", "time,lat,lon\n1e300,45,7\n")
    assert main(["track", str(bad), str(tmp_path / "missing.gpx")]) == 2  # bad input
    err = capsys.readouterr().err
    assert "Traceback" not in err and "e.csv: no fix" in err and "missing.gpx" in err


XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    "<{root}>&xxe;</{root}>"
)
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE {root} [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>\n<{root}>&lol9;</{root}>"
)


@pytest.mark.parametrize(
    ("name", "root"), [("a.gpx", "gpx"), ("a.kml", "kml"), ("a.tcx", "TrainingCenterDatabase")]
)
@pytest.mark.parametrize("template", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_xml_entities_are_refused(tmp_path: Path, name: str, root: str, template: str) -> None:
    p = _write(tmp_path, name, template.format(root=root))
    with pytest.raises(TrackError, match=r"declares an entity .*refused"):
        load_track(p)


def test_a_damaged_gpx_keeps_the_points_before_the_stray_byte(tmp_path: Path) -> None:
    points = "".join(GPX_POINT.replace("10:00:00", f"10:00:{i:02d}") for i in range(5))
    text = f'<gpx version="1.1">\n<trk><trkseg>\n{points}\n<trkpt lat="1" & </trkseg></trk></gpx>'
    tr = load_track(_write(tmp_path, "stray.gpx", text))
    assert len(tr) == 5 and "line 4" in tr.warnings[0], tr.warnings


def test_an_impossible_date_among_thousands_of_times_is_read_as_one_alone(
    tmp_path: Path,
) -> None:
    """numpy's text-to-date cast crashed the process on "2024-02-30" among a thousand
    other times; each time is read as ``parse_time`` reads it alone (Feb 30 is Mar 1)."""
    from geoscope_core.evidence.formats.base import parse_time

    points = [
        f'<trkpt lat="45.0" lon="{7 + i / 1e4:.4f}"><time>2024-05-01T10:{i // 60 % 60:02d}:'
        f"{i % 60:02d}Z</time></trkpt>"
        for i in range(2000)
    ]
    points[700] = GPX_POINT.replace("2024-05-01T10", "2024-02-30T10")
    points[701] = GPX_POINT.replace("2024-05-01T10", "2024-13-01T10")  # no month 13
    gpx = '<?xml version="1.0"?><gpx version="1.1"><trk><trkseg>{}</trkseg></trk></gpx>'
    track = load_track(_write(tmp_path, "t.gpx", gpx.format("\n".join(points))))
    assert len(track) == 1999
    assert track.t[0] == parse_time("2024-02-30T10:00:00Z") == parse_time("2024-03-01T10:00:00Z")
    assert track.t[-1] == parse_time("2024-05-01T10:33:19Z")
    assert track.warnings == ("line 702: month must be in 1..12; point skipped",)
