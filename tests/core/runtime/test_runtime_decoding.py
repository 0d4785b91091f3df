"""The decoding contract: one checked DecodingSpec in the manifest, one refinement rule."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.errors import BundleError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.bundle import load_bundle
from geoscope_core.runtime.decoding import Decoder, decoding_for, refine_point
from geoscope_core.runtime.manifest import DecodingSpec, ErrorModel, Manifest, Point, Refine
from geoscope_core.runtime.predictor import Predictor

REPO = Path(__file__).resolve().parents[3]


def test_spec_is_checked() -> None:
    assert DecodingSpec.from_dict({}) == DecodingSpec()
    spec = DecodingSpec.from_dict({"refine": "weighted", "refine_k": 3, "refine_radius_km": 150})
    assert spec.refine is Refine.WEIGHTED and spec.to_dict()["refine"] == "weighted"
    assert DecodingSpec.from_dict(spec.to_dict()) == spec
    for bad in ({"refine": "median"}, {"beam": 0}, {"refine_k": "many"}, {"refin": "top"},
                {"refine_radius_km": -1}):  # fmt: skip
        with pytest.raises(BundleError):
            DecodingSpec.from_dict(bad)


def test_manifest_refuses_a_decoding_level_it_does_not_have(zs_bundle: Path) -> None:
    d = json.loads((zs_bundle / "manifest.json").read_text())
    d["decoding"] = {"level": "street"}
    with pytest.raises(BundleError, match="street"):
        Manifest.from_dict(d)


def test_shipped_bundle_decodes_as_its_training_run_was_measured() -> None:
    """The default bundle's refinement is its training config's (top 3 within 150 km)."""
    m = load_bundle(None).manifest
    config = json.loads((REPO / "configs" / f"{m.metrics['training']['name']}.json").read_text())
    assert m.decoding.refine_k == config.get("refine_top_k", 3)
    assert m.decoding.refine_radius_km == config.get("refine_radius_km", 150.0)


def test_refine_point_averages_only_nearby_candidates() -> None:
    lats = np.array([45.0, 45.5, 10.0, 45.2])
    lons = np.array([15.0, 15.5, 100.0, 15.2])
    probs = np.array([0.4, 0.3, 0.2, 0.1])
    assert refine_point(lats, lons, probs, DecodingSpec()) == (45.0, 15.0)
    spec = DecodingSpec(refine=Refine.WEIGHTED, refine_k=3, refine_radius_km=150.0)
    lat, lon = refine_point(lats, lons, probs, spec)
    assert 45.0 < lat < 45.3 and 15.0 < lon < 15.3  # the far third candidate is left out
    one = DecodingSpec(refine=Refine.WEIGHTED, refine_k=1)
    assert refine_point(lats, lons, probs, one) == pytest.approx((45.0, 15.0))


def test_decoder_with_another_manifest_decodes_in_memory(cls_bundle: Path) -> None:
    pr = Predictor.load(cls_bundle, provider="cpu")
    rng = np.random.default_rng(3)
    logits = {n: rng.normal(0, 1, len(pr.decoder.table(n).rows)) for n in pr.decoder.chain}
    base = pr.decoder.decode(logits)
    top1 = pr.decoder.with_manifest(decoding_for(pr.bundle.manifest, top_k=1)).decode(logits)
    assert len(base.top_k) > 1 and len(top1.top_k) == 1
    assert (top1.lat, top1.lon, top1.city) == (base.lat, base.lon, base.city)


def test_each_alternative_has_the_radius_of_its_own_confidence() -> None:
    """The top answer's rule applied to every candidate: the error model's bin of its own
    confidence; without an error model, the weighted spread of the candidates around its
    own point. So an alternative the user chooses is written with an honest radius. The
    shipped bundle's heads decoded as its same-source fit had them (the mode, temperature
    2.28, radii of 8,355 to 2,164 km): its out-of-source radius is one width for every
    confidence, which shows nothing of the rule."""
    shipped = Decoder.from_bundle(load_bundle(None))
    em = ErrorModel(
        (0.0, 0.032475, 0.043841, 0.05875, 0.083347), (8354.5, 5827.7, 4597.6, 2935.0, 2163.9)
    )
    m = decoding_for(shipped.manifest, point=Point.MODE, unsure_below=0.0)
    decoder = shipped.with_manifest(replace(m, temperature=2.2835, error_model=em))
    rng = np.random.default_rng(5)
    logits = {n: rng.normal(0, 1, len(decoder.table(n).rows)) for n in decoder.chain}
    logits[decoder.chain[-1]][0] += 9.0  # a confident top answer among unsure alternatives
    pred = decoder.decode(logits)
    assert len(pred.top_k) >= 3 and pred.top_k[0].radius_km == pred.radius_km
    for c in pred.top_k:
        assert c.radius_km == em.radius(c.confidence)
    assert pred.top_k[1].radius_km > pred.radius_km  # less sure, so wider
    plain = decoder.with_manifest(replace(decoder.manifest, error_model=None)).decode(logits)
    lat = np.array([c.lat for c in plain.top_k])
    lon = np.array([c.lon for c in plain.top_k])
    w = np.array([c.confidence for c in plain.top_k])
    for c in plain.top_k:
        spread = float((w * haversine_km(c.lat, c.lon, lat, lon)).sum() / w.sum())
        assert c.radius_km == pytest.approx(max(spread, decoder.spec.min_radius_km), rel=1e-3)
    assert plain.radius_km == plain.top_k[0].radius_km < plain.top_k[1].radius_km


def test_a_flat_posterior_is_unsure_and_names_no_place() -> None:
    """Below the bundle's ``unsure_below`` the answer says it does not know: flagged, and
    named by no place, not even a country; a sure answer keeps its names. Manifests
    written before the field decode as before: never unsure."""
    assert DecodingSpec.from_dict({}).unsure_below == 0.0
    assert DecodingSpec.from_dict({}).gallery_min_similarity == -1.0
    shipped = Decoder.from_bundle(load_bundle(None))
    rng = np.random.default_rng(1)
    flat = {n: rng.normal(0, 0.01, len(shipped.table(n).rows)) for n in shipped.chain}
    sharp = {n: v.copy() for n, v in flat.items()}
    sharp[shipped.chain[0]][0] += 40.0
    sharp[shipped.chain[-1]][0] += 40.0
    assert shipped.decode(flat).unsure  # the shipped bundle knows it does not know
    decoder = shipped.with_manifest(decoding_for(shipped.manifest, unsure_below=0.0))
    assert not decoder.decode(flat).unsure
    unsure = decoder.with_manifest(decoding_for(decoder.manifest, unsure_below=0.2))
    pred = unsure.decode(flat)
    assert pred.unsure and pred.city == "" and pred.admin1 == ""
    assert pred.country_code == pred.country == ""  # not even a country: it does not know
    assert unsure.decode(flat).lat == decoder.decode(flat).lat  # the same guess, unnamed
    assert pred.to_dict()["unsure"] is True
    sure = unsure.decode(sharp)
    assert not sure.unsure and sure.confidence > 0.2
    with pytest.raises(BundleError):
        DecodingSpec(unsure_below=1.5)
