"""Leave-one-source-out evaluation on a tiny synthetic data set, and its measures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.geo.balance import rebalance
from geoscope_core.runtime.manifest import Point
from geoscope_core.training.config import CnnConfig
from geoscope_core.training.data import Sample
from geoscope_core.training.protocol import (
    answer_shares,
    auc,
    country_mean_accuracy,
    features_from_file,
    fit_error_model,
    markdown,
    run_protocol,
    unsure_below,
    write_report,
)

#: (country, lat, lon) of the synthetic places: three regions far apart.
REGIONS = {"FR": (48.85, 2.35), "US": (40.71, -74.0), "JP": (35.68, 139.69)}


def _write_labels(tmp_path: Path) -> Path:
    """Three world sources, each with photos in its own mix of regions, and one regional
    set of many photos in France; every photo a real (tiny) file."""
    rng = np.random.default_rng(0)
    rows = ["path,lat,lon,country_code,set,split,location_id,scope"]
    layout = {
        ("src_a", "world"): {"FR": 6, "US": 6, "JP": 6},
        ("src_b", "world"): {"FR": 6, "US": 6, "JP": 6},
        ("src_c", "world"): {"FR": 4, "US": 4, "JP": 0},
        ("dense_fr", "regional"): {"FR": 40},
    }
    (tmp_path / "img").mkdir()
    k = 0
    for (name, scope), counts in layout.items():
        for cc, n in counts.items():
            lat0, lon0 = REGIONS[cc]
            for i in range(n):
                path = tmp_path / "img" / f"{k}.jpg"
                path.write_bytes(b"x")
                lat, lon = lat0 + rng.normal(0, 0.3), lon0 + rng.normal(0, 0.3)
                split = "val" if i % 3 == 0 else "train"
                rows.append(f"{path},{lat:.4f},{lon:.4f},{cc},{name},{split},{k},{scope}")
                k += 1
    csv = tmp_path / "labels.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv


def _region_features(samples: list[Sample]) -> np.ndarray:
    """Features that name the region (one-hot, scaled) plus a little noise per photo."""
    rng = np.random.default_rng(1)
    order = list(REGIONS)
    out = rng.normal(0, 0.1, (len(samples), 8)).astype(np.float32)
    for i, s in enumerate(samples):
        out[i, order.index(s.country_code)] += 3.0
    return out


def _config(csv: Path, **kw: object) -> CnnConfig:
    base = dict(
        name="loso", data=str(csv), backbone="tiny", pretrained=False, levels=("country", "cell"),
        kmeans_k=3, epochs=30, batch_size=16, lr=0.01, hidden_dim=0, dropout=0.0, seed=0,
    )  # fmt: skip
    base.update(kw)
    return CnnConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    csv = _write_labels(tmp_path_factory.mktemp("loso"))
    config = _config(csv, gallery=True, refine="top")
    return run_protocol(
        config,
        _region_features,
        taus=(0.0, 1.0),
        min_similarities=(-1.0, 0.9),
        points=(Point.MODE, Point.MIN_EXPECTED_DISTANCE),
    )


def test_every_world_source_is_held_out_once_with_all_its_photos(report: dict) -> None:
    assert report["held_out"] == ["src_a", "src_b", "src_c"]  # not the regional set
    assert {n: m["n"] for n, m in report["per_source"].items()} == {
        "src_a": 18,
        "src_b": 18,
        "src_c": 8,
    }
    for floor in ("medoid", "nn1"):
        assert set(report["floors"][floor]["per_source"]) == set(report["held_out"])
    # the macro figure is the mean over sources, not over photos
    accs = [m["acc_km"]["750"] for m in report["per_source"].values()]
    assert report["macro"]["acc_km"]["750"] == pytest.approx(np.mean(accs))


def test_informative_features_beat_the_medoid_floor_out_of_source(report: dict) -> None:
    model, floor = report["macro"], report["floors"]["medoid"]["macro"]
    assert model["acc_km"]["750"] > floor["acc_km"]["750"] + 0.3
    assert report["per_source"]["src_a"]["country_acc"] > 0.9
    # Japan is never in src_c: its held-out fold cannot put anything there
    shares = report["per_source"]["src_c"]["shares"]["over_predicted"]
    assert all(r["country"] != "JP" or r["predicted"] < 0.2 for r in shares)


def test_report_carries_radius_coverage_auc_shares_and_calibration(
    report: dict, tmp_path: Path
) -> None:
    for m in report["per_source"].values():
        assert 0.0 <= m["within_radius"] <= 1.0
        assert sum(b["n"] for b in m["coverage_by_confidence"]) == m["n"]
        assert m["confidence_auc"] is None or 0.0 <= m["confidence_auc"] <= 1.0
        assert "max_ratio" in m["shares"]
    cal = report["calibration"]
    assert cal["logit_adjust_tau"] in (0.0, 1.0) and cal["temperature"] > 0
    radii = cal["error_model"]["radius_km"]
    assert radii == sorted(radii, reverse=True)
    # MODE tries each gallery threshold; a Bayes point is tried with its gate shut (1:
    # identical photos only; its gate is chosen once it is: test_a_bayes_points_...)
    assert set(report["by_tau"]) == {
        f"{tau} sim {sim} mode" for tau in ("0", "1") for sim in ("-1", "0.9")
    } | {f"{tau} sim 1 min_expected_distance" for tau in ("0", "1")}
    chosen = report["by_tau"][
        f"{report['tau']:g} sim {report['gallery_min_similarity']:g} mode"
        if report["point"] == "mode"
        else f"{report['tau']:g} sim 1 {report['point']}"
    ]
    # the decoding point is chosen out of source with the rest, and travels with them
    assert cal["point"] == report["point"] == report["config"]["point"]
    assert chosen["macro"]["geoscore"] == max(
        v["macro"]["geoscore"] for v in report["by_tau"].values()
    )
    # every candidate keeps its per-source figures (distances: as the final answers')
    for v in report["by_tau"].values():
        accs = [m["acc_km"]["750"] for m in v["per_source"].values()]
        assert v["macro"]["acc_km"]["750"] == pytest.approx(np.mean(accs))
    for name, m in report["per_source"].items():
        if report["point"] == "mode" or report["gallery_gate"]["chosen"] == 1.0:
            assert chosen["per_source"][name]["acc_km"] == m["acc_km"]
        else:  # the gate lowers no source's acc@750 or acc@2500 km
            for km in ("750", "2500"):
                assert m["acc_km"][km] >= chosen["per_source"][name]["acc_km"][km]
    assert set(report["same_source_val"]) == {"src_a", "src_b", "src_c"}
    write_report(report, tmp_path)
    assert json.loads((tmp_path / "calibration.json").read_text()) == cal
    text = (tmp_path / "report.md").read_text()
    assert text == markdown(report) and "src_c floor medoid" in text


def test_mass_within_radii_and_temperature_scales_are_chosen_out_of_source(
    tmp_path: Path,
) -> None:
    """Each radius of the max_mass_within point, each prior mix (Bayes points only) and
    each temperature factor is one more combination tried; the best macro mean of
    acc@750 and acc@2500 is kept, and its radius, mix and temperature travel into the
    calibration (the radius into the recipe too)."""
    config = _config(_write_labels(tmp_path))
    rep = run_protocol(
        config,
        _region_features,
        same_source=False,
        points=(Point.MODE, Point.MAX_MASS_WITHIN),
        within_kms=(750.0, 2500.0),
        temperature_scales=(1.0, 3.0),
        select="acc_750_2500",
        prior_mixes=(0.0, 0.5),
    )
    assert set(rep["by_tau"]) == {
        f"0{scale} {point}"
        for scale in ("", " T x3")
        for point in ("mode", "max_mass_within 750 km", "max_mass_within 2500 km")
    } | {
        f"0 prior 0.5{scale} max_mass_within {km} km"
        for scale in ("", " T x3")
        for km in (750, 2500)
    }
    unmixed = {v["temperature"] for v in rep["by_tau"].values() if v["prior_mix"] == 0}
    assert len(unmixed) == 2 and max(unmixed) == pytest.approx(3 * min(unmixed))

    def score(v: dict) -> float:
        return (v["macro"]["acc_km"]["750"] + v["macro"]["acc_km"]["2500"]) / 2

    chosen = next(
        v
        for v in rep["by_tau"].values()
        if v["point"] == rep["point"]
        and v["within_km"] == rep["within_km"]
        and v["temperature"] == rep["temperature"]
        and v["prior_mix"] == rep["prior_mix"]
    )
    assert score(chosen) == max(score(v) for v in rep["by_tau"].values())
    cal = rep["calibration"]
    assert cal["within_km"] == rep["within_km"] == rep["config"]["within_km"]
    assert cal["temperature"] == rep["temperature"]
    assert cal["prior_mix"] == rep["prior_mix"] in (0.0, 0.5)
    assert rep["select"] == "acc_750_2500" and "acc_750_2500" in markdown(rep)


def test_nll_selection_chooses_the_posterior_then_its_point(tmp_path: Path) -> None:
    """``select="nll"``: the posterior (tau, prior mix, temperature) with the lowest NLL of
    the true places, macro over sources, then the point tried on it with the best mean
    of acc@750 and acc@2500 km. Informative features make the training prior a worse
    density than the heads: a prior mixed in raises the NLL, so it is not chosen."""
    config = _config(_write_labels(tmp_path))
    rep = run_protocol(
        config,
        _region_features,
        same_source=False,
        points=(Point.MODE, Point.MAX_MASS_WITHIN),
        within_kms=(750.0, 2500.0),
        temperature_scales=(1.0, 3.0),
        select="nll",
        prior_mixes=(0.0, 0.9),
    )
    tried = list(rep["by_tau"].values())
    nll = {(v["prior_mix"], v["temperature"]): v["macro"]["nll"] for v in tried}
    assert len(set(nll.values())) == 4  # two mixes x two temperatures, each its own NLL
    assert nll[(0.9, max(t for m, t in nll if m == 0.9))] > min(nll.values())
    assert rep["prior_mix"] == 0.0
    assert nll[(rep["prior_mix"], rep["temperature"])] == min(nll.values())
    # the NLL-fitted temperature beats three times it
    assert rep["temperature"] == min(t for m, t in nll if m == 0.0)

    def score(v: dict) -> float:
        return (v["macro"]["acc_km"]["750"] + v["macro"]["acc_km"]["2500"]) / 2

    same_posterior = [
        v for v in tried if (v["prior_mix"], v["temperature"]) == (0.0, rep["temperature"])
    ]
    assert len(same_posterior) == 3  # mode and the mass within 750 / 2500 km
    chosen = next(
        v
        for v in same_posterior
        if v["point"] == rep["point"] and v["within_km"] == rep["within_km"]
    )
    assert score(chosen) == max(score(v) for v in same_posterior)
    # each source weighs the same in the macro NLL, and the report carries both
    per = [m["nll"] for m in rep["per_source"].values()]
    assert rep["macro"]["nll"] == pytest.approx(np.mean(per))
    assert rep["macro"]["nll"] == pytest.approx(min(nll.values()))
    assert rep["select"] == "nll" and "lowest macro NLL" in markdown(rep)


@pytest.mark.parametrize(
    "bad",
    [
        {"select": "median"},
        {"temperature_scales": (0.0,)},
        {"within_kms": (0.0,)},
        {"prior_mixes": (1.5,)},
    ],
)
def test_bad_protocol_choices_are_refused(tmp_path: Path, bad: dict) -> None:
    from geoscope_core.errors import ConfigError

    with pytest.raises(ConfigError):
        run_protocol(_config(tmp_path / "none.csv"), _region_features, **bad)


def test_features_file_is_looked_up_by_path(tmp_path: Path) -> None:
    photos = [tmp_path / f"{i}.jpg" for i in range(3)]
    for p in photos:
        p.write_bytes(b"x")
    feats = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.savez(tmp_path / "f.npz", paths=np.array([str(p) for p in photos]), features=feats)
    lookup = features_from_file(tmp_path / "f.npz")
    got = lookup([Sample(photos[2], 0, 0), Sample(photos[0], 0, 0)])
    np.testing.assert_array_equal(got, feats[[2, 0]])
    from geoscope_core.errors import DataError

    with pytest.raises(DataError):
        lookup([Sample(tmp_path / "other.jpg", 0, 0)])


def test_answer_shares_flag_a_country_taking_more_than_its_share() -> None:
    pred = ["US"] * 6 + ["FR"] * 2 + ["HR"] * 2
    true = ["US"] * 3 + ["FR"] * 4 + ["GB"] * 3
    shares = answer_shares(pred, true)
    top = shares["over_predicted"][0]
    assert top["country"] == "US" and top["ratio"] == 2.0
    # HR: 2 answers, no true photo -> its true share counts as half a photo
    assert shares["max_ratio"] == 4.0
    assert country_mean_accuracy(pred, true) == pytest.approx((1.0 + 0.25 + 0.0) / 3)


def test_unsure_answers_name_no_country_in_the_shares() -> None:
    """An unsure answer ("") is in no country's share and never the over-predicted one;
    its own share is reported, and the named shares stay shares of all answers."""
    pred = [""] * 6 + ["US"] * 2 + ["FR"] * 2
    true = ["US"] * 5 + ["FR"] * 5
    shares = answer_shares(pred, true)
    assert shares["unsure"] == 0.6
    assert all(r["country"] for r in shares["over_predicted"])
    assert {r["country"]: r["predicted"] for r in shares["over_predicted"]} == {
        "US": 0.2,
        "FR": 0.2,
    }
    assert shares["max_ratio"] == 0.4


def test_auc_ranks_right_answers_above_wrong_ones() -> None:
    assert auc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([True, True, False, False])) == 1.0
    assert auc(np.array([0.1, 0.2, 0.9]), np.array([True, True, False])) == 0.0
    assert auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5
    assert auc(np.array([0.5]), np.array([True])) is None


def test_error_model_holds_its_share_per_bin_and_unsure_threshold() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 5000)
    err = rng.exponential(100 + 5000 * (1 - conf))  # surer answers err less
    model = fit_error_model(conf, err, np.ones_like(conf))
    radius = np.array([model.radius(c) for c in conf])
    assert np.mean(err <= radius) == pytest.approx(0.68, abs=0.02)
    lo = conf < model.confidence[1]
    assert np.mean(err[lo] <= radius[lo]) == pytest.approx(0.68, abs=0.04)
    assert list(model.radius_km) == sorted(model.radius_km, reverse=True)
    edge = unsure_below(model, radius_km=model.radius_km[2])
    assert edge == model.confidence[2]
    assert unsure_below(model, radius_km=0.0) == 1.0
    # a probability of lying within the point's km: unsure below even odds at most
    assert unsure_below(model, radius_km=0.0, point=Point.MAX_MASS_WITHIN) == 0.5
    assert unsure_below(model, radius_km=model.radius_km[1], point=Point.MAX_MASS_WITHIN) == (
        min(model.confidence[1], 0.5)
    )


def test_rebalance_caps_a_dense_source() -> None:
    groups = ["dense"] * 8 + ["a", "b"]
    w = rebalance(np.ones(10), groups, 0.0)
    assert w[:8].sum() == pytest.approx(w[8]) == pytest.approx(w[9])
    assert rebalance(np.ones(10), groups, 1.0) == pytest.approx(np.ones(10))


def test_the_recipe_owns_its_decoding_and_balances_sources_and_countries() -> None:
    from geoscope_core.errors import ConfigError
    from geoscope_core.runtime.manifest import Refine
    from geoscope_core.training.cnn import sample_weights

    spec = CnnConfig(gallery=True, refine="top", gallery_min_similarity=0.8).decoding_spec()
    assert spec.refine is Refine.TOP and spec.gallery == "gallery.npz"
    assert spec.gallery_min_similarity == 0.8 and spec.refine_k == CnnConfig().refine_top_k
    with pytest.raises(ConfigError):
        CnnConfig(refine="median")
    with pytest.raises(ConfigError):
        CnnConfig(source_power=1.5)
    samples = [Sample(Path(f"{i}"), 45.0, 15.0 + i, "HR", "dense") for i in range(8)]
    samples += [
        Sample(Path("a"), 40.7, -74.0, "US", "a"),
        Sample(Path("b"), 35.7, 139.7, "JP", "b"),
    ]
    w = sample_weights(CnnConfig(source_power=0.0), samples)
    assert w[:8].sum() == pytest.approx(w[8]) == pytest.approx(w[9])
    w = sample_weights(CnnConfig(country_power=0.0), samples)
    assert w[:8].sum() == pytest.approx(w[8])
    assert sample_weights(CnnConfig(), samples) == pytest.approx(np.ones(10))


def test_logit_adjustment_lowers_each_label_by_tau_log_prior() -> None:
    from geoscope_core.geo.cells import CellSet
    from geoscope_core.training.cnn import adjust_logits, fit_heads, head_logits, log_priors

    cells = {"cell": CellSet.from_labels("cell", [
        {"id": "a", "name": "a", "parent": "FR", "lat": 48.0, "lon": 2.0, "population": 0,
         "country_code": "FR"},
        {"id": "b", "name": "b", "parent": "JP", "lat": 35.0, "lon": 139.0, "population": 0,
         "country_code": "JP"},
    ])}  # fmt: skip
    targets = [np.array([[1.0, 0.0]] * 9 + [[0.0, 1.0]], dtype=np.float32)]
    priors = log_priors(["cell"], targets, np.ones(10))
    np.testing.assert_allclose(np.exp(priors["cell"]), [0.9, 0.1])
    feats = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    net = fit_heads(
        CnnConfig(epochs=2, hidden_dim=0, dropout=0.0), feats, cells, targets, np.ones(10)
    )
    before = head_logits(net, feats)["cell"]
    adjust_logits(net, priors, 0.5)
    after = head_logits(net, feats)["cell"]
    np.testing.assert_allclose(
        after - before, -0.5 * priors["cell"][None, :] + 0 * before, atol=1e-5
    )


def test_a_bayes_point_tried_without_gate_thresholds_is_measured_with_its_gate_shut(
    tmp_path: Path,
) -> None:
    """Without ``min_similarities`` a Bayes point is measured as itself, its gallery gate
    shut (1: identical photos only), and its calibration carries that threshold: the
    config's -1 would gate every photo to the mode's gallery answer, so every point and
    prior mix tried would answer the same."""
    config = _config(_write_labels(tmp_path), gallery=True, refine="top")
    rep = run_protocol(
        config,
        _region_features,
        same_source=False,
        points=(Point.MAX_MASS_WITHIN,),
        within_kms=(750.0,),
        prior_mixes=(0.0, 1.0),
    )
    rows = rep["by_tau"]
    assert set(rows) == {"0 sim 1 max_mass_within 750 km", "0 prior 1 sim 1 max_mass_within 750 km"}
    own = rows["0 sim 1 max_mass_within 750 km"]["per_source"]
    prior_only = rows["0 prior 1 sim 1 max_mass_within 750 km"]["per_source"]
    # the training prior alone answers one place for every photo of a source; the
    # region features' own posterior answers each photo's region
    assert all(own[n]["acc_km"]["750"] == 1.0 for n in rep["held_out"])
    assert any(prior_only[n]["acc_km"]["750"] < 1.0 for n in rep["held_out"])
    assert rep["calibration"]["gallery_min_similarity"] == 1.0


def test_a_bayes_points_gallery_gate_is_chosen_out_of_source_by_its_rule(tmp_path: Path) -> None:
    """A Bayes point's gallery gate: per threshold and held-out source, the photos taken
    (fewer as the threshold rises; -1 takes every photo) and how often the gallery's and
    the Bayes point's answers to them are right; the chosen threshold is the lowest that
    passes with every higher one, and it lowers no source's acc@750 or acc@2500 km."""
    config = _config(_write_labels(tmp_path), gallery=True, refine="top")
    sims = (-1.0, 0.5, 0.9, 0.999)
    rep = run_protocol(
        config,
        _region_features,
        same_source=False,
        min_similarities=sims,
        points=(Point.MAX_MASS_WITHIN,),
        within_kms=(750.0,),
        prior_mixes=(0.25,),
    )
    assert set(rep["by_tau"]) == {"0 prior 0.25 sim 1 max_mass_within 750 km"}
    gate = rep["gallery_gate"]
    rows = gate["by_threshold"]
    assert list(rows) == ["-1", "0.5", "0.9", "0.999", "1"]  # 1: never, always tried
    for name in rep["held_out"]:
        taken = [rows[k]["per_source"][name]["taken"] for k in rows]
        assert taken == sorted(taken, reverse=True)
        assert taken[0] == rows["-1"]["per_source"][name]["photos"] == rep["per_source"][name]["n"]
    # the rule, recomputed from the table
    chosen = 1.0
    for t in (1.0, *sorted(sims, reverse=True)):
        per = rows[f"{t:g}"]["per_source"].values()
        ok = all(
            r[f"gallery_right_{km}"] >= r[f"bayes_right_{km}"] for r in per for km in (750, 2500)
        )
        assert rows[f"{t:g}"]["passes"] is ok
        if not ok:
            break
        chosen = t
    assert gate["chosen"] == chosen
    assert rep["calibration"]["gallery_min_similarity"] == chosen
    # the region features put every gallery neighbour in the right region: the gate
    # takes every photo, and no source loses a right answer at 750 or 2500 km
    assert chosen == -1.0
    off = rep["by_tau"]["0 prior 0.25 sim 1 max_mass_within 750 km"]["per_source"]
    for name, m in rep["per_source"].items():
        for km in ("750", "2500"):
            assert m["acc_km"][km] >= off[name]["acc_km"][km]
    assert "## Gallery gate of the Bayes point" in markdown(rep)
