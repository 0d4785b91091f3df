"""A newcomer's first commands: a typo'd --out folder, a track before the photos, a
missing extra, a bad track log; each is refused at once with exit 2 and one clear line,
and counts read as English."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from geoscope_core.cli import build_parser, main
from geoscope_core.settings import data_dir
from geoscope_core.words import count
from tests.bundles import RED, make_bundle, write_jpeg


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSCOPE_CACHE_DIR", str(tmp_path / "cache"))


def test_out_into_a_missing_folder_is_refused_before_the_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jpeg(tmp_path / "p" / "a.jpg", RED)
    out = tmp_path / "reslts" / "r.csv"  # a typo of an existing folder's name
    assert main(["scan", str(tmp_path / "p"), "--out", str(out), "--model", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "does not exist" in err and "create it first" in err
    assert not out.parent.exists()
    assert main(["scan", str(tmp_path / "p"), "--out", str(tmp_path / "r.txt")]) == 2
    assert ".csv, .json, .geojson" in capsys.readouterr().err


def test_track_takes_one_file_so_the_photos_can_follow_it() -> None:
    args = build_parser().parse_args(["scan", "--track", "walk.gpx", "PHOTOS"])
    # PHOTOS stay text until the scan resolves them (a folder, or a file:// URI)
    assert args.track == [Path("walk.gpx")] and args.photos == ["PHOTOS"]
    args = build_parser().parse_args(
        ["scan", "--track", "a.gpx", "--reference", "phone", "--track", "b.kml", "P1", "P2"]
    )
    assert args.track == [Path("a.gpx"), Path("b.kml")] and args.reference == [Path("phone")]
    assert args.photos == ["P1", "P2"]


def test_a_bad_track_log_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    good = data_dir() / "tracks" / "tracks" / "exiv2" / "FurnaceCreekInn.gpx"
    bad = data_dir() / "tracks" / "tracks" / "marchyman" / "BadTrack.GPX"
    assert main(["track", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert "points    42" in captured.out  # the good file is still summarised
    assert "BadTrack.GPX" in captured.err


def test_app_without_the_desktop_extra_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "PySide6", None)  # as on the base install
    assert main(["app"]) == 2
    err = capsys.readouterr().err
    assert "'desktop' extra" in err and "pip install 'geoscope[desktop]'" in err
    assert "Traceback" not in err


def test_eval_plot_without_the_extra_is_refused_before_evaluating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    labels = tmp_path / "labels.csv"
    labels.write_text("path,lat,lon\na.jpg,1,2\n", encoding="utf-8")
    write_jpeg(tmp_path / "a.jpg", RED)

    def no_model(*_a: object, **_k: object) -> None:
        raise AssertionError("the model was loaded before the extra was checked")

    monkeypatch.setattr("geoscope_core.runtime.predictor.Predictor.load", no_model)
    assert main(["eval", str(labels), "--plot", str(tmp_path / "acc.png")]) == 2
    assert "'plot' extra" in capsys.readouterr().err
    assert main(["eval", str(labels), "--json", str(tmp_path / "no" / "m.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_counts_read_as_english(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert [count(n, "photo") for n in (0, 1, 2, 1234)] == [
        "0 photos",
        "1 photo",
        "2 photos",
        "1,234 photos",
    ]
    assert count(1, "fix", "fixes") == "1 fix" and count(3, "fix", "fixes") == "3 fixes"
    bundle = make_bundle(tmp_path / "b")
    write_jpeg(tmp_path / "p" / "a.jpg", RED)
    out = tmp_path / "r.json"
    argv = ["scan", str(tmp_path / "p"), "--model", str(bundle), "--out", str(out)]
    assert main([*argv, "--no-progress", "--no-neighbors"]) == 0
    text = capsys.readouterr().out
    assert "wrote 1 result to" in text and "1 photo in" in text
    assert not re.search(r"(?<![\d.,])1 (photos|results|files)\b", text) and "(s)" not in text


def test_the_scan_table_shows_no_finer_coordinates_than_the_radius(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from geoscope_core.geo.precision import coordinate_decimals

    bundle = make_bundle(tmp_path / "b")
    write_jpeg(tmp_path / "p" / "a.jpg", RED)
    assert main(["scan", str(tmp_path / "p"), "--model", str(bundle), "--no-progress"]) == 0
    row = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("predicted"))
    _status, lat, _lon, _conf, radius, *_ = row.split()
    decimals = len(lat.split(".")[1]) if "." in lat else 0
    assert decimals == min(4, coordinate_decimals(float(radius)))
