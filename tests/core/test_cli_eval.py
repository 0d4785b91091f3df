"""``geoscope eval`` on generated photos with known answers and on the shared data."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from geoscope_core.cli import main
from geoscope_core.settings import data_dir
from tests.bundles import BLUE, RED, anchors_of, make_bundle, write_jpeg

REQUIRED = {
    "n",
    "acc_km",
    "median_km",
    "mean_km",
    "country_acc",
    "geoscore",
    "images_per_s",
    "model",
}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSCOPE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    anchors = anchors_of("HR", "JP")
    return make_bundle(tmp_path_factory.mktemp("b") / "tiny", anchors=anchors, logit_scale=50.0)


def test_eval_known_answers(bundle: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "set"
    write_jpeg(root / "img" / "split.jpg", RED)
    write_jpeg(root / "img" / "tokyo.jpg", BLUE)
    write_jpeg(root / "img" / "wrong.jpg", BLUE)  # labelled in Split: ~9,300 km off
    labels = root / "labels.csv"
    labels.write_text(
        "path,lat,lon,country_code\n"
        "img/split.jpg,43.51,16.44,HR\n"
        "img/tokyo.jpg,35.69,139.69,JP\n"
        "img/wrong.jpg,43.51,16.44,HR\n"
    )
    out_json, plot = tmp_path / "m.json", tmp_path / "acc.png"
    argv = ["eval", str(labels), "--model", str(bundle), "--json", str(out_json)]
    has_plot = importlib.util.find_spec("matplotlib") is not None
    if not has_plot:  # the base install (no plot extra): a clear error, then no plot
        assert main([*argv, "--plot", str(plot)]) == 2
        assert "install the plot extra" in capsys.readouterr().err
    rc = main([*argv, "--plot", str(plot)] if has_plot else argv)
    assert rc == 0
    m = json.loads(out_json.read_text())
    assert set(m) >= REQUIRED
    assert m["n"] == 3
    assert set(m["acc_km"]) == {"1", "25", "200", "750", "2500"}
    assert m["acc_km"]["25"] == pytest.approx(2 / 3) and m["acc_km"]["2500"] == pytest.approx(2 / 3)
    assert m["country_acc"] == pytest.approx(2 / 3)
    assert m["within_radius"] == pytest.approx(2 / 3)  # the confident wrong answer is not
    assert 9000 < m["mean_km"] * 3 - 0 < 10000 + 2 * 5
    assert m["median_km"] < 5 and m["images_per_s"] > 0 and m["model"].startswith("tiny@")
    assert plot.stat().st_size > 1000 if has_plot else not plot.exists()
    out = capsys.readouterr().out
    assert "acc@25" in out and "66.7 %" in out


def test_eval_on_shared_data(bundle: Path, tmp_path: Path) -> None:
    geo = data_dir() / "geo"
    src = geo / "labels.csv"
    if not src.is_file():
        raise FileNotFoundError(f"shared data missing: {src} (set GEOSCOPE_DATA)")
    with src.open() as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "val"][:24]
    labels = tmp_path / "val.csv"
    with labels.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "lat", "lon", "country_code"])
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in ("path", "lat", "lon", "country_code")})
    out_json = tmp_path / "m.json"
    assert main(["eval", str(labels), "--root", str(geo), "--model", str(bundle),
                 "--json", str(out_json)]) == 0  # fmt: skip
    m = json.loads(out_json.read_text())
    assert m["n"] == 24 and set(m) >= REQUIRED
    accs = [m["acc_km"][k] for k in ("1", "25", "200", "750", "2500")]
    assert accs == sorted(accs) and all(0.0 <= a <= 1.0 for a in accs)
    assert 0.0 <= m["country_acc"] <= 1.0 and 0 <= m["geoscore"] <= 5000


def test_eval_reports_each_set_and_scope(bundle: Path, tmp_path: Path, capsys) -> None:
    """With set and scope columns, every figure is also given per set and per scope, so a
    model that is right only on one dense regional set shows it."""
    root = tmp_path / "set"
    write_jpeg(root / "split.jpg", RED)
    write_jpeg(root / "tokyo.jpg", BLUE)
    write_jpeg(root / "wrong.jpg", BLUE)
    labels = root / "labels.csv"
    labels.write_text(
        "path,lat,lon,country_code,set,scope\n"
        "split.jpg,43.51,16.44,HR,croatia,regional\n"
        "tokyo.jpg,35.69,139.69,JP,travel,world\n"
        "wrong.jpg,43.51,16.44,HR,travel,world\n"
    )
    out_json = tmp_path / "m.json"
    assert main(["eval", str(labels), "--model", str(bundle), "--json", str(out_json)]) == 0
    m = json.loads(out_json.read_text())
    assert set(m["by_set"]) == {"croatia", "travel"}
    assert set(m["by_scope"]) == {"regional", "world"}
    assert m["by_set"]["croatia"]["n"] == 1 and m["by_set"]["croatia"]["acc_km"]["25"] == 1.0
    assert m["by_scope"]["world"]["n"] == 2
    assert m["by_scope"]["world"]["acc_km"]["25"] == pytest.approx(0.5)
    assert m["by_scope"]["world"]["country_acc"] == pytest.approx(0.5)
    out = capsys.readouterr().out
    assert "travel" in out and "regional" in out
