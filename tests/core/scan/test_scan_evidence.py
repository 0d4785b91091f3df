"""A scan with the user's own evidence: track logs, reference photos, --tz, --time-offset;
the order of evidence, the reasons, the summary counts and the written marks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from geoscope_core.cli import main
from geoscope_core.evidence.personal import EvidenceOptions
from geoscope_core.evidence.phototime import parse_time_offset
from geoscope_core.photos.metadata import read_metadata
from geoscope_core.prediction import Source
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.pipeline import Scanner
from geoscope_core.scan.types import ScanOptions, ScanStatus
from tests.bundles import BLUE, GREEN, RED, write_jpeg

# a 20-minute walk in Rome, one fix a minute, 2024-05-01 08:00Z .. 08:20Z (10:00 local)
FIXES = [(f"2024-05-01T08:{m:02d}:00Z", 41.9000 + m * 0.0005, 12.4922) for m in range(21)]


def _gpx(path: Path) -> Path:
    pts = "\n".join(f'<trkpt lat="{la}" lon="{lo}"><time>{t}</time></trkpt>' for t, la, lo in FIXES)
    path.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        f'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{pts}</trkseg></trk></gpx>'
    )
    return path


def _photos(root: Path) -> dict[str, Path]:
    cam = ("SONY", "ILCE-7M2")
    return {
        # 10:05:30 +02:00 = 08:05:30Z: on the track, 30 s from a fix
        "offset": write_jpeg(
            root / "a.jpg", RED, taken_at="2024:05:01 10:05:30", offset="+02:00", camera=cam
        ),
        # no offset: the zone comes from where the track was (Europe/Rome)
        "nozone": write_jpeg(root / "b.jpg", GREEN, taken_at="2024:05:01 10:10:00", camera=cam),
        # two hours after the track: refused, so the model places it
        "late": write_jpeg(
            root / "c.jpg", BLUE, taken_at="2024:05:01 12:30:00", offset="+02:00", camera=cam
        ),
    }


def test_track_places_photos_before_the_model(zs_bundle: Path, tmp_path: Path) -> None:
    ph = _photos(tmp_path / "p")
    track = _gpx(tmp_path / "walk.gpx")
    opts = ScanOptions(use_cache=False, evidence=EvidenceOptions(track_files=(track,)))
    scanner = Scanner(Predictor.load(zs_bundle), opts)
    by = {r.path: r for r in scanner.scan(list(ph.values()))}
    a = by[ph["offset"]]
    assert a.status is ScanStatus.TRACK and a.prediction is not None
    assert a.prediction.source is Source.TRACK
    assert a.prediction.lat == pytest.approx(41.9000 + 5.5 * 0.0005, abs=1e-7)
    assert a.reason.startswith("track, 30 s from a fix") and "OffsetTimeOriginal" in a.reason
    assert a.prediction.radius_km < 0.1 and a.prediction.confidence > 0.9
    assert a.prediction.country_code == "IT"
    b = by[ph["nozone"]]
    assert b.status is ScanStatus.TRACK and "Europe/Rome from the track position" in b.reason
    assert b.prediction is not None and b.prediction.lat == pytest.approx(41.905, abs=1e-7)
    assert by[ph["late"]].status is ScanStatus.PREDICTED
    assert scanner.stats.counts[ScanStatus.TRACK] == 2
    assert scanner.stats.counts[ScanStatus.PREDICTED] == 1

    # a clock 90 s slow: --time-offset moves the photo along the track
    opts = ScanOptions(
        use_cache=False,
        evidence=EvidenceOptions(
            track_files=(track,), time_offsets=(parse_time_offset("ILCE=+1:30"),)
        ),
    )
    r = next(iter(Scanner(Predictor.load(zs_bundle), opts).scan([ph["offset"]])))
    assert r.prediction is not None
    assert r.prediction.lat == pytest.approx(41.9000 + 7.0 * 0.0005, abs=1e-7)
    assert "clock +0:01:30" in r.reason

    # a narrower gap limit refuses what the default interpolates
    from geoscope_core.evidence.placement import PlacementLimits

    opts = ScanOptions(
        use_cache=False,
        evidence=EvidenceOptions(
            track_files=(track,), limits=PlacementLimits(max_gap_s=30, max_extrapolation_s=20)
        ),
    )
    r = next(iter(Scanner(Predictor.load(zs_bundle), opts).scan([ph["offset"]])))
    assert r.status is ScanStatus.PREDICTED


def test_reference_folder_photos_place_by_time(zs_bundle: Path, tmp_path: Path) -> None:
    ph = _photos(tmp_path / "p")
    ref = tmp_path / "phone"
    write_jpeg(
        ref / "IMG_1.jpg",
        RED,
        gps=(41.8902, 12.4922),
        taken_at="2024:05:01 10:05:00",
        offset="+02:00",
        camera=("Apple", "iPhone 13"),
    )
    opts = ScanOptions(use_cache=False, references=(ref,))
    results = list(Scanner(Predictor.load(zs_bundle), opts).scan([ph["offset"]]))
    assert len(results) == 1  # the reference photo is evidence, not a result
    r = results[0]
    assert r.status is ScanStatus.NEIGHBORS and r.prediction is not None
    assert (r.prediction.lat, r.prediction.lon) == pytest.approx((41.8902, 12.4922), abs=1e-6)
    assert "your GPS photos" in r.reason and "30 s" in r.reason


def test_cli_scan_with_track_writes_marked_estimates(
    zs_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ph = _photos(tmp_path / "p")
    track = _gpx(tmp_path / "walk.gpx")
    out = tmp_path / "r.json"
    rc = main(
        [
            "scan",
            str(tmp_path / "p"),
            "--model",
            str(zs_bundle),
            "--no-cache",
            "--no-progress",
            "--track",
            str(track),
            "--tz",
            "Europe/Rome",
            "--out",
            str(out),
            "--write",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "track: 21 fixes from 1 file " in text
    assert "exif 0, track 2, neighbors 0, predicted 1, error 0" in text
    rows = {Path(d["path"]).name: d for d in json.loads(out.read_text())}
    assert rows["b.jpg"]["status"] == "track" and "the zone you gave" in rows["b.jpg"]["reason"]
    # written like a fix but marked with its source: never read back as camera GPS
    meta = read_metadata(ph["offset"])
    assert meta.gps is not None and meta.gps_is_estimate
    dump = json.loads(
        subprocess.run(
            [
                "exiftool",
                "-j",
                "-XMP-geoscope:all",
                "-GPSProcessingMethod",
                "-GPSAreaInformation",
                str(ph["offset"]),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]
    assert "from track" in dump["GPSAreaInformation"]  # the note; the method is MANUAL
    assert dump["GPSProcessingMethod"] == "MANUAL"
    assert any(v == "track" for k, v in dump.items() if k.endswith("Source")), dump
    # a scan of the written folder reports them as estimates, placed again by the track
    again = tmp_path / "again"
    shutil.copytree(tmp_path / "p", again)
    rc = main(
        [
            "scan",
            str(again),
            "--model",
            str(zs_bundle),
            "--no-cache",
            "--no-progress",
            "--track",
            str(track),
            "--tz",
            "Europe/Rome",
        ]
    )
    assert "exif 0, track 2" in capsys.readouterr().out
    assert main(["scan", str(again), "--time-offset", "bogus"]) == 2
    assert "--time-offset 'bogus'" in capsys.readouterr().err


def test_camera_clock_estimated_from_look_alike_phone_photos(
    zs_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The camera's clock is 5 min ahead; the phone shot the same three scenes."""
    phone, cam = ("Apple", "iPhone 13"), ("SONY", "ILCE-7M2")
    places = [(41.8902, 12.4922), (41.8986, 12.4769), (41.9009, 12.4833)]
    for i, (px, gps) in enumerate(zip((RED, GREEN, BLUE), places, strict=True)):
        write_jpeg(
            tmp_path / "phone" / f"IMG_{i}.jpg",
            px,
            gps=gps,
            camera=phone,
            taken_at=f"2024:05:01 10:{10 * i:02d}:00",
            offset="+02:00",
        )
        write_jpeg(
            tmp_path / "cam" / f"DSC_{i}.jpg",
            px,
            camera=cam,
            taken_at=f"2024:05:01 10:{10 * i + 5:02d}:04",
        )
    rc = main(
        [
            "scan",
            str(tmp_path / "cam"),
            "--reference",
            str(tmp_path / "phone"),
            "--model",
            str(zs_bundle),
            "--no-cache",
            "--no-progress",
            "--out",
            str(tmp_path / "r.json"),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "clock of SONY ILCE-7M2: -0:05:04 (estimated; 3 near-simultaneous" in text, text
    rows = sorted(json.loads((tmp_path / "r.json").read_text()), key=lambda d: d["path"])
    for d, want in zip(rows, places, strict=True):
        assert d["status"] == "neighbors", d
        p = d["prediction"]
        assert (p["lat"], p["lon"]) == pytest.approx(want, abs=1e-6)
        assert "clock -0:05:04" in d["reason"]
    # with estimation off, the 5-minute error stays: placed between two phone photos
    main(
        [
            "scan",
            str(tmp_path / "cam"),
            "--reference",
            str(tmp_path / "phone"),
            "--model",
            str(zs_bundle),
            "--no-cache",
            "--no-progress",
            "--no-estimate-offset",
            "--out",
            str(tmp_path / "r0.json"),
        ]
    )
    rows0 = sorted(json.loads((tmp_path / "r0.json").read_text()), key=lambda d: d["path"])
    p0 = rows0[0]["prediction"]
    assert abs(p0["lat"] - places[0][0]) + abs(p0["lon"] - places[0][1]) > 1e-3


def test_a_bad_track_file_fails_before_any_photo_is_read(
    zs_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ph = _photos(tmp_path / "p")
    bad = tmp_path / "bad.gpx"
    bad.write_text("<gpx><trk><trkseg><trkpt lat='1' lon='2'><time>nope</time>")
    rc = main(
        [
            "scan",
            str(tmp_path / "p"),
            "--model",
            str(zs_bundle),
            "--no-cache",
            "--no-progress",
            "--track",
            str(bad),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 2 and "bad.gpx" in captured.err and "no fix" in captured.err
    assert not any(str(p) in captured.out for p in ph.values())
