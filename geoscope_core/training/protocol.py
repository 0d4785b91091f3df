"""Out-of-source evaluation: leave one source out, for every ``world`` source.

Each ``world`` set of the labels comes from its own source (camera, photographer,
processing). For each of them in turn the classifier's heads are trained on the
training split of every other set (the regional and one-place sets included) and
measured on every photo of the held-out set (train and val split): what a user whose
photos come from none of the training sources gets. The model, its logit adjustment,
temperature, error radius and "unsure" threshold are chosen on these predictions only;
the same-source val split (train on the training split of all sets, measure on the val
photos of the ``world`` sets) stays a secondary table that only checks for bugs.

Heads train on frozen backbone features (``baselines.frozen_features``, from the
feature cache, or a ``--features`` file of precomputed ones), so a whole protocol
takes minutes on a CPU. Floors, computed the same way per fold: the medoid of the
fold's training pool, and 1-NN on the same frozen features.

Run ``geoscope train protocol --config configs/cnn-world.json --out runs/loso``: writes
``report.json``, ``report.md`` and ``calibration.json`` (temperature, logit adjustment,
error radius and unsure threshold fitted out of source, for :mod:`geoscope_export`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from geoscope_core.calibration import fit_error_model, prior_of
from geoscope_core.calibration import fit_temperature as fit_nll_temperature
from geoscope_core.errors import ConfigError, DataError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.metrics import THRESHOLDS_KM, evaluate
from geoscope_core.runtime.decoding import BayesPoint, Decoder
from geoscope_core.runtime.gallery import build_gallery
from geoscope_core.runtime.manifest import TEMPERATURE_RANGE, ErrorModel, Point
from geoscope_core.training.baselines import medoid, nearest_neighbour, unit_rows
from geoscope_core.training.config import CnnConfig
from geoscope_core.training.data import Sample, load_samples

log = logging.getLogger(__name__)

#: The scope whose sets are held out one at a time.
HELD_OUT_SCOPE = "world"
#: An answer whose confidence bin's radius exceeds this (km, the continent scale) is
#: "unsure"...
UNSURE_RADIUS_KM = 2500.0
#: ... unless its confidence is a probability of lying within ``within_km``
#: (MAX_MASS_WITHIN, on the posterior whose temperature is fitted out of source by NLL)
#: and at least this: the answer is more likely near than not. Out of source the bins
#: say only how wrong the answers of the confidences seen there were; a photo far surer
#: than any of them (a campus photo the heads know) is not unsure for lack of peers.
UNSURE_PROBABILITY = 0.5
#: Dimensions of the gallery's principal-component space (as the shipped bundle's).
GALLERY_DIM = 256
#: Distance (km) of the hit that the confidence AUC ranks.
AUC_KM = 750
#: Distances (km) the gallery gate's table counts right answers within.
GATE_KM = (25, 750, 2500)
#: The gallery gate's "never": only a photo identical to a gallery photo passes it.
GATE_NEVER = 1.0
#: A predicted country counts for the share-of-answers target from this share up.
SHARE_MIN = 0.02
#: What the protocol's choice optimises on the macro over held-out sources: the GeoScore,
#: the mean of acc@750 and acc@2500 km (the distances of the floors' targets), or "nll":
#: the posterior (tau, prior mix, temperature) with the lowest NLL of the true places, a
#: proper score that one answer for every photo cannot game, then the point tried on it
#: with the best mean of acc@750 and acc@2500 km.
SELECT = ("geoscore", "acc_750_2500", "nll")

FeatureFn = Callable[[Sequence[Sample]], np.ndarray]


@dataclass(frozen=True)
class Answers:
    """Decoded answers for N photos: ``lat``/``lon`` (degrees) [N], ``country_code`` [N],
    ``confidence`` (0-1) [N]."""

    lat: np.ndarray
    lon: np.ndarray
    country_code: np.ndarray
    confidence: np.ndarray


@dataclass
class Fold:
    """One held-out source: its photos, the heads' logits on them, the decoder (with the
    fold's gallery) and log priors, and the two floors' answers."""

    name: str
    samples: list[Sample]
    logits: dict[str, np.ndarray]
    embeddings: np.ndarray
    decoder: Decoder
    priors: dict[str, np.ndarray]
    targets: np.ndarray  # index of the nearest finest label to each true place
    medoid: Sample
    nn1: list[Sample]


def _coords(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([s.lat for s in samples]), np.array([s.lon for s in samples])


def build_fold(
    config: CnnConfig,
    name: str,
    train: list[Sample],
    train_f: np.ndarray,
    test: list[Sample],
    test_f: np.ndarray,
) -> Fold:
    """Train the heads on ``train`` (features [N, F]) and run them on ``test`` ([M, F])."""
    from geoscope_core.training.cnn import (
        build_cells,
        cell_decoder,
        fit_heads,
        head_logits,
        level_targets,
        log_priors,
        sample_weights,
    )

    weights = sample_weights(config, train)
    cells = build_cells(config, train, weights)
    targets = level_targets(config, cells, train)
    net = fit_heads(config, train_f, cells, targets, weights)
    finest = list(cells)[-1]
    decoder = cell_decoder(cells, config.decoding_spec())
    if config.gallery:
        lat, lon = _coords(train)
        gallery = build_gallery(
            unit_rows(train_f),
            lat,
            lon,
            cells[finest].assign(lat, lon),
            GALLERY_DIM,
            config.gallery_top_cells,
        )
        decoder = decoder.with_gallery(gallery)
    tlat, tlon = _coords(test)
    nn_idx = nearest_neighbour(train_f, test_f)
    return Fold(
        name=name,
        samples=test,
        logits=head_logits(net, test_f),
        embeddings=unit_rows(test_f),
        decoder=decoder,
        priors=log_priors(list(cells), targets, weights),
        targets=cells[finest].assign(tlat, tlon),
        medoid=medoid(train),
        nn1=[train[i] for i in nn_idx],
    )


def decode_fold(
    fold: Fold,
    tau: float,
    temperature: float,
    min_similarity: float | None = None,
    point: Point | None = None,
    within_km: float | None = None,
    prior_mix: float = 0.0,
) -> Answers:
    """The fold's answers with logit adjustment ``tau``, ``temperature`` and (when given)
    the gallery's ``min_similarity``, the decoding ``point`` and its ``within_km``
    instead of the config's; a Bayes point mixes ``prior_mix`` of the fold's training
    prior into its posterior."""
    logits = adjusted_logits(fold, tau)
    m = fold.decoder.manifest
    if min_similarity is not None:
        m = replace(m, decoding=replace(m.decoding, gallery_min_similarity=min_similarity))
    if point is not None:
        m = replace(m, decoding=replace(m.decoding, point=point))
    if within_km is not None:
        m = replace(m, decoding=replace(m.decoding, within_km=within_km))
    if prior_mix > 0:
        finest = list(fold.priors)[-1]
        m = replace(
            m,
            decoding=replace(m.decoding, prior=prior_of(fold.priors[finest]), prior_mix=prior_mix),
        )
    decoder = fold.decoder.with_manifest(replace(m, temperature=temperature))
    preds = decoder.decode_many(logits, fold.embeddings)
    return Answers(
        np.array([p.lat for p in preds]),
        np.array([p.lon for p in preds]),
        np.array([p.country_code for p in preds], dtype=object),
        np.array([p.confidence for p in preds]),
    )


def adjusted_logits(fold: Fold, tau: float) -> dict[str, np.ndarray]:
    """The fold's logits with logit adjustment ``tau`` (minus ``tau`` x log prior)."""
    return {lv: lg - tau * fold.priors[lv] for lv, lg in fold.logits.items()}


def gallery_gate(
    folds: Sequence[Fold],
    tau: float,
    temperature: float,
    point: Point,
    within_km: float,
    prior_mix: float,
    min_similarities: Sequence[float],
) -> dict[str, Any]:
    """The gallery gate of a Bayes ``point``, chosen out of source among
    ``min_similarities``: per threshold and held-out source, the photos the gate takes
    (its most similar gallery photo in the mode's cells at least that similar) and how
    often the gallery's answers to them and the Bayes point's answers to the same photos
    are right within 25, 750 and 2500 km. A threshold passes when, on every source, the
    gated answers are right within 750 and within 2500 km at least as often as the Bayes
    point's on the photos taken (so the gate lowers no source's acc@750 or acc@2500
    km); ``GATE_NEVER`` is always tried, and the chosen threshold ("chosen") is the
    lowest that passes with every higher one (``GATE_NEVER`` when none does)."""
    thresholds = sorted({*min_similarities, GATE_NEVER})
    rows: dict[str, Any] = {}
    for f in folds:
        tlat, tlon = _coords(f.samples)
        bayes = decode_fold(f, tau, temperature, GATE_NEVER, point, within_km, prior_mix)
        # -1: the gallery's answer to every photo it has one in the mode's cells for
        near = decode_fold(f, tau, temperature, -1.0, point, within_km, prior_mix)
        sim = f.decoder.gallery_similarity(adjusted_logits(f, tau), f.embeddings)
        d_bayes = np.asarray(haversine_km(bayes.lat, bayes.lon, tlat, tlon))
        d_near = np.asarray(haversine_km(near.lat, near.lon, tlat, tlon))
        for t in thresholds:
            taken = np.nan_to_num(sim, nan=-np.inf) >= t
            row = {"photos": len(f.samples), "taken": int(taken.sum())}
            for km in GATE_KM:
                row[f"gallery_right_{km}"] = int((d_near[taken] <= km).sum())
                row[f"bayes_right_{km}"] = int((d_bayes[taken] <= km).sum())
            rows.setdefault(f"{t:g}", {"min_similarity": t, "per_source": {}})
            rows[f"{t:g}"]["per_source"][f.name] = row
    chosen = GATE_NEVER
    for t in reversed(thresholds):
        per = rows[f"{t:g}"]["per_source"].values()
        passes = all(
            r[f"gallery_right_{km}"] >= r[f"bayes_right_{km}"] for r in per for km in (750, 2500)
        )
        rows[f"{t:g}"]["passes"] = passes
        if not passes:
            break
        chosen = t
    return {"chosen": chosen, "by_threshold": rows}


@dataclass(frozen=True)
class LeafTargets:
    """What one fold's posterior NLL needs: the leaf posterior of its decoder's chain
    (``bayes``), its training prior over those leaves [L] and the leaf nearest to each
    held-out photo's true place [M]."""

    bayes: BayesPoint
    prior: np.ndarray
    target: np.ndarray


def leaf_targets(fold: Fold) -> LeafTargets:
    chain = [fold.decoder.table(n) for n in fold.decoder.chain]
    finest = list(fold.priors)[-1]
    prior = BayesPoint(chain, Point.MIN_EXPECTED_DISTANCE, prior=prior_of(fold.priors[finest]),
                       prior_mix=1.0).prior  # fmt: skip
    bayes = BayesPoint(chain, Point.MIN_EXPECTED_DISTANCE)
    tlat, tlon = _coords(fold.samples)
    d = np.asarray(haversine_km(bayes.lat[None], bayes.lon[None], tlat[:, None], tlon[:, None]))
    return LeafTargets(bayes, prior, d.argmin(axis=1))


def posterior_nll(
    fold: Fold, leaves: LeafTargets, tau: float, temperature: float, prior_mix: float = 0.0
) -> float:
    """Mean NLL of the held-out photos' true places (the leaf nearest to each) under the
    fold's leaf posterior with logit adjustment ``tau`` at ``temperature``, mixed with
    ``prior_mix`` of its training prior: the posterior a Bayes point decides on (the
    mode is its arg-max). The leaves are the same for every posterior of a fold, so the
    NLLs of different posteriors compare."""
    post = leaves.bayes.posterior(adjusted_logits(fold, tau), temperature)
    p = post[np.arange(len(post)), leaves.target]
    p = (1.0 - prior_mix) * p + prior_mix * leaves.prior[leaves.target]
    return float(-np.mean(np.log(np.clip(p, 1e-300, None))))


def macro_nll(
    folds: Sequence[Fold],
    leaves: Sequence[LeafTargets],
    tau: float,
    temperature: float,
    prior_mix: float = 0.0,
) -> float:
    """``posterior_nll`` averaged over the held-out sources, each weighing the same."""
    return float(
        np.mean(
            [
                posterior_nll(f, lt, tau, temperature, prior_mix)
                for f, lt in zip(folds, leaves, strict=True)
            ]
        )
    )


def fit_temperature(
    folds: Sequence[Fold], leaves: Sequence[LeafTargets], tau: float, prior_mix: float = 0.0
) -> float:
    """Temperature minimising ``macro_nll``: each held-out source weighs the same (pooled,
    the largest source would choose it alone)."""
    return fit_nll_temperature(lambda t: macro_nll(folds, leaves, tau, t, prior_mix))


# -- metrics ---------------------------------------------------------------------------------
def auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` [N] ranking ``positive`` [N] (bool) rows
    above the others (ties count half); None when one class is empty."""
    from scipy.stats import rankdata

    pos = np.asarray(positive, bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return None
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def answer_shares(pred_cc: Sequence[str], true_cc: Sequence[str], top: int = 5) -> dict[str, Any]:
    """Share of answers per predicted country against its share of the truth: the
    ``top`` most over-predicted countries and ``max_ratio`` (predicted / true share, the
    true share at least half a photo) over countries given at least ``SHARE_MIN`` of
    the answers. An unsure answer names no country (``""``): it counts in no country's
    share (shares are of all answers) and its own share is ``unsure``."""
    n = len(pred_cc)
    pred = {
        c: v / n
        for c, v in zip(*np.unique(np.asarray(pred_cc, str), return_counts=True), strict=True)
    }
    true = {
        c: v / n
        for c, v in zip(*np.unique(np.asarray(true_cc, str), return_counts=True), strict=True)
    }
    rows = [
        {
            "country": c,
            "predicted": round(p, 4),
            "true": round(true.get(c, 0.0), 4),
            "ratio": round(p / max(true.get(c, 0.0), 0.5 / n), 2),
        }
        for c, p in pred.items()
    ]
    rows.sort(key=lambda r: -(r["predicted"] - r["true"]))
    big = [r["ratio"] for r in rows if r["predicted"] >= SHARE_MIN and r["country"]]
    named = [r for r in rows if r["country"]]
    return {
        "over_predicted": named[:top],
        "max_ratio": max(big) if big else 0.0,
        "unsure": round(pred.get("", 0.0), 4),
    }


def country_mean_accuracy(pred_cc: Sequence[str], true_cc: Sequence[str]) -> float:
    """Country accuracy averaged over the true countries (each country counts once)."""
    p, t = np.asarray(pred_cc, str), np.asarray(true_cc, str)
    return float(np.mean([np.mean(p[t == c] == c) for c in np.unique(t)]))


def unsure_below(
    model: ErrorModel, radius_km: float = UNSURE_RADIUS_KM, point: Point = Point.MODE
) -> float:
    """The confidence under which answers are unsure: the first bin edge whose radius is
    within ``radius_km`` (1.0 when no bin is); for MAX_MASS_WITHIN, whose confidence is
    the probability of lying within its ``within_km``, at most ``UNSURE_PROBABILITY``."""
    edge = next(
        (
            float(e)
            for e, r in zip(model.confidence, model.radius_km, strict=True)
            if r <= radius_km
        ),
        1.0,
    )
    return min(edge, UNSURE_PROBABILITY) if point is Point.MAX_MASS_WITHIN else edge


def source_metrics(
    ans: Answers, samples: Sequence[Sample], radius: np.ndarray | None = None
) -> dict[str, Any]:
    """The report's figures for one held-out source."""
    tlat, tlon = _coords(samples)
    true_cc = [s.country_code for s in samples]
    out = evaluate(
        ans.lat, ans.lon, tlat, tlon, list(ans.country_code), true_cc, pred_radius_km=radius
    )
    out.pop("admin1_acc"), out.pop("city_acc")
    pred_cc = [str(c) for c in ans.country_code]
    out["country_acc_mean_over_countries"] = country_mean_accuracy(pred_cc, true_cc)
    out["shares"] = answer_shares(pred_cc, true_cc)
    d = np.asarray(haversine_km(ans.lat, ans.lon, tlat, tlon))
    out["confidence_auc"] = auc(ans.confidence, d <= AUC_KM)
    return out


def floor_answers(pred: Sequence[Sample]) -> Answers:
    lat, lon = _coords(pred)
    n = len(pred)
    return Answers(lat, lon, np.array([p.country_code for p in pred], object), np.zeros(n))


MACRO_KEYS = ("geoscore", "country_acc", "country_acc_mean_over_countries", "median_km")


def macro(per_source: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean over sources of acc@km, the country accuracies, GeoScore (and coverage, AUC)."""
    ms = list(per_source.values())
    out: dict[str, Any] = {
        "acc_km": {
            f"{t:g}": float(np.mean([m["acc_km"][f"{t:g}"] for m in ms])) for t in THRESHOLDS_KM
        }
    }
    for key in (*MACRO_KEYS, "within_radius", "confidence_auc", "nll"):
        vals = [m[key] for m in ms if m.get(key) is not None]
        if vals:
            out[key] = float(np.mean(vals))
    out["max_share_ratio"] = max(m["shares"]["max_ratio"] for m in ms)
    return out


# -- the protocol -------------------------------------------------------------------------------
def world_sets(samples: Sequence[Sample]) -> list[str]:
    """The held-out sources: the sets of ``HELD_OUT_SCOPE`` (sorted)."""
    names = sorted({s.set for s in samples if s.scope == HELD_OUT_SCOPE and s.set})
    if not names:
        raise DataError(f"no {HELD_OUT_SCOPE!r} sets to hold out (labels need set and scope)")
    return names


def split_features(
    config: CnnConfig, features: FeatureFn
) -> tuple[list[Sample], np.ndarray, list[Sample], np.ndarray]:
    """The training split of ``config``, its features, the val split and its features:
    what :func:`held_out_folds` holds sources out of."""
    pool = load_samples(config, config.train_split)
    val = load_samples(config, config.val_split)
    return pool, features(pool), val, features(val)


@dataclass(frozen=True)
class HeldOut:
    """One ``world`` source held out: every other photo of the training split (``train``,
    features ``train_f``) and all of that source's photos, its training rows then its val
    rows (``test``, ``test_f``)."""

    name: str
    train: list[Sample]
    train_f: np.ndarray
    test: list[Sample]
    test_f: np.ndarray


def held_out_splits(
    pool: Sequence[Sample], pool_f: np.ndarray, val: Sequence[Sample], val_f: np.ndarray
) -> Iterator[HeldOut]:
    """Each ``world`` source of the training split ``pool`` (features ``pool_f``) and the
    ``val`` split (``val_f``) held out in turn, as :func:`held_out_folds` trains on it."""
    for name in world_sets([*pool, *val]):
        keep = np.array([s.set != name for s in pool])
        yield HeldOut(
            name,
            [s for s, k in zip(pool, keep, strict=True) if k],
            pool_f[keep],
            [s for s in [*pool, *val] if s.set == name],
            np.concatenate([pool_f[~keep], val_f[[s.set == name for s in val]]]),
        )


def held_out_folds(
    config: CnnConfig,
    pool: Sequence[Sample],
    pool_f: np.ndarray,
    val: Sequence[Sample],
    val_f: np.ndarray,
) -> list[Fold]:
    """One fold per ``world`` source: heads trained on every other photo of the training
    split ``pool`` (features ``pool_f``), run on all of that source's photos, its
    training and ``val`` rows."""
    folds: list[Fold] = []
    for h in held_out_splits(pool, pool_f, val, val_f):
        log.info(
            "holding out %s: %d training photos, %d held out", h.name, len(h.train), len(h.test)
        )
        folds.append(build_fold(config, h.name, h.train, h.train_f, h.test, h.test_f))
    return folds


def run_protocol(
    config: CnnConfig,
    features: FeatureFn,
    taus: Sequence[float] = (0.0,),
    same_source: bool = True,
    min_similarities: Sequence[float] = (),
    points: Sequence[Point] = (),
    within_kms: Sequence[float] = (),
    temperature_scales: Sequence[float] = (1.0,),
    select: str = SELECT[0],
    prior_mixes: Sequence[float] = (0.0,),
) -> dict[str, Any]:
    """Leave-one-source-out over the ``world`` sets; returns the report (see module doc).

    ``features`` maps samples to frozen features [N, F]; ``taus``: logit adjustments to
    try, ``min_similarities`` the gallery's thresholds (a Bayes point's gate is chosen
    among them after the point; none: it stays shut), ``points`` the decoding points
    (none: the config's), ``within_kms`` the radii (km) MAX_MASS_WITHIN is tried with
    (none: the config's), ``prior_mixes`` the shares of the training prior a Bayes
    point mixes into its posterior (the temperature is fitted for each) and
    ``temperature_scales`` factors on the temperature fitted out of source (1: the NLL
    fit); the combination with the best macro ``select`` (one of ``SELECT``) is kept
    (ties: the first tried: the smaller tau, mix, scale, the config's threshold, the
    first point and radius)."""
    if not isinstance(config, CnnConfig):
        raise ConfigError("the out-of-source protocol trains classifier heads (model_type cnn)")
    if select not in SELECT:
        raise ConfigError(f"select must be one of {SELECT}, got {select!r}")
    if not temperature_scales or any(not 0.0 < x <= 100.0 for x in temperature_scales):
        raise ConfigError(f"temperature scales must be in (0, 100]: {temperature_scales}")
    if any(not 1.0 <= r <= 20_038.0 for r in within_kms):
        raise ConfigError(f"within_km radii must be in 1..20038 km: {within_kms}")
    if not prior_mixes or any(not 0.0 <= x <= 1.0 for x in prior_mixes):
        raise ConfigError(f"prior mixes must be in 0..1: {prior_mixes}")
    pool, pool_f, val, val_f = split_features(config, features)
    folds = held_out_folds(config, pool, pool_f, val, val_f)
    names = [f.name for f in folds]
    leaves = [leaf_targets(f) for f in folds]

    # logit adjustment, temperature and decoding, out of source
    by_tau: dict[str, Any] = {}
    sims = tuple(min_similarities) if config.gallery and min_similarities else (None,)
    # a Bayes point is chosen with its gallery gate shut (GATE_NEVER), then the gate
    # among ``min_similarities`` (none given: it stays shut)
    gated = config.gallery and bool(min_similarities)
    tried: list[tuple[Point, float]] = []
    for pt in tuple(points) or (Point(config.point),):
        radii = within_kms if pt is Point.MAX_MASS_WITHIN and within_kms else (config.within_km,)
        tried += [(pt, float(r)) for r in radii]
    best = (taus[0], 0.0, sims[0], 1.0, *tried[0])
    best_score: tuple[float, ...] = (-np.inf,)
    for tau, mix in itertools.product(taus, prior_mixes):
        t_fit = fit_temperature(folds, leaves, tau, mix)
        nlls: dict[float, float] = {}
        for scale, sim, (pt, r) in itertools.product(temperature_scales, sims, tried):
            if mix > 0 and pt is Point.MODE:
                continue  # MODE ignores the prior
            if config.gallery and pt is not Point.MODE:
                # a Bayes point is measured as itself: the config's threshold (-1 by
                # default) would gate every photo to the mode's gallery answer
                if sim != sims[0]:
                    continue  # its gate is chosen once the point is (gallery_gate)
                sim = GATE_NEVER
            t = min(t_fit * scale, TEMPERATURE_RANGE[1])
            if t not in nlls:
                nlls[t] = macro_nll(folds, leaves, tau, t, mix)
            per = {
                f.name: source_metrics(decode_fold(f, tau, t, sim, pt, r, mix), f.samples)
                for f in folds
            }
            key = (
                f"{tau:g}"
                + ("" if mix == 0 else f" prior {mix:g}")
                + ("" if scale == 1.0 else f" T x{scale:g}")
                + ("" if sim is None else f" sim {sim:g}")
                + f" {pt.value}"
                + (f" {r:g} km" if pt is Point.MAX_MASS_WITHIN else "")
            )
            m = macro(per)
            m["nll"] = nlls[t]
            by_tau[key] = {
                "temperature": t,
                "prior_mix": mix,
                "min_similarity": sim,
                "point": pt.value,
                "within_km": r,
                "macro": m,
                "per_source": per,  # before the unsure threshold and the radius
            }
            score = selection_score(m, select)
            log.info("%s: %s %s", key, select, score)
            if score > best_score:
                best, best_score = (tau, mix, sim, t, pt, r), score
    tau, prior_mix, sim, temperature, point, within_km = best
    gate = None
    if gated and point is not Point.MODE:
        gate = gallery_gate(folds, tau, temperature, point, within_km, prior_mix, min_similarities)
        sim = gate["chosen"]
    if sim is not None:
        config = replace(config, gallery_min_similarity=sim)
    config = replace(config, point=point.value, within_km=within_km)
    answers = {
        f.name: decode_fold(f, tau, temperature, sim, point, within_km, prior_mix) for f in folds
    }

    # error radius: conformal per confidence bin, each source weighing the same; the
    # coverage of each source is measured with a radius fitted on the other sources
    errors = {
        f.name: np.asarray(
            haversine_km(answers[f.name].lat, answers[f.name].lon, *_coords(f.samples))
        )
        for f in folds
    }

    def fit_on(names_in: Sequence[str]) -> ErrorModel:
        conf = np.concatenate([answers[n].confidence for n in names_in])
        err = np.concatenate([errors[n] for n in names_in])
        w = np.concatenate([np.full(len(errors[n]), 1.0 / len(errors[n])) for n in names_in])
        return fit_error_model(conf, err, w)

    final_model = fit_on(names)
    per_source: dict[str, dict[str, Any]] = {}
    floors: dict[str, dict[str, dict[str, Any]]] = {"medoid": {}, "nn1": {}}
    for f in folds:
        others = fit_on([n for n in names if n != f.name]) if len(names) > 1 else final_model
        ans = answers[f.name]
        radius = np.array([others.radius(c) for c in ans.confidence])
        # unsure (threshold fitted on the other sources) names no country, as the runtime
        unsure = ans.confidence < unsure_below(others, point=point)
        shown = replace(ans, country_code=np.where(unsure, "", ans.country_code).astype(object))
        m = source_metrics(shown, f.samples, radius)
        m["unsure_share"] = float(unsure.mean())
        m["nll"] = posterior_nll(f, leaves[names.index(f.name)], tau, temperature, prior_mix)
        m["coverage_by_confidence"] = coverage_bins(
            others,
            ans.confidence,
            errors[f.name],
            radius,
            within_km if point is Point.MAX_MASS_WITHIN else AUC_KM,
        )
        per_source[f.name] = m
        floors["medoid"][f.name] = source_metrics(
            floor_answers([f.medoid] * len(f.samples)), f.samples
        )
        floors["medoid"][f.name]["point"] = [f.medoid.lat, f.medoid.lon, f.medoid.country_code]
        floors["nn1"][f.name] = source_metrics(floor_answers(f.nn1), f.samples)
        for fl in floors.values():
            fl[f.name].pop("confidence_auc", None)
    threshold = unsure_below(final_model, point=point)
    report: dict[str, Any] = {
        "config": config.to_dict(),
        "held_out": names,
        "tau": tau,
        "gallery_min_similarity": config.gallery_min_similarity,
        "gallery_gate": gate,
        "temperature": temperature,
        "point": point.value,
        "within_km": within_km,
        "prior_mix": prior_mix,
        "select": select,
        "by_tau": by_tau,
        "per_source": per_source,
        "macro": macro(per_source),
        "floors": {k: {"per_source": v, "macro": macro(v)} for k, v in floors.items()},
        "calibration": {
            "logit_adjust_tau": tau,
            "point": point.value,
            "within_km": within_km,
            "prior_mix": prior_mix,
            "temperature": temperature,
            "gallery_min_similarity": config.gallery_min_similarity,
            "error_model": {
                "confidence": list(final_model.confidence),
                "radius_km": list(final_model.radius_km),
            },
            "unsure_below": threshold,
            "fitted_on": f"out-of-source predictions of {', '.join(names)}, "
            "each source weighing the same",
        },
    }
    report["unsure_share"] = {n: per_source[n]["unsure_share"] for n in names}
    report["targets"] = targets_met(report)
    if same_source:
        report["same_source_val"] = same_source_table(
            config,
            pool,
            pool_f,
            val,
            val_f,
            tau,
            temperature,
            point,
            within_km,
            prior_mix,
        )
    return report


def selection_score(macro_metrics: dict[str, Any], select: str) -> tuple[float, ...]:
    """What a choice maximises (``SELECT``) on a macro over held-out sources, compared
    as a tuple (rounded, so that float noise never breaks a tie: the first tried wins):
    "nll" is the negated NLL, then the mean of acc@750 and acc@2500 km among the points
    tried on that posterior."""
    acc = macro_metrics["acc_km"]
    acc_750_2500 = round(0.5 * (float(acc["750"]) + float(acc["2500"])), 9)
    if select == "acc_750_2500":
        return (acc_750_2500,)
    if select == "nll":
        return (round(-float(macro_metrics["nll"]), 6), acc_750_2500)
    return (round(float(macro_metrics["geoscore"]), 6),)


def coverage_bins(
    model: ErrorModel,
    confidence: np.ndarray,
    error_km: np.ndarray,
    radius: np.ndarray,
    hit_km: float = AUC_KM,
) -> list[dict[str, Any]]:
    """Per confidence bin of ``model``: photos, radius (km), the share within it, and the
    mean confidence beside the share within ``hit_km`` (a confidence that is the
    probability of lying within ``hit_km`` should match it)."""
    edges = list(model.confidence)
    upper = [*edges[1:], np.inf]
    rows = []
    for lo, hi, r in zip(edges, upper, model.radius_km, strict=True):
        m = (confidence >= lo) & (confidence < hi)
        rows.append(
            {
                "from": lo,
                "n": int(m.sum()),
                "radius_km": r,
                "within": float(np.mean(error_km[m] <= radius[m])) if m.any() else None,
                "mean_confidence": float(np.mean(confidence[m])) if m.any() else None,
                f"within_{hit_km:g}_km": float(np.mean(error_km[m] <= hit_km)) if m.any() else None,
            }
        )
    return rows


def targets_met(report: dict[str, Any]) -> dict[str, Any]:
    """Which held-out sources miss each target (empty lists: met everywhere)."""
    per = report["per_source"]
    fl = report["floors"]
    beats = {
        f"beats_floors_{km}km": [
            n
            for n, m in per.items()
            if not all(
                m["acc_km"][km] > fl[k]["per_source"][n]["acc_km"][km] for k in ("medoid", "nn1")
            )
        ]
        for km in ("750", "2500")
    }
    return {
        "misses": {
            **beats,
            "radius_coverage_60_76": [
                n for n, m in per.items() if not 0.60 <= m["within_radius"] <= 0.76
            ],
            "share_at_most_twice": [n for n, m in per.items() if m["shares"]["max_ratio"] > 2.0],
        }
    }


def same_source_table(
    config: CnnConfig,
    pool: list[Sample],
    pool_f: np.ndarray,
    val: list[Sample],
    val_f: np.ndarray,
    tau: float,
    temperature: float,
    point: Point | None = None,
    within_km: float | None = None,
    prior_mix: float = 0.0,
) -> dict[str, Any]:
    """Secondary: trained on every training photo, measured on the ``world`` val photos."""
    keep = np.array([s.scope == HELD_OUT_SCOPE for s in val])
    test = [s for s, k in zip(val, keep, strict=True) if k]
    fold = build_fold(config, "same-source", pool, pool_f, test, val_f[keep])
    ans = decode_fold(
        fold,
        tau,
        temperature,
        point=point,
        within_km=within_km,
        prior_mix=prior_mix,
    )
    out: dict[str, Any] = {}
    for name in sorted({s.set for s in test}):
        m = np.array([s.set == name for s in test])
        sub = Answers(ans.lat[m], ans.lon[m], ans.country_code[m], ans.confidence[m])
        out[name] = source_metrics(sub, [s for s, k in zip(test, m, strict=True) if k])
    return out


# -- the report's Markdown --------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def _row(label: str, m: dict[str, Any]) -> str:
    accs = " | ".join(_pct(m["acc_km"][f"{t:g}"]) for t in THRESHOLDS_KM)
    return (
        f"| {label} | {accs} | {_pct(m['country_acc'])} | "
        f"{_pct(m['country_acc_mean_over_countries'])} | {m['geoscore']:.0f} | "
        f"{_pct(m.get('within_radius'))} | "
        f"{'' if m.get('confidence_auc') is None else format(m['confidence_auc'], '.2f')} | "
        f"{m['shares']['max_ratio'] if 'shares' in m else m.get('max_share_ratio', '')} |"
    )


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables: out-of-source per source (model and floors), macro,
    share of answers, coverage per confidence bin, the same-source table."""
    head = (
        "| | "
        + " | ".join(f"@{t:g} km" for t in THRESHOLDS_KM)
        + " | country | country (mean over countries) | GeoScore | within radius | AUC "
        + f"@{AUC_KM} | max share ratio |\n|"
        + "---|" * 13
    )
    lines = [
        f"# Out-of-source report: {report['config']['name']}",
        "",
        f"Each `world` source held out in turn; logit adjustment tau {report['tau']:g}, "
        f"gallery similarity threshold {report['gallery_min_similarity']:g}, "
        f"temperature {report['temperature']:.3f}, decoding point "
        f"{report.get('point', Point.MODE.value)}"
        + (
            f" within {report['within_km']:g} km"
            if report.get("point") == Point.MAX_MASS_WITHIN.value
            else ""
        )
        + f", prior mix {report.get('prior_mix', 0.0):g}"
        + (
            ", all chosen out of source: the posterior by the lowest macro NLL of the true "
            "places, then the point by the macro mean of acc@750 and acc@2500 km."
            if report.get("select") == "nll"
            else f", all chosen out of source on the macro {report.get('select', SELECT[0])}."
        ),
        "",
        "## Held out, per source",
        "",
        head,
    ]
    for name in report["held_out"]:
        m = report["per_source"][name]
        nll = f" (NLL {m['nll']:.2f})" if "nll" in m else ""
        lines.append(_row(f"**{name}** model{nll}", m))
        for k in ("medoid", "nn1"):
            lines.append(_row(f"{name} floor {k}", report["floors"][k]["per_source"][name]))
    lines.append(
        _row(
            "**macro** model"
            + (f" (NLL {report['macro']['nll']:.2f})" if "nll" in report["macro"] else ""),
            {**report["macro"], "shares": {"max_ratio": report["macro"]["max_share_ratio"]}},
        )
    )
    for k in ("medoid", "nn1"):
        mm = report["floors"][k]["macro"]
        lines.append(
            _row(f"macro floor {k}", {**mm, "shares": {"max_ratio": mm["max_share_ratio"]}})
        )
    lines += [
        "",
        "## Share of answers (top over-predicted countries: predicted / true share)",
        "",
        "An answer less confident than the unsure threshold (fitted on the other sources) "
        "names no country, as the runtime shows it: it counts as a wrong country and in no "
        "country's share; shares are of all answers.",
        "",
    ]
    for name in report["held_out"]:
        shares = report["per_source"][name]["shares"]
        text = ", ".join(
            f"{r['country']} {_pct(r['predicted'])} / {_pct(r['true'])}"
            for r in shares["over_predicted"]
        )
        lines.append(f"- {name}: {text}; unsure {_pct(shares.get('unsure', 0.0))}")
    lines += [
        "",
        "## Radius coverage per confidence bin (radius fitted on the other sources; the share "
        "within the point's km beside the mean confidence: is the confidence a probability?)",
        "",
    ]
    for name in report["held_out"]:
        bins = report["per_source"][name]["coverage_by_confidence"]
        text = "; ".join(
            f"from {b['from']:.3f}: {b['n']} photos, ±{b['radius_km']:.0f} km, {_pct(b['within'])}"
            + "".join(
                f", {k.removeprefix('within_').replace('_', ' ')} {_pct(v)}"
                for k, v in b.items()
                if k.startswith("within_") and v is not None
            )
            + (
                ""
                if b.get("mean_confidence") is None
                else f" (mean confidence {b['mean_confidence']:.2f})"
            )
            for b in bins
        )
        lines.append(f"- {name}: {text}")
    lines += [
        "",
        *gate_lines(report.get("gallery_gate")),
        "## Logit adjustment, gallery threshold and decoding point tried (macro)",
        "",
        head,
    ]
    for tau, v in report["by_tau"].items():
        m = v["macro"]
        lines.append(
            _row(
                f"tau {tau}, temperature {v['temperature']:.2f}"
                + (f", NLL {m['nll']:.3f}" if "nll" in m else ""),
                {**m, "shares": {"max_ratio": m["max_share_ratio"]}},
            )
        )
    lines += [
        "",
        "## Targets missed (held-out sources)",
        "",
        "```",
        json.dumps(report["targets"]["misses"], indent=1),
        "```",
    ]
    if "same_source_val" in report:
        lines += [
            "",
            "## Secondary: same-source val (world val photos, trained on all sets)",
            "",
            head,
        ]
        for name, m in report["same_source_val"].items():
            lines.append(_row(name, m))
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: Path) -> None:
    """``report.json``, ``report.md`` and ``calibration.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (out / "report.md").write_text(markdown(report), encoding="utf-8")
    (out / "calibration.json").write_text(
        json.dumps(report["calibration"], indent=1), encoding="utf-8"
    )


def features_from_file(path: Path) -> FeatureFn:
    """Features looked up by photo path in an ``.npz`` of ``paths`` [N] and ``features``
    [N, F] (e.g. a bundle encoder's pooled features): DataError for a photo it lacks."""
    try:
        with np.load(path, allow_pickle=False) as data:
            paths = [str(Path(p).resolve()) for p in data["paths"]]
            feats = data["features"].astype(np.float32)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"unreadable features file {path}: {e}") from e
    index = {p: i for i, p in enumerate(paths)}

    def lookup(samples: Sequence[Sample]) -> np.ndarray:
        try:
            return feats[[index[str(Path(s.path).resolve())] for s in samples]]
        except KeyError as e:
            raise DataError(f"{path} has no features of {e.args[0]}") from e

    return lookup


def gate_lines(gate: dict[str, Any] | None) -> list[str]:
    """The gallery gate's table (``gallery_gate``): per threshold and source, the photos
    taken and how often the gallery's and the Bayes point's answers to them are right."""
    if not gate:
        return []
    chosen = gate["chosen"]
    lines = [
        "## Gallery gate of the Bayes point (held out, per source)",
        "",
        f"Chosen: {chosen:g} (the lowest threshold that passes with every higher one; "
        f"{GATE_NEVER:g}: only identical photos; passes: on every source the gated answers "
        "are right within 750 and 2500 km at least as often as the Bayes point's to the "
        "same photos). Right answers: gallery / Bayes point.",
        "",
        "| threshold | source | taken | "
        + " | ".join(f"right @{km} km" for km in GATE_KM)
        + " | passes |",
        "|---|---|---|" + "---|" * len(GATE_KM) + "---|",
    ]
    for key, row in gate["by_threshold"].items():
        for name, r in row["per_source"].items():
            rights = " | ".join(
                f"{r[f'gallery_right_{km}']} / {r[f'bayes_right_{km}']}" for km in GATE_KM
            )
            passes = row.get("passes")
            lines.append(
                f"| {key} | {name} | {r['taken']} of {r['photos']} | {rights} | "
                f"{'' if passes is None else 'yes' if passes else 'no'} |"
            )
    return [*lines, ""]


def _numbers(text: str, flag: str) -> tuple[float, ...]:
    """Comma-separated numbers of a command-line ``flag`` (ConfigError otherwise)."""
    try:
        return tuple(float(t) for t in str(text).split(",") if t.strip())
    except ValueError as e:
        raise ConfigError(f"{flag} must be comma-separated numbers: {text!r}") from e


def run(args: argparse.Namespace) -> int:
    from geoscope_core.training.config import load_config

    config = load_config("cnn", args.config, args.overrides)
    if not isinstance(config, CnnConfig):
        raise ConfigError("the protocol needs a cnn config")
    if args.features is not None:
        features = features_from_file(args.features)
    else:
        from geoscope_core.training.baselines import frozen_features

        def features(samples: Sequence[Sample]) -> np.ndarray:
            return frozen_features(config, samples)

    taus = _numbers(args.taus, "--taus")
    sims = _numbers(args.gallery_min_sims, "--gallery-min-sims")
    try:
        points = tuple(Point(p.strip()) for p in str(args.points).split(",") if p.strip())
    except ValueError as e:
        raise ConfigError(f"--points must be among {[p.value for p in Point]}: {e}") from e
    within = _numbers(args.within_km, "--within-km")
    scales = _numbers(args.temperature_scales, "--temperature-scales") or (1.0,)
    mixes = _numbers(args.prior_mixes, "--prior-mixes") or (0.0,)
    report = run_protocol(
        config,
        features,
        taus or (0.0,),
        not args.no_same_source,
        sims,
        points,
        within,
        scales,
        args.select,
        mixes,
    )
    write_report(report, args.out)
    sys.stdout.write(markdown(report))
    return 0
