"""Error model: the per-confidence-bin radius fit, and refitting a bundle in place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geoscope_core.cli import main
from geoscope_core.errors import BundleError, ConfigError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.bundle import check_bundle, load_bundle
from geoscope_core.runtime.predictor import Predictor
from geoscope_export import evaluate as ev
from geoscope_export.calibrate import refit_error_model
from tests.bundles import RED, make_bundle

SPLIT = (43.508, 16.440)


def test_error_model_radius_is_the_quantile_of_each_confidence_bin() -> None:
    conf = np.array([0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9])
    err = np.array([100.0, 2000.0, 3000.0, 5000.0, 1.0, 2.0, 3.0, 40.0])
    edges, radii = ev.error_model(conf, err, bins=2, quantile=0.5)
    assert edges == (0.0, 0.5)
    # the low bin's median is 2500 km: the confident photos' 2.5 km do not shrink it
    assert radii == (2500.0, 2.5)


def test_error_model_radii_never_grow_with_confidence() -> None:
    conf = np.array([0.1, 0.1, 0.9, 0.9])
    err = np.array([5.0, 5.0, 800.0, 900.0])
    _, radii = ev.error_model(conf, err, bins=2, quantile=0.5)
    assert radii == (850.0, 850.0)


def _labelled_photos(folder: Path, n_near: int, n_far: int) -> Path:
    """``n_near`` red photos labelled at Split (the anchor's place) and ``n_far`` red
    photos labelled in Sydney, as a labels CSV."""
    folder.mkdir()
    lines = ["path,lat,lon,country_code"]
    for i in range(n_near + n_far):
        Image.fromarray(RED).save(folder / f"p{i}.png")
        lat, lon, cc = (*SPLIT, "HR") if i < n_near else (-33.87, 151.21, "AU")
        lines.append(f"p{i}.png,{lat},{lon},{cc}")
    csv = folder / "labels.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv


def test_refit_rewrites_only_the_error_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEOSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    anchors = {"HR": RED, "HR/Splitsko-Dalmatinska": RED, "HR/Splitsko-Dalmatinska/Split": RED}
    bundle = make_bundle(
        tmp_path / "b",
        anchors=anchors,
        logit_scale=50.0,
        error_model={"confidence": [0.0, 1.0], "radius_km": [1.0, 1.0]},
    )
    before = load_bundle(bundle)
    csv = _labelled_photos(tmp_path / "photos", n_near=1, n_far=3)

    model = refit_error_model(bundle, csv, quantile=0.5)

    after = load_bundle(bundle)  # hashes of the model files still verify
    assert check_bundle(bundle) == []
    assert after.model_id != before.model_id
    assert after.manifest.files == before.manifest.files
    assert after.manifest.error_model == model
    # every photo is predicted at Split: three of four are Sydney's distance off
    sydney = float(haversine_km(*SPLIT, -33.87, 151.21))
    assert model.radius_km[0] == pytest.approx(sydney, abs=1.0)
    assert after.manifest.metrics["error_model"] == {
        "source": str(csv),
        "photos": 4,
        "quantile": 0.5,
    }
    pred = Predictor.load(bundle, provider="cpu").predict(RED[None])[0]
    assert pred.radius_km == pytest.approx(sydney, abs=1.0)


def test_refit_refuses_a_zip_and_reports_cli_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(BundleError, match="unpacked bundle folder"):
        refit_error_model(tmp_path / "missing.zip", None)
    with pytest.raises(ConfigError, match="quantile"):
        refit_error_model(tmp_path / "missing.zip", None, quantile=1.0)
    assert main(["calibrate", str(tmp_path / "nowhere")]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["calibrate", str(tmp_path / "nowhere"), "--quantile", "0"]) == 2
    assert "quantile" in capsys.readouterr().err
