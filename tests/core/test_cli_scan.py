"""``geoscope scan`` and ``geoscope bundle`` end to end, through ``cli.main``."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from geoscope_core.cli import main
from geoscope_core.photos.metadata import read_metadata
from tests.bundles import BLUE, RED, anchors_of, make_bundle, solid_image, write_jpeg

ANCHORS = anchors_of("HR", "JP")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSCOPE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("b") / "tiny", anchors=ANCHORS, logit_scale=50.0)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    write_jpeg(root / "trip" / "red.jpg", RED)
    write_jpeg(root / "trip" / "blue.jpg", BLUE)
    write_jpeg(root / "tagged.jpg", RED, gps=(45.815, 15.982))
    write_jpeg(root / ".thumbs" / "hidden.jpg", RED)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (root / "trip" / "loop").symlink_to(root / "trip")
    return root


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["scan", *argv, "--no-progress", "--no-neighbors"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_scan_csv(bundle: Path, photos: Path, tmp_path: Path, capsys) -> None:
    out_csv = tmp_path / "r.csv"
    rc, out, _ = _run(capsys, str(photos), "--model", str(bundle), "--out", str(out_csv))
    assert rc == 1  # the broken file failed
    rows = {Path(r["path"]).name: r for r in csv.DictReader(out_csv.open())}
    assert set(rows) == {"red.jpg", "blue.jpg", "tagged.jpg", "broken.jpg"}
    assert rows["red.jpg"]["status"] == "predicted" and rows["red.jpg"]["city"] == "Split"
    assert rows["blue.jpg"]["country_code"] == "JP"
    assert rows["tagged.jpg"]["status"] == "exif"
    assert float(rows["tagged.jpg"]["lat"]) == pytest.approx(45.815, abs=1e-4)
    assert rows["broken.jpg"]["status"] == "error" and rows["broken.jpg"]["error"]
    assert "1 file failed" in out and "broken.jpg" in out
    assert "4 photos in" in out and "exif 1, track 0, neighbors 0, predicted 2, error 1" in out


def test_scan_geojson_and_json(bundle: Path, photos: Path, tmp_path: Path, capsys) -> None:
    gj = tmp_path / "r.geojson"
    _run(capsys, str(photos / "trip"), "--model", str(bundle), "--out", str(gj))
    fc = json.loads(gj.read_text())
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    for feat in fc["features"]:
        assert feat["geometry"]["type"] == "Point"
        lon, lat = feat["geometry"]["coordinates"]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        assert {"path", "status", "confidence", "radius_km", "top_k"} <= set(feat["properties"])
    tokyo = next(f for f in fc["features"] if f["properties"]["city"] == "Tokyo")
    assert tokyo["geometry"]["coordinates"] == pytest.approx([139.692, 35.69])
    js = tmp_path / "r.json"
    rc, _, _ = _run(capsys, str(photos / "trip"), "--model", str(bundle), "--out", str(js))
    assert rc == 0
    data = json.loads(js.read_text())
    assert {d["prediction"]["city"] for d in data} == {"Split", "Tokyo"}
    for d in data:  # every alternative carries its own radius; a far one is wider
        top, *alts = d["prediction"]["top_k"]
        assert top["radius_km"] == d["prediction"]["radius_km"] and alts
        assert all(c["radius_km"] >= 25.0 for c in alts)
        assert max(c["radius_km"] for c in alts) > top["radius_km"]


def test_scan_table_and_cache(bundle: Path, photos: Path, capsys) -> None:
    rc, out, _ = _run(capsys, str(photos / "trip"), "--model", str(bundle))
    assert rc == 0 and "Split" in out and "Tokyo" in out and "0 from cache" in out
    rc, out, _ = _run(capsys, str(photos / "trip"), "--model", str(bundle))
    assert "2 from cache" in out
    rc, out, _ = _run(capsys, str(photos / "trip"), "--model", str(bundle), "--no-cache")
    assert "0 from cache" in out


def test_dry_run_and_write_then_undo(bundle: Path, photos: Path, capsys) -> None:
    red = photos / "trip" / "red.jpg"
    before = red.read_bytes()
    rc, out, _ = _run(capsys, str(red), "--model", str(bundle), "--dry-run")
    assert rc == 0 and "would-write" in out and red.read_bytes() == before
    rc, out, _ = _run(capsys, str(red), "--model", str(bundle), "--write")
    assert rc == 0 and "journal:" in out
    meta = read_metadata(red)
    # written with the decimals the estimate's radius warrants (0.01 degrees here)
    assert meta.gps_is_estimate and meta.gps == pytest.approx((43.51, 16.44), abs=1e-6)
    journal = out.split("journal: ")[1].split()[0]
    assert main(["undo", journal]) == 0
    assert red.read_bytes() == before


def test_min_confidence_skips_writes(photos: Path, tmp_path: Path, capsys) -> None:
    unsure = make_bundle(tmp_path / "unsure", logit_scale=1.0)  # confidences near 1/11
    grey = write_jpeg(photos / "grey.jpg", solid_image((128, 128, 128)))
    before = grey.read_bytes()
    rc, out, _ = _run(
        capsys, str(grey), "--model", str(unsure), "--write", "--min-confidence", "0.9"
    )
    assert rc == 0 and "skipped" in out and grey.read_bytes() == before


def test_bad_bundle_exits_2(bundle: Path, photos: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    with open(bad / "labels" / "country.json", "ab") as f:
        f.write(b" ")
    rc, _, err = _run(capsys, str(photos), "--model", str(bad))
    assert rc == 2 and "country.json" in err and "sha256" in err
    assert main(["scan", str(tmp_path / "nowhere"), "--model", str(bundle)]) == 2


def test_bundle_check_and_info(bundle: Path, tmp_path: Path, capsys) -> None:
    assert main(["bundle", "check", str(bundle)]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["bundle", "info", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "zero-shot" in out and "city (11)" in out
    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    (bad / "image_encoder.onnx").write_bytes(b"garbage")
    assert main(["bundle", "check", str(bad)]) == 2
    assert "image_encoder.onnx" in capsys.readouterr().out


def test_signed_option_values_reach_their_option() -> None:
    from geoscope_core.cli import build_parser, join_signed_values

    argv = ["scan", "p", "--tz", "-08:00", "--time-offset", "-0:05:00", "--tz", "Europe/Rome"]
    assert join_signed_values(argv) == [
        "scan", "p", "--tz=-08:00", "--time-offset=-0:05:00", "--tz", "Europe/Rome",
    ]  # fmt: skip
    args = build_parser().parse_args(join_signed_values(["scan", "p", "--tz", "-08:00"]))
    assert args.tz == "-08:00"


def test_unsure_answers_are_shown_as_unsure(
    bundle: Path, photos: Path, tmp_path: Path, capsys
) -> None:
    """A bundle whose manifest says its answers below a confidence are unsure: the table
    says "unsure", the CSV and JSON carry the flag, and no place is named."""
    unsure = tmp_path / "unsure"
    shutil.copytree(bundle, unsure)
    manifest = json.loads((unsure / "manifest.json").read_text())
    manifest["temperature"] = 100.0  # a flat posterior (the most a manifest may say) ...
    manifest.setdefault("decoding", {})["unsure_below"] = 0.9  # ... is unsure
    (unsure / "manifest.json").write_text(json.dumps(manifest))
    rc, out, _ = _run(capsys, str(photos / "trip"), "--model", str(unsure))
    assert rc == 0 and out.count("unsure, no place named") == 2
    assert "Split" not in out and "Tokyo" not in out
    out_csv = tmp_path / "u.csv"
    _run(capsys, str(photos / "trip"), "--model", str(unsure), "--out", str(out_csv), "--no-cache")
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["unsure"] for r in rows] == ["True", "True"] and all(not r["city"] for r in rows)
    assert all(not r["country_code"] and not r["country"] for r in rows)  # no place at all
    js = tmp_path / "u.json"
    _run(capsys, str(photos / "trip"), "--model", str(unsure), "--out", str(js), "--no-cache")
    assert all(d["prediction"]["unsure"] is True for d in json.loads(js.read_text()))
    # the bundle as it was: sure answers, towns named
    rc, out, _ = _run(capsys, str(photos / "trip"), "--model", str(bundle), "--no-cache")
    assert "unsure" not in out and "Split" in out
