"""Re-calibrating an exported bundle out of source rewrites its manifest only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geoscope_core.errors import ExportError
from geoscope_core.runtime.bundle import load_bundle
from geoscope_core.runtime.manifest import ErrorModel, Point
from geoscope_core.training.config import CnnConfig
from geoscope_export.recalibrate import main, recalibrate
from tests.bundles import ANCHORS, make_bundle

CAL = {"logit_adjust_tau": 0.0, "point": "min_expected_distance", "temperature": 7.0,
       "unsure_below": 0.3,
       "error_model": {"confidence": [0.0, 0.2], "radius_km": [3000.0, 800.0]}}  # fmt: skip


def test_recalibrate_sets_the_recipes_point_and_the_oos_calibration(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", kind="classifier", anchors=ANCHORS, logit_scale=50.0)
    before = load_bundle(bundle)
    hashed = {f: (bundle / f).read_bytes() for f in before.manifest.files}
    cal = tmp_path / "calibration.json"
    cal.write_text(json.dumps(CAL))
    config = CnnConfig(name="b", backbone="tiny", pretrained=False, point="min_expected_distance")
    model_id = recalibrate(bundle, config, cal)
    after = load_bundle(bundle)
    m = after.manifest
    assert m.decoding.point is Point.MIN_EXPECTED_DISTANCE and m.decoding.unsure_below == 0.3
    assert m.temperature == 7.0 and m.error_model == ErrorModel((0.0, 0.2), (3000.0, 800.0))
    assert m.metrics["calibration"] == CAL
    assert model_id == after.model_id != before.model_id
    assert {f: (bundle / f).read_bytes() for f in m.files} == hashed
    # a calibration fitted around another point than the recipe's is refused, untouched
    mode = CnnConfig(name="b", backbone="tiny", pretrained=False)
    with pytest.raises(ExportError, match="decoding point"):
        recalibrate(bundle, mode, cal)
    assert load_bundle(bundle).model_id == model_id


def test_recalibrate_cli_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bundle = make_bundle(tmp_path / "b", kind="classifier", anchors=ANCHORS, logit_scale=50.0)
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({"model_type": "cnn", "backbone": "tiny", "pretrained": False}))
    cal = tmp_path / "calibration.json"
    cal.write_text("{not json")
    args = [str(bundle), "--config", str(config), "--oos-calibration", str(cal)]
    assert main(args) == 2 and "unreadable calibration" in capsys.readouterr().err
    cal.write_text(json.dumps({**CAL, "point": "mode"}))
    assert main(args) == 0
    assert load_bundle(bundle).manifest.temperature == 7.0


def test_recalibrate_carries_the_recipes_within_km_and_refuses_another(tmp_path: Path) -> None:
    """The mass-within point's radius belongs to the calibration fitted for it: the
    recipe's within_km goes into the manifest, a calibration fitted for another is
    refused and the bundle stays as it was."""
    bundle = make_bundle(tmp_path / "b", kind="classifier", anchors=ANCHORS, logit_scale=50.0)
    cal = tmp_path / "calibration.json"
    cal.write_text(json.dumps({**CAL, "point": "max_mass_within", "within_km": 1500.0}))

    def recipe(km: float) -> CnnConfig:
        return CnnConfig(
            name="b", backbone="tiny", pretrained=False, point="max_mass_within", within_km=km
        )

    model_id = recalibrate(bundle, recipe(1500.0), cal)
    m = load_bundle(bundle).manifest
    assert m.decoding.point is Point.MAX_MASS_WITHIN and m.decoding.within_km == 1500.0
    with pytest.raises(ExportError, match="within 1500"):
        recalibrate(bundle, recipe(750.0), cal)
    assert load_bundle(bundle).model_id == model_id


def test_recalibrate_mixes_the_prior_of_the_recipes_training_photos(tmp_path: Path) -> None:
    """A calibration fitted with a prior mix brings the training prior of the bundle's
    finest places, computed from the recipe's training photos (here all near Tokyo)."""
    bundle = make_bundle(tmp_path / "b", kind="classifier", anchors=ANCHORS, logit_scale=50.0)
    rows = ["path,lat,lon,country_code,set,split,location_id,scope"]
    for i in range(6):
        photo = tmp_path / f"{i}.jpg"
        photo.write_bytes(b"x")
        rows.append(f"{photo},{35.68 + i * 0.01},{139.69},JP,s,train,{i},world")
    csv = tmp_path / "labels.csv"
    csv.write_text("\n".join(rows) + "\n")
    cal = tmp_path / "calibration.json"
    cal.write_text(json.dumps({**CAL, "point": "max_mass_within", "within_km": 2500.0,
                               "prior_mix": 0.5}))  # fmt: skip
    recipe = CnnConfig(
        name="b", data=str(csv), backbone="tiny", pretrained=False, point="max_mass_within"
    )
    recalibrate(bundle, recipe, cal)
    b = load_bundle(bundle)
    finest = b.manifest.levels[-1].name
    prior = b.manifest.decoding.prior
    assert b.manifest.decoding.prior_mix == 0.5 and len(prior) == len(b.labels(finest))
    assert sum(prior) == pytest.approx(1.0)
    top = b.labels(finest)[max(range(len(prior)), key=prior.__getitem__)]
    assert top["country_code"] == "JP"
    # without the mix the prior is dropped again, never left behind stale
    cal.write_text(json.dumps({**CAL, "point": "max_mass_within", "within_km": 2500.0}))
    recalibrate(bundle, recipe, cal)
    assert load_bundle(bundle).manifest.decoding.prior == ()


def test_recalibrate_carries_the_gallery_gate_its_answers_were_decoded_with(
    tmp_path: Path,
) -> None:
    """The protocol's calibration names the gallery threshold its answers were decoded
    with (the Bayes point's gate): it goes into the manifest; an impossible one is
    refused and the bundle stays as it was; a calibration without one leaves it alone."""
    bundle = make_bundle(tmp_path / "b", kind="classifier", anchors=ANCHORS, logit_scale=50.0)
    cal = tmp_path / "calibration.json"
    config = CnnConfig(name="b", backbone="tiny", pretrained=False, point="min_expected_distance")
    cal.write_text(json.dumps({**CAL, "gallery_min_similarity": 0.95}))
    model_id = recalibrate(bundle, config, cal)
    assert load_bundle(bundle).manifest.decoding.gallery_min_similarity == 0.95
    cal.write_text(json.dumps({**CAL, "gallery_min_similarity": 2.0}))
    with pytest.raises(ExportError, match="gallery_min_similarity"):
        recalibrate(bundle, config, cal)
    assert load_bundle(bundle).model_id == model_id
    cal.write_text(json.dumps(CAL))
    recalibrate(bundle, config, cal)
    assert load_bundle(bundle).manifest.decoding.gallery_min_similarity == 0.95
