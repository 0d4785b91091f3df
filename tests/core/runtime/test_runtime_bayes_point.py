"""The Bayes point: the place minimising the posterior's expected distance (or maximising
its expected GeoScore) answers instead of the mode; central when unsure, the mode when
sure; named as itself; the spec travels through the manifest."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from geoscope_core.errors import BundleError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.bundle import load_bundle
from geoscope_core.runtime.decoding import Decoder
from geoscope_core.runtime.manifest import BundleKind, DecodingSpec, Manifest, Point

#: One cell per country: two western places, two eastern ones, one in between.
PLACES = {
    "PT": ("Lisbon", 38.72, -9.14),
    "IE": ("Dublin", 53.35, -6.26),
    "TR": ("Istanbul", 41.01, 28.98),
    "RU": ("Moscow", 55.76, 37.62),
    "AT": ("Vienna", 48.21, 16.37),
}
WEST, EAST = ("PT", "IE"), ("TR", "RU")


def _rows() -> dict[str, list[dict[str, object]]]:
    country = [
        {"id": cc, "name": cc, "parent": None, "lat": lat, "lon": lon, "country_code": cc}
        for cc, (_, lat, lon) in PLACES.items()
    ]
    cell = [
        {"id": f"c{i}", "name": name, "parent": cc, "lat": lat, "lon": lon, "country_code": cc}
        for i, (cc, (name, lat, lon)) in enumerate(PLACES.items())
    ]
    return {"country": country, "cell": cell}


def _decoder(point: Point, unsure_below: float = 0.0) -> Decoder:
    spec = DecodingSpec(point=point, unsure_below=unsure_below)
    return Decoder.for_labels(BundleKind.CLASSIFIER, _rows(), decoding=spec)


def _logits(country: dict[str, float]) -> dict[str, np.ndarray]:
    lg = np.array([country.get(cc, 0.0) for cc in PLACES])
    return {"country": lg, "cell": np.zeros(len(PLACES))}


def _km(pred: object, cc: str) -> float:
    _, lat, lon = PLACES[cc]
    return float(haversine_km(pred.lat, pred.lon, lat, lon))  # type: ignore[attr-defined]


def test_a_flat_posterior_over_two_distant_clusters_answers_between_them() -> None:
    """Half the mass on western Europe, half on its eastern edge, almost none in the
    middle: the mode is one edge, the Bayes point the middle, with a radius reaching
    both clusters, an unsure answer naming no place."""
    logits = _logits({"AT": -8.0})
    mode = _decoder(Point.MODE).decode(logits)
    assert mode.country_code in WEST + EAST
    assert _decoder(Point.MIN_EXPECTED_DISTANCE).decode(logits).country_code == "AT"
    pred = _decoder(Point.MIN_EXPECTED_DISTANCE, unsure_below=0.5).decode(logits)
    assert pred.country_code == pred.country == "" and _km(pred, "AT") < 100
    assert pred.radius_km >= max(min(_km(pred, c) for c in WEST), min(_km(pred, c) for c in EAST))
    assert pred.unsure and pred.city == "" and pred.admin1 == ""
    assert pred.confidence < 0.01  # its own (tiny) probability, not the mode's
    # the mode stays among the alternatives the user can pick
    assert (mode.lat, mode.lon) in [(c.lat, c.lon) for c in pred.top_k[1:]]


def test_a_peaked_posterior_answers_its_mode() -> None:
    logits = _logits({"RU": 9.0})
    mode = _decoder(Point.MODE).decode(logits)
    for point in (Point.MIN_EXPECTED_DISTANCE, Point.MAX_EXPECTED_GEOSCORE):
        pred = _decoder(point).decode(logits)
        assert pred.country_code == "RU" and _km(pred, "RU") < 100
        assert (pred.lat, pred.lon, pred.confidence, pred.radius_km) == (
            mode.lat,
            mode.lon,
            mode.confidence,
            mode.radius_km,
        )


def test_geoscore_point_prefers_a_likely_place_over_a_distant_middle() -> None:
    """GeoScore rewards being near one likely place more than being far from all: on the
    flat posterior where the distance point answers the middle, it answers one of the
    likely places."""
    logits = _logits({"AT": -8.0})
    assert _decoder(Point.MIN_EXPECTED_DISTANCE).decode(logits).country_code == "AT"
    pred = _decoder(Point.MAX_EXPECTED_GEOSCORE).decode(logits)
    assert pred.country_code in WEST + EAST


def test_spec_round_trips_and_old_manifests_read_as_mode() -> None:
    spec = DecodingSpec(point=Point.MAX_EXPECTED_GEOSCORE)
    assert spec.to_dict()["point"] == "max_expected_geoscore"
    assert DecodingSpec.from_dict(spec.to_dict()) == spec
    assert DecodingSpec.from_dict({}).point is Point.MODE
    with pytest.raises(BundleError):
        DecodingSpec.from_dict({"point": "median"})
    m = load_bundle(None).manifest
    changed = replace(m, decoding=replace(m.decoding, point=Point.MIN_EXPECTED_DISTANCE))
    assert Manifest.from_dict(changed.to_dict()).decoding == changed.decoding
    old = changed.to_dict()
    del old["decoding"]["point"]
    assert Manifest.from_dict(old).decoding.point is Point.MODE


def test_the_shipped_bundle_decodes_with_every_point() -> None:
    """The shipped bundle's levels carry a Bayes point (256 cells: one [256, 256]
    matrix), and every answer lies in the country it names (an unsure one names none:
    the threshold is set aside here)."""
    bundle = load_bundle(None)
    rng = np.random.default_rng(0)
    for point in Point:
        spec = replace(bundle.manifest.decoding, point=point, unsure_below=0.0)
        m = replace(bundle.manifest, decoding=spec)
        decoder = Decoder.from_bundle(bundle).with_manifest(m)
        logits = {n: rng.normal(0, 2, len(decoder.table(n).rows)) for n in decoder.chain}
        pred = decoder.decode(logits)
        assert pred.country_code and -90 <= pred.lat <= 90 and pred.radius_km > 0


def test_leaf_posterior_is_the_beams_joint_probability() -> None:
    """The vectorised posterior over the leaves sums to one and gives each place the
    probability the beam gives its hypothesis (parent x softmax among siblings)."""
    from geoscope_core.runtime.decoding import BayesPoint

    rows = _rows()
    porto = {"id": "c5", "name": "Porto", "parent": "PT", "lat": 41.15, "lon": -8.61,
             "country_code": "PT"}  # fmt: skip
    rows["cell"].append(porto)  # two siblings in Portugal
    decoder = Decoder.for_labels(BundleKind.CLASSIFIER, rows)
    rng = np.random.default_rng(2)
    logits = {"country": rng.normal(0, 2, 5), "cell": rng.normal(0, 2, 6)}
    logits["country"][0] = 4.0  # Portugal likely, its two cells split it
    bayes = BayesPoint([decoder.table(n) for n in decoder.chain], Point.MIN_EXPECTED_DISTANCE)
    post = bayes.posterior(logits, 1.0)
    assert post.sum() == pytest.approx(1.0)
    pred = decoder.decode(logits)
    leaf = int(np.argmax(post))
    assert post[leaf] == pytest.approx(pred.confidence)
    assert bayes.lat[leaf] == pytest.approx(pred.lat, abs=1.0)
    # a batch of photos gets, row by row, the posterior each photo gets alone
    batch = {n: np.stack([logits[n], rng.normal(0, 3, len(logits[n]))]) for n in logits}
    both = bayes.posterior(batch, 0.7)
    assert both.shape == (2, len(post))
    for i in range(2):
        np.testing.assert_allclose(
            both[i], bayes.posterior({n: v[i] for n, v in batch.items()}, 0.7)
        )
    assert not np.allclose(both[0], both[1])


#: A cluster of three close places, the mode far from it, one more far place.
CLUSTER = {
    "FR": ("Paris", 48.86, 2.35, 0.20),
    "BE": ("Brussels", 50.85, 4.35, 0.20),
    "NL": ("Amsterdam", 52.37, 4.90, 0.20),
    "JP": ("Tokyo", 35.68, 139.69, 0.24),
    "AU": ("Sydney", -33.87, 151.21, 0.16),
}


def _cluster_decoder(within_km: float) -> tuple[Decoder, dict[str, np.ndarray]]:
    rows = {
        "cell": [
            {"id": cc, "name": name, "parent": None, "lat": lat, "lon": lon, "country_code": cc}
            for cc, (name, lat, lon, _) in CLUSTER.items()
        ]
    }
    spec = DecodingSpec(point=Point.MAX_MASS_WITHIN, within_km=within_km)
    decoder = Decoder.for_labels(BundleKind.CLASSIFIER, rows, decoding=spec)
    return decoder, {"cell": np.log([p for *_, p in CLUSTER.values()])}


def test_mass_within_answers_the_densest_cluster_at_its_centre() -> None:
    """Tokyo is the mode (0.24), but 0.6 of the mass lies within 750 km of each place of
    the cluster: one of them answers, the one of least expected distance (the tie-break);
    the confidence is that mass, the probability of being within 750 km."""
    decoder, logits = _cluster_decoder(750.0)
    mode = decoder.with_manifest(
        replace(decoder.manifest, decoding=DecodingSpec(point=Point.MODE))
    ).decode(logits)
    assert mode.country_code == "JP"
    pred = decoder.decode(logits)

    def expected_km(cc: str) -> float:
        _, lat, lon, _ = CLUSTER[cc]
        return sum(p * float(haversine_km(lat, lon, a, b)) for _, a, b, p in CLUSTER.values())

    assert pred.country_code == min(("FR", "BE", "NL"), key=expected_km)
    assert pred.confidence == pytest.approx(0.6)
    # a radius too small to hold two places of the cluster: every place holds its own
    # mass only, and the mode wins again
    small = _cluster_decoder(100.0)[0].decode(logits)
    assert small.country_code == "JP" and small.confidence == pytest.approx(0.24)


def test_mass_within_on_a_peaked_posterior_answers_its_mode() -> None:
    logits = _logits({"RU": 9.0})
    mode = _decoder(Point.MODE).decode(logits)
    spec = DecodingSpec(point=Point.MAX_MASS_WITHIN, within_km=1000.0)
    pred = Decoder.for_labels(BundleKind.CLASSIFIER, _rows(), decoding=spec).decode(logits)
    assert (pred.lat, pred.lon, pred.radius_km) == (mode.lat, mode.lon, mode.radius_km)
    # nothing else within 1000 km of Moscow: the mass within is the mode's own
    assert pred.confidence == pytest.approx(mode.confidence)


@pytest.mark.parametrize("bad", [0.0, -5.0, 30_000.0, float("nan"), float("inf"), "far", True])
def test_a_bad_within_km_is_refused(bad: object) -> None:
    from geoscope_core.errors import ConfigError
    from geoscope_core.training.config import CnnConfig

    with pytest.raises(BundleError, match="within_km"):
        DecodingSpec(point=Point.MAX_MASS_WITHIN, within_km=bad)  # type: ignore[arg-type]
    with pytest.raises(BundleError, match="within_km"):
        DecodingSpec.from_dict({"point": "max_mass_within", "within_km": bad})
    with pytest.raises(ConfigError, match="within_km"):
        CnnConfig(name="x", point="max_mass_within", within_km=bad)  # type: ignore[arg-type]


def test_within_km_travels_through_the_manifest_and_the_recipe() -> None:
    from geoscope_core.training.config import CnnConfig

    spec = DecodingSpec(point=Point.MAX_MASS_WITHIN, within_km=1500.0)
    assert DecodingSpec.from_dict(spec.to_dict()) == spec
    assert DecodingSpec.from_dict({"point": "max_mass_within"}).within_km == 2500.0
    recipe = CnnConfig(name="x", point="max_mass_within", within_km=1500.0)
    assert recipe.decoding_spec().within_km == 1500.0
    assert recipe.decoding_spec().point is Point.MAX_MASS_WITHIN


def test_a_flat_posterior_mixed_with_the_prior_answers_where_the_photos_are() -> None:
    """Flat logits over the cluster and the two far places: without a prior the cluster
    (dense in places) answers; with the training prior mixed in, Sydney (where most
    training photos were) answers; its confidence is the photo's own mass within R (the
    prior chooses where to answer, it is no evidence of the photo's)."""
    rows = {
        "cell": [
            {"id": cc, "name": name, "parent": None, "lat": lat, "lon": lon, "country_code": cc}
            for cc, (name, lat, lon, _) in CLUSTER.items()
        ]
    }
    flat = {"cell": np.zeros(len(CLUSTER))}
    prior = (0.05, 0.05, 0.05, 0.05, 0.8)  # Sydney

    def decode(mix: float) -> object:
        spec = DecodingSpec(
            point=Point.MAX_MASS_WITHIN, within_km=750.0, prior=prior if mix else (), prior_mix=mix
        )
        return Decoder.for_labels(BundleKind.CLASSIFIER, rows, decoding=spec).decode(flat)

    assert decode(0.0).country_code in ("FR", "BE", "NL")  # type: ignore[attr-defined]
    mixed = decode(0.5)
    assert mixed.country_code == "AU"  # type: ignore[attr-defined]
    assert mixed.confidence == pytest.approx(0.2)  # type: ignore[attr-defined]
    assert mixed.top_k[0].confidence == pytest.approx(0.2)  # type: ignore[attr-defined]


def test_a_folder_never_counts_the_prior_once_per_photo() -> None:
    """Photos that say nothing (flat logits), decoded with the prior mixed in, all answer
    Sydney; the trip's mixtures (``placement.likelihood``) must still see each photo's own
    evidence: Sydney weighs what every other place weighs, so a folder of them does not
    multiply the training prior into a certainty."""
    from geoscope_core.placement.likelihood import log_odds, mixtures

    rows = {
        "cell": [
            {"id": cc, "name": name, "parent": None, "lat": lat, "lon": lon, "country_code": cc}
            for cc, (name, lat, lon, _) in CLUSTER.items()
        ]
    }
    spec = DecodingSpec(
        point=Point.MAX_MASS_WITHIN,
        within_km=750.0,
        prior=(0.05, 0.05, 0.05, 0.05, 0.8),
        prior_mix=0.5,
    )
    decoder = Decoder.for_labels(BundleKind.CLASSIFIER, rows, decoding=spec)
    preds = decoder.decode_many({"cell": np.zeros((8, len(CLUSTER)))})
    assert {p.country_code for p in preds} == {"AU"}
    lat, lon, w, _ = mixtures(preds)
    for i, p in enumerate(preds):
        by_cc = {c.country_code: w[i, j] for j, c in enumerate(p.top_k)}
        assert set(by_cc) == set(CLUSTER)
        assert by_cc["AU"] == pytest.approx(by_cc["JP"]) == pytest.approx(0.2 * 0.99)
    # the folder's evidence for Sydney is no stronger than for Tokyo (equal radii aside)
    sydney, tokyo = CLUSTER["AU"][1:3], CLUSTER["JP"][1:3]
    odds = log_odds(np.array([[sydney[0], tokyo[0]]] * 8), np.array([[sydney[1], tokyo[1]]] * 8),
                    (lat, lon, w, np.full_like(w, 500.0)))  # fmt: skip
    assert odds[:, 0].sum() == pytest.approx(odds[:, 1].sum())


def test_a_peaked_posterior_keeps_its_mode_under_a_moderate_prior_mix() -> None:
    logits = {"cell": np.log([0.01, 0.01, 0.01, 0.96, 0.01])}  # Tokyo
    rows = _cluster_decoder(750.0)[0].table("cell").rows
    spec = DecodingSpec(
        point=Point.MAX_MASS_WITHIN, within_km=750.0, prior=(0.2,) * 5, prior_mix=0.3
    )
    decoder = Decoder.for_labels(BundleKind.CLASSIFIER, {"cell": rows}, decoding=spec)
    assert decoder.decode(logits).country_code == "JP"


@pytest.mark.parametrize(
    "bad",
    [
        {"prior_mix": 0.5},  # no prior
        {"prior_mix": 1.5, "prior": (1.0,)},
        {"prior": (0.5, 0.2)},  # does not sum to 1
        {"prior": (1.5, -0.5)},
        {"prior": "uniform"},
    ],
)
def test_a_bad_prior_is_refused(bad: dict) -> None:
    with pytest.raises(BundleError, match="prior"):
        DecodingSpec(**bad)


def test_the_prior_travels_through_the_manifest_and_must_fit_the_level() -> None:
    spec = DecodingSpec(point=Point.MAX_MASS_WITHIN, prior=(0.25, 0.75), prior_mix=0.4)
    assert DecodingSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(BundleError, match="prior"):
        DecodingSpec.from_dict({**spec.to_dict(), "prior": {"a": 1}})
    with pytest.raises(BundleError, match="prior has 2 places"):
        Decoder.for_labels(BundleKind.CLASSIFIER, {"cell": _rows()["cell"]}, decoding=spec)


def _gated_decoder(min_similarity: float) -> tuple[Decoder, np.ndarray, dict[str, np.ndarray]]:
    """The cluster decoder (MAX_MASS_WITHIN 750 km: the Bayes point is the European
    cluster, the mode Tokyo) with a gallery of four photos gated at ``min_similarity``,
    and the gallery photos' encoder embeddings [4, 8] (Yokohama, Osaka, Lyon, Ghent)."""
    from geoscope_core.runtime.gallery import build_gallery

    decoder, logits = _cluster_decoder(750.0)
    spec = replace(decoder.spec, gallery="gallery.npz", gallery_min_similarity=min_similarity)
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(4, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    gallery = build_gallery(
        emb,
        np.array([35.44, 34.69, 45.76, 51.05]),
        np.array([139.64, 135.50, 4.84, 3.72]),
        np.array([3, 3, 0, 1]),  # Tokyo, Tokyo, Paris and Brussels cells
        dim=3,
        top_cells=1,  # only the mode's cell
    )
    gated = decoder.with_manifest(replace(decoder.manifest, decoding=spec)).with_gallery(gallery)
    return gated, emb, logits


def test_a_near_copy_of_a_gallery_photo_answers_its_place_and_others_the_bayes_point() -> None:
    """The same logits (mode Tokyo, Bayes point the European cluster) for two photos: a
    near copy of the Yokohama gallery photo passes the gate and answers Yokohama with
    the mode's mass within 750 km; a photo unlike every gallery photo answers the Bayes
    point with its own mass. Gate -1 takes both; the decoder without gallery takes none."""
    decoder, emb, logits = _gated_decoder(0.95)
    rng = np.random.default_rng(4)
    stranger = rng.normal(size=8).astype(np.float32)
    photos = np.stack([emb[0] + 0.01 * rng.normal(size=8).astype(np.float32), stranger])
    rows = {k: np.stack([v, v]) for k, v in logits.items()}
    sims = decoder.gallery_similarity(rows, photos)
    assert sims[0] > 0.99 and sims[1] < 0.95
    near, far = decoder.decode_many(rows, photos)
    assert (near.lat, near.lon) == pytest.approx((35.44, 139.64))  # the gallery photo
    assert near.confidence == pytest.approx(0.24)  # Tokyo's own mass within 750 km
    # the Bayes point: the cluster, holding 0.6 of the mass within 750 km
    assert far.country_code in ("FR", "BE", "NL") and far.confidence == pytest.approx(0.6)
    # gate -1: every photo gets the gallery's photo in the mode's cell (Tokyo's)
    everyone = _gated_decoder(-1.0)[0].decode_many(rows, photos)
    assert all(haversine_km(p.lat, p.lon, 35.0, 137.0) < 300 for p in everyone)
    # without a gallery the near copy answers the Bayes point as well
    plain = decoder.with_gallery(None).decode_many(rows, photos)
    assert [(p.lat, p.lon) for p in plain] == [(far.lat, far.lon)] * 2
    # one photo decoded alone (its gallery-space query) is gated the same way
    alone = decoder.decode(logits, decoder.gallery.project(photos[:1])[0])  # type: ignore[union-attr]
    assert (alone.lat, alone.lon) == pytest.approx((35.44, 139.64))
    # a peaked posterior's Bayes point is the mode (Tokyo): below the gate the gallery
    # still refines it inside the mode's cell, as the mode decoding does
    sure = {"cell": np.stack([np.log([0.01, 0.01, 0.01, 0.96, 0.01])] * 2)}
    assert decoder.gallery_similarity(sure, photos)[1] < 0.95
    refined = decoder.decode_many(sure, photos)[1]
    assert (refined.lat, refined.lon) in [(35.44, 139.64), (34.69, 135.50)]
