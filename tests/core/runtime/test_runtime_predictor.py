from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geoscope_core.errors import BundleError, ProviderError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.prediction import Source
from geoscope_core.runtime.predictor import Predictor
from tests.bundles import BLUE, GREEN, RED, make_bundle, solid_image


@pytest.mark.parametrize("bundle", ["zs_bundle", "cls_bundle"])
def test_anchor_images_are_located_hierarchically(bundle: str, request) -> None:
    pr = Predictor.load(request.getfixturevalue(bundle), provider="cpu")
    preds, emb = pr.predict_with_embeddings(anchor_pixels())
    assert [(p.city, p.admin1, p.country_code, p.country) for p in preds] == [
        ("Split", "Splitsko-Dalmatinska", "HR", "Croatia"),
        ("Tokyo", "Tokyo", "JP", "Japan"),
        ("Paris", "Île-de-France", "FR", "France"),
    ]
    assert (preds[0].lat, preds[0].lon) == pytest.approx((43.508, 16.440))
    for p in preds:
        assert p.source is Source.MODEL and p.model == pr.model_id
        assert 0.5 < p.confidence <= 1.0
        assert p.top_k[0].city == p.city and (p.top_k[0].lat, p.top_k[0].lon) == (p.lat, p.lon)
        confs = [c.confidence for c in p.top_k]
        assert confs == sorted(confs, reverse=True) and len(confs) == 5
    assert emb.shape == (3, 32) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert np.allclose(pr.embed(anchor_pixels()), emb, atol=1e-6)
    assert pr.predict(anchor_pixels()[:1])[0].city == "Split"


def anchor_pixels() -> np.ndarray:
    return np.stack([RED, BLUE, GREEN])


def test_confidence_is_the_joint_probability_of_the_chain(zs_bundle: Path) -> None:
    pr = Predictor.load(zs_bundle)
    rng = np.random.default_rng(1)
    dec = pr.decoder
    logits = {name: rng.normal(0, 2, len(dec.table(name).rows)) for name in dec.chain}
    pred = pr.decode(logits)

    def sm(x):
        e = np.exp(x - x.max())
        return e / e.sum()

    lv = {name: dec.table(name) for name in dec.chain}
    cc = next(i for i, r in enumerate(lv["country"].rows) if r["id"] == pred.country_code)
    a1_rows = [i for i, r in enumerate(lv["admin1"].rows) if r["parent"] == pred.country_code]
    a1 = next(i for i in a1_rows if lv["admin1"].rows[i]["name"] == pred.admin1)
    city_rows = [
        i for i, r in enumerate(lv["city"].rows) if r["parent"] == lv["admin1"].rows[a1]["id"]
    ]
    ci = next(i for i in city_rows if lv["city"].rows[i]["name"] == pred.city)
    expected = (
        sm(logits["country"])[cc]
        * sm(logits["admin1"][a1_rows])[a1_rows.index(a1)]
        * sm(logits["city"][city_rows])[city_rows.index(ci)]
    )
    assert pred.confidence == pytest.approx(expected, rel=1e-9)


def test_temperature_flattens_confidence(tmp_path: Path) -> None:
    anchors = {"HR": RED, "HR/Splitsko-Dalmatinska": RED, "HR/Splitsko-Dalmatinska/Split": RED}
    sharp = make_bundle(tmp_path / "a", anchors=anchors, logit_scale=20.0, temperature=1.0)
    soft = make_bundle(tmp_path / "b", anchors=anchors, logit_scale=20.0, temperature=4.0)
    p1 = Predictor.load(sharp).predict(RED[None])[0]
    p2 = Predictor.load(soft).predict(RED[None])[0]
    assert p1.city == p2.city == "Split"
    assert p2.confidence < p1.confidence


def test_radius_from_error_model_and_fallback(tmp_path: Path) -> None:
    em = {"confidence": [0.0, 0.5, 1.0], "radius_km": [2000.0, 300.0, 10.0]}
    b = make_bundle(tmp_path / "em", anchors={"HR": RED}, logit_scale=5.0, error_model=em)
    p = Predictor.load(b).predict(RED[None])[0]
    expected = em["radius_km"][int(np.searchsorted(em["confidence"], p.confidence, "right")) - 1]
    assert p.radius_km == expected
    nb = make_bundle(tmp_path / "noem", logit_scale=5.0, decoding={"min_radius_km": 1.0})
    q = Predictor.load(nb).predict(GREEN[None])[0]
    d = haversine_km(q.lat, q.lon, [c.lat for c in q.top_k], [c.lon for c in q.top_k])
    w = np.array([c.confidence for c in q.top_k])
    assert q.radius_km == pytest.approx(max(float((w * d).sum() / w.sum()), 1.0))
    assert q.radius_km > 100  # a random model is unsure: the radius says so


def test_weighted_refinement_moves_between_near_candidates(tmp_path: Path) -> None:
    levels = {
        "city": [
            {"id": "a", "name": "A", "parent": None, "lat": 45.0, "lon": 15.0,
             "population": 1, "country_code": "HR"},
            {"id": "b", "name": "B", "parent": None, "lat": 45.0, "lon": 16.0,
             "population": 1, "country_code": "HR"},
            {"id": "c", "name": "C", "parent": None, "lat": -30.0, "lon": 150.0,
             "population": 1, "country_code": "AU"},
        ]
    }  # fmt: skip
    b = make_bundle(
        tmp_path / "w",
        levels=levels,
        decoding={"refine": "weighted", "refine_radius_km": 300},
        logit_scale=1.0,
    )
    pr = Predictor.load(b)
    p = pr.decode({"city": np.log(np.array([0.5, 0.3, 0.2]))})
    assert p.city == "A" and p.confidence == pytest.approx(0.5)
    assert 15.2 < p.lon < 15.6 and 44.9 < p.lat < 45.1  # (0.5*15 + 0.3*16)/0.8 ~ 15.375


def test_cell_levels_are_named_by_reverse_geocoding(tmp_path: Path) -> None:
    cells = [
        {"id": "cell0", "name": "cell0", "parent": None, "lat": 45.815, "lon": 15.982,
         "population": 0, "country_code": ""},
        {"id": "cell1", "name": "cell1", "parent": None, "lat": 48.857, "lon": 2.352,
         "population": 0, "country_code": ""},
    ]  # fmt: skip
    b = make_bundle(tmp_path / "cells", kind="classifier", levels={"cell": cells},
                    anchors={"cell1": BLUE, "cell0": RED})  # fmt: skip
    preds = Predictor.load(b).predict(np.stack([RED, BLUE]))
    assert (preds[0].country_code, preds[0].city) == ("HR", "Zagreb")
    assert (preds[1].country_code, preds[1].city) == ("FR", "Paris")
    assert preds[1].country == "France"


def test_cuda_without_provider_is_a_clear_error(zs_bundle: Path, monkeypatch) -> None:
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ProviderError, match="CUDA was requested"):
        Predictor.load(zs_bundle, provider="cuda")
    assert Predictor.load(zs_bundle, provider="auto").provider == "cpu"
    with pytest.raises(ProviderError):
        Predictor.load(zs_bundle, provider="tpu")


def test_wrong_pixel_shape_is_rejected(zs_bundle: Path) -> None:
    pr = Predictor.load(zs_bundle)
    with pytest.raises(ValueError, match="uint8"):
        pr.predict(np.zeros((1, 32, 32, 3), np.uint8))
    assert pr.predict(np.zeros((0, 64, 64, 3), np.uint8)) == []


def test_tampered_bundle_cannot_be_loaded_by_the_predictor(zs_bundle: Path, tmp_path) -> None:
    import shutil

    b = tmp_path / "t"
    shutil.copytree(zs_bundle, b)
    with open(b / "image_encoder.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match=r"image_encoder\.onnx"):
        Predictor.load(b)


def test_solid_colours_differ_from_anchors(zs_bundle: Path) -> None:
    """A photo unlike every anchor gets a low confidence: anchors are not a constant output."""
    p = Predictor.load(zs_bundle).predict(solid_image((128, 128, 128))[None])[0]
    assert p.confidence < Predictor.load(zs_bundle).predict(RED[None])[0].confidence


@pytest.mark.parametrize("bundle", ["zs_bundle", "cls_bundle"])
def test_several_views_of_a_photo_are_averaged_into_one_answer(bundle: str, request) -> None:
    pr = Predictor.load(request.getfixturevalue(bundle), provider="cpu")
    names = [pr._emb_output, *pr.decoder.output_names()]
    # each photo seen twice: itself and a duller copy of it
    dull = (anchor_pixels() * 0.6).astype(np.uint8)
    views = np.stack([anchor_pixels(), dull], axis=1)  # [3 photos, 2 views, S, S, 3]
    one = [pr._run(anchor_pixels(), names), pr._run(dull, names)]
    mean_emb = (one[0][0] + one[1][0]) / 2
    mean_emb /= np.linalg.norm(mean_emb, axis=1, keepdims=True)
    both = pr._run(views, names)
    assert np.allclose(both[0], mean_emb, atol=1e-6)
    for k in range(1, len(names)):
        assert np.allclose(both[k], (one[0][k] + one[1][k]) / 2, atol=1e-5)
    preds, emb = pr.predict_with_embeddings(views)
    assert emb.shape == (3, 32) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert [p.city for p in preds] == ["Split", "Tokyo", "Paris"]
    # one view given as [N, 1, S, S, 3] is the plain answer
    plain = pr.predict(anchor_pixels())
    assert pr.predict(anchor_pixels()[:, None]) == plain


@pytest.mark.parametrize("bundle", ["zs_bundle", "cls_bundle"])
def test_release_memory_keeps_the_session_answering_alike(bundle: str, request) -> None:
    pr = Predictor.load(request.getfixturevalue(bundle), provider="cpu")
    pixels = np.repeat(anchor_pixels(), 4, axis=0)  # a larger run first: the arena grows
    before, emb = pr.predict_with_embeddings(pixels)
    pr.release_memory()
    after, emb_after = pr.predict_with_embeddings(pixels)
    assert [(p.city, p.lat, p.lon, p.confidence) for p in after] == [
        (p.city, p.lat, p.lon, p.confidence) for p in before
    ]
    assert np.array_equal(emb_after, emb)
