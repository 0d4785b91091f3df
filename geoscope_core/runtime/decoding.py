"""The one decoder: an image encoder's outputs -> per-level logits -> a Prediction.

Training's evaluation, the exporter's validation and the runtime all decode
through this module; its parameters are the bundle manifest's ``DecodingSpec``.

* Per level, logits: zero-shot bundles score the image embedding against the
  level's text embeddings (``logit_scale * <image, text>``); classifier bundles
  read the level's logits output.
* The *chain* is the decoding level (``DecodingSpec.level``, default the last
  level) and its ancestors through ``LevelSpec.parent``. Top-down beam search
  over the chain: the top level's probabilities are ``softmax(logits /
  temperature)``; each of the ``beam`` best hypotheses is expanded into its
  children at the next level with ``P(child) = P(parent) * softmax over the
  siblings``; a hypothesis whose place has no children at that level stays as
  it is. Probabilities are therefore joint, calibrated through the fitted
  ``temperature``, and comparable across hypotheses.
* Location (:func:`refine_point`): the best hypothesis's place (``refine`` TOP)
  or the probability-weighted spherical mean of the ``refine_k`` best
  hypotheses within ``refine_radius_km`` of it (WEIGHTED).
* ``point`` other than MODE (:class:`BayesPoint`): the Bayes decision for a distance
  loss. The full posterior over the chain's leaves (every finest-level place, and any
  coarser place without children) is computed in one vectorised pass, and the answer
  is the leaf place minimising the expected great-circle distance
  (MIN_EXPECTED_DISTANCE), maximising the expected GeoScore (MAX_EXPECTED_GEOSCORE)
  or the posterior mass within ``within_km`` of it (MAX_MASS_WITHIN: the Bayes
  decision for the 0/1 loss "farther than ``within_km``", ties to the smaller expected
  distance) under it: a central place between the likely regions (or the densest
  region of the places) when the posterior is flat, the mode when it is peaked. With
  ``prior_mix``, the place is chosen on the posterior mixed with the training prior,
  so a flat one answers where the training photos are; its confidence and radius stay
  the photo's own posterior's (a trip of photos weighs each photo's own evidence and
  would count a prior in the confidences once per photo). When
  that place is the mode's, ``refine`` and the gallery apply as for MODE; otherwise the
  answer is that place, named as itself, with its own posterior probability as the
  confidence. The gallery gate: when the photo's most similar gallery photo inside the
  mode's ``gallery_top_cells`` is at least ``gallery_min_similarity`` similar (a near
  copy of a training photo), the photo answers as if the Bayes point were the mode: the
  gallery photo's place (MAX_MASS_WITHIN's confidence is the posterior mass within
  ``within_km`` of the mode); ``gallery_min_similarity`` -1 gates every photo, 1 only
  identical ones. A Bayes point that is the mode is refined by the gallery whatever the
  similarity, as MODE with -1.
* ``confidence`` = the chosen hypothesis's probability (MAX_MASS_WITHIN: the
  posterior mass within ``within_km`` of the answer, the probability that it is that
  close; the alternatives keep their own). ``radius_km``:
  the radius of its confidence bin in ``manifest.error_model`` when present, else the
  probability-weighted mean distance of the top-k candidates from the chosen
  point (a Bayes point: the distance holding 68% of the posterior), at least
  ``min_radius_km``. Each alternative in ``top_k`` has its own
  radius by the same rule, from its own confidence and point.
* Names: ``geo.places.place_point`` of each candidate's point with the names of
  the chain's ``country``/``admin1``/``city`` labels (or the finest label's
  country code) as the hint: a point outside the label's country is moved to
  that country's city nearest to it, and the point is named by the place that
  contains it, so a point always lies in the place it names.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from geoscope_core.errors import BundleError
from geoscope_core.geo.distance import haversine_km, spherical_mean
from geoscope_core.geo.places import PlaceNames, place_points
from geoscope_core.metrics import GEOSCORE_MAX, GEOSCORE_SCALE_KM
from geoscope_core.prediction import Candidate, Prediction, Source
from geoscope_core.runtime.gallery import Gallery
from geoscope_core.runtime.manifest import (
    IMAGE_ENCODER,
    BundleKind,
    DecodingSpec,
    Manifest,
    Point,
    PreprocessSpec,
    Refine,
    level_specs,
)

if TYPE_CHECKING:
    from geoscope_core.runtime.bundle import Bundle

NAMED_LEVELS = ("country", "admin1", "city")

#: A label row as bundles store them: {id, name, parent, lat, lon, population, country_code}.
LabelRow = Mapping[str, object]

#: Most leaf places a Bayes point is searched over (its distance matrix is [N, N]).
MAX_BAYES_PLACES = 4096
#: Share of the posterior the radius of a Bayes point holds without an error model.
POSTERIOR_COVERAGE = 0.68
#: MAX_MASS_WITHIN's tie-break: loss per km of distance, so small (at most 2e-5 over the
#: Earth's half circumference) that it only orders places holding the same mass.
TIE_BREAK_PER_KM = 1e-9


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (float64 in, float64 out)."""
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def refine_point(
    lats: np.ndarray, lons: np.ndarray, probs: np.ndarray, spec: DecodingSpec
) -> tuple[float, float]:
    """The estimate's point (degrees) from candidates sorted best first: ``lats``/``lons``
    [K] degrees, ``probs`` [K]. TOP: the best; WEIGHTED: the probability-weighted
    spherical mean of the first ``spec.refine_k`` that lie within
    ``spec.refine_radius_km`` of the best (far candidates never drag the answer
    between two regions)."""
    lat, lon = float(lats[0]), float(lons[0])
    if spec.refine is Refine.TOP or len(lats) < 2:
        return lat, lon
    k = min(spec.refine_k, len(lats))
    d = np.asarray(haversine_km(lat, lon, lats[:k], lons[:k]))
    keep = d <= spec.refine_radius_km
    return spherical_mean(lats[:k][keep], lons[:k][keep], probs[:k][keep])


@dataclass(frozen=True)
class LevelTable:
    """Decoding tables of one level: label rows, coordinates (degrees), children per parent,
    and where its logits come from (``embeddings`` float32 [N, D] of a zero-shot level,
    or the classifier ``output`` name)."""

    name: str
    rows: Sequence[LabelRow]
    lat: np.ndarray  # [N] degrees
    lon: np.ndarray  # [N] degrees
    embeddings: np.ndarray | None
    output: str | None
    children: dict[str, np.ndarray]  # parent label id -> indices into this level


@dataclass
class _Hyp:
    prob: float
    nodes: dict[str, int]  # level name -> label index
    deepest: str  # level name of the finest node


@dataclass(frozen=True)
class _Plan:
    """One image's decoding before naming: its ``top_k`` hypotheses, their coordinates
    [K, 2] and probabilities [K] (degrees), and the points to name (point, hint)."""

    hyps: list[_Hyp]
    coords: np.ndarray
    probs: np.ndarray
    points: list[tuple[float, float, PlaceNames]]
    #: a Bayes point other than the mode answers with this radius (km) where the bundle
    #: has no error model
    chosen_radius_km: float | None = None
    #: MAX_MASS_WITHIN: the answer's confidence is the posterior mass within
    #: ``within_km`` of it (the probability that it is that close), not its own
    chosen_confidence: float | None = None


@dataclass(frozen=True)
class _Choice:
    """A Bayes point's answer: its place (None: the mode's, refined as MODE), the radius
    (km) holding ``POSTERIOR_COVERAGE`` of the posterior around it (None: the mode's
    rule) and, for MAX_MASS_WITHIN, its confidence (the mass within ``within_km``)."""

    hyp: _Hyp | None
    radius_km: float | None
    confidence: float | None


class BayesPoint:
    """The posterior over a chain's leaves and the Bayes point for a distance loss.

    Leaves: every place of the finest chain level, and every coarser place without
    children at the next level. ``parents[i]`` [N_i] maps level ``i``'s places to their
    parent's index at level ``i - 1`` (-1: none). ``distance_km`` [L, L] between the
    leaves is computed once; the loss matrix is the distance (MIN_EXPECTED_DISTANCE),
    minus the GeoScore (MAX_EXPECTED_GEOSCORE) or ``distance > within_km`` (km;
    MAX_MASS_WITHIN, plus ``TIE_BREAK_PER_KM`` times the distance). With ``prior``
    [N] over the finest chain level's places and ``prior_mix`` > 0, the place is chosen
    on ``(1 - prior_mix) * posterior + prior_mix * prior`` (:meth:`mixed`; coarser
    leaves: prior 0)."""

    def __init__(
        self,
        chain: Sequence[LevelTable],
        point: Point,
        within_km: float = DecodingSpec.within_km,
        prior: Sequence[float] = (),
        prior_mix: float = 0.0,
    ) -> None:
        self.chain = tuple(chain)
        self.parents: list[np.ndarray] = [np.full(len(chain[0].rows), -1, np.int64)]
        for up, level in itertools.pairwise(chain):
            index = {str(r["id"]): i for i, r in enumerate(up.rows)}
            self.parents.append(
                np.array([index.get(str(r.get("parent")), -1) for r in level.rows], np.int64)
            )
        # per level below the top: its places with a parent, sorted by parent (order),
        # where each parent's run starts in that order, and the parent of each run
        self._siblings: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [
            (np.zeros(0, np.int64),) * 3
        ]
        for pidx in self.parents[1:]:
            order = np.flatnonzero(pidx >= 0)
            order = order[np.argsort(pidx[order], kind="stable")]
            starts = np.flatnonzero(np.diff(pidx[order], prepend=-1) != 0)
            self._siblings.append((order, starts, pidx[order][starts]))
        leaves: list[tuple[int, int]] = []
        for i, level in enumerate(self.chain):
            has_kids = (
                np.zeros(len(level.rows), bool)
                if i == len(self.chain) - 1
                else np.isin(np.arange(len(level.rows)), self.parents[i + 1])
            )
            leaves += [(i, int(j)) for j in np.flatnonzero(~has_kids)]
        if len(leaves) > MAX_BAYES_PLACES:
            raise BundleError(
                f"decoding point {point.value!r} searches at most {MAX_BAYES_PLACES} places, "
                f"the levels have {len(leaves)}"
            )
        self.leaves = np.array(leaves, np.int64).reshape(-1, 2)
        self._leaf_of = {leaf: k for k, leaf in enumerate(leaves)}
        offsets = np.cumsum([0] + [len(level.rows) for level in self.chain])
        self._flat = offsets[self.leaves[:, 0]] + self.leaves[:, 1]  # into all levels' probs
        lat = np.array([self.chain[i].lat[j] for i, j in leaves])
        lon = np.array([self.chain[i].lon[j] for i, j in leaves])
        self.lat, self.lon = lat, lon
        self.prior_mix = float(prior_mix)
        self.prior = np.zeros(len(leaves))
        if self.prior_mix > 0:
            finest = chain[-1]
            if len(prior) != len(finest.rows):
                raise BundleError(
                    f"decoding prior has {len(prior)} places, level {finest.name!r} "
                    f"{len(finest.rows)}"
                )
            last = self.leaves[:, 0] == len(chain) - 1
            self.prior[last] = np.asarray(prior, np.float64)[self.leaves[last, 1]]
            self.prior /= max(float(self.prior.sum()), 1e-12)
        self.distance_km = np.asarray(
            haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
        )
        if point is Point.MIN_EXPECTED_DISTANCE:
            self.loss = self.distance_km
        elif point is Point.MAX_MASS_WITHIN:
            far = (self.distance_km > within_km).astype(np.float64)
            self.loss = far + TIE_BREAK_PER_KM * self.distance_km
        else:
            self.loss = -GEOSCORE_MAX * np.exp(-self.distance_km / GEOSCORE_SCALE_KM)

    def posterior(self, logits: Mapping[str, np.ndarray], temperature: float) -> np.ndarray:
        """The photo's own joint probabilities of the leaves, [L] for one photo's logits
        ({level: [n_level]}) or [N, L] for N photos' ({level: [N, n_level]}): softmax of
        the top level, then each place's probability split among its children by their
        softmax among siblings. Not mixed with the prior (see :meth:`mixed`)."""
        probs: list[np.ndarray] = []
        for i, level in enumerate(self.chain):
            z = np.asarray(logits[level.name], np.float64) / temperature
            if i == 0:
                probs.append(softmax(z))
                continue
            order, starts, groups = self._siblings[i]
            if not len(order):  # no place of this level has a parent in the chain
                probs.append(np.zeros_like(z))
                continue
            zs = z[..., order]  # children of one parent side by side
            counts = np.diff(np.append(starts, len(order)))
            gmax = np.maximum.reduceat(zs, starts, axis=-1)
            e = np.exp(zs - np.repeat(gmax, counts, axis=-1))
            share = probs[-1][..., groups] / np.add.reduceat(e, starts, axis=-1)
            p = np.zeros_like(z)
            p[..., order] = np.repeat(share, counts, axis=-1) * e
            probs.append(p)
        return np.concatenate(probs, axis=-1)[..., self._flat]

    def mixed(self, post: np.ndarray) -> np.ndarray:
        """The posterior ``post`` [..., L] the answer is decided on: mixed with the prior
        (itself without one). Only the choice of the place uses it: the confidence and
        radius are the photo's own posterior's, so a folder of photos weighed together
        never counts the training prior once per photo."""
        if self.prior_mix <= 0:
            return post
        return (1.0 - self.prior_mix) * post + self.prior_mix * self.prior

    def choose(self, probs: np.ndarray) -> int:
        """The leaf minimising the expected loss under ``probs`` [L]."""
        return int(np.argmin(self.loss @ probs))

    def nodes(self, leaf: int) -> dict[int, int]:
        """The leaf's place and its ancestors: chain level position -> label index."""
        i, j = (int(x) for x in self.leaves[leaf])
        out = {i: j}
        while i > 0 and (j := int(self.parents[i][j])) >= 0:
            i -= 1
            out[i] = j
        return out

    def leaf_of(self, level: int, index: int) -> int:
        """The leaf of the place ``index`` of chain level position ``level`` (BundleError
        when that place has children: it is no leaf)."""
        try:
            return self._leaf_of[(level, index)]
        except KeyError as e:
            raise BundleError(f"place {index} of chain level {level} is not a leaf") from e

    def mass_within(self, leaf: int, probs: np.ndarray, km: float) -> float:
        """The share of the posterior ``probs`` [L] within ``km`` of the leaf."""
        return float(probs[self.distance_km[leaf] <= km].sum() / max(float(probs.sum()), 1e-12))

    def radius(self, leaf: int, probs: np.ndarray) -> float:
        """The distance (km) from the leaf within which ``POSTERIOR_COVERAGE`` of the
        posterior ``probs`` [L] lies."""
        d = self.distance_km[leaf]
        order = np.argsort(d)
        cum = np.cumsum(probs[order]) / max(float(probs.sum()), 1e-12)
        return float(d[order][min(int(np.searchsorted(cum, POSTERIOR_COVERAGE)), len(d) - 1)])


class Decoder:
    """Decodes per-level logits with a manifest's levels, temperature, error model and
    ``DecodingSpec``. Build with :meth:`from_bundle` (runtime) or :meth:`from_tables`
    (a bundle being exported, or training's own label sets)."""

    def __init__(
        self,
        manifest: Manifest,
        tables: dict[str, LevelTable],
        model_id: str = "",
        gallery: Gallery | None = None,
    ) -> None:
        self.manifest = manifest
        self.spec = manifest.decoding
        self.model_id = model_id
        self._levels = tables
        self._gallery = gallery
        chain = [manifest.level(manifest.decoding_level).name]
        while (parent := manifest.level(chain[0]).parent) is not None:
            if parent in chain:
                raise BundleError(f"level hierarchy has a cycle at {parent!r}")
            chain.insert(0, parent)
        self.chain: tuple[str, ...] = tuple(chain)
        for name in chain:
            table = tables.get(name)
            if table is None:
                raise BundleError(f"no labels for level {name!r}")
            if manifest.kind is BundleKind.ZERO_SHOT and table.embeddings is None:
                raise BundleError(f"zero-shot level {name!r} has no label embeddings")
            if manifest.kind is BundleKind.CLASSIFIER and table.output is None:
                raise BundleError(f"classifier level {name!r} names no encoder output")
        self._bayes = (
            None
            if self.spec.point is Point.MODE
            else BayesPoint(
                [tables[n] for n in self.chain],
                self.spec.point,
                self.spec.within_km,
                self.spec.prior,
                self.spec.prior_mix,
            )
        )

    @classmethod
    def from_tables(
        cls,
        manifest: Manifest,
        rows: Mapping[str, Sequence[LabelRow]],
        embeddings: Mapping[str, np.ndarray] | None = None,
        model_id: str = "",
    ) -> Decoder:
        """A decoder over label ``rows`` per level (and float32 [N, D] ``embeddings`` per
        level of a zero-shot manifest), without reading any file."""
        tables: dict[str, LevelTable] = {}
        for spec in manifest.levels:
            level_rows = rows[spec.name]
            groups: dict[str, list[int]] = {}
            for i, r in enumerate(level_rows):
                groups.setdefault(str(r.get("parent")), []).append(i)
            emb = (embeddings or {}).get(spec.name)
            tables[spec.name] = LevelTable(
                name=spec.name,
                rows=level_rows,
                lat=np.array([float(r["lat"]) for r in level_rows]),  # type: ignore[arg-type]
                lon=np.array([float(r["lon"]) for r in level_rows]),  # type: ignore[arg-type]
                embeddings=None if emb is None else np.asarray(emb, dtype=np.float32),
                output=spec.output,
                children={k: np.asarray(v, dtype=np.int64) for k, v in groups.items()},
            )
        return cls(manifest, tables, model_id)

    @classmethod
    def for_labels(
        cls,
        kind: BundleKind,
        rows: Mapping[str, Sequence[LabelRow]],
        embeddings: Mapping[str, np.ndarray] | None = None,
        *,
        logit_scale: float = 1.0,
        decoding: DecodingSpec | None = None,
    ) -> Decoder:
        """A decoder over label ``rows`` per level (top first) as an exported bundle of
        ``kind`` would hold them (``manifest.level_specs``), with temperature 1 and no
        error model: how training measures a model before it is a bundle."""
        emb = dict(embeddings or {})
        dim = next((int(e.shape[1]) for e in emb.values()), 0)
        manifest = Manifest(
            name="in-memory",
            kind=kind,
            input=PreprocessSpec(),
            levels=level_specs(kind, rows),
            files={IMAGE_ENCODER: ""},
            embedding_dim=dim,
            logit_scale=logit_scale,
            decoding=decoding or DecodingSpec(),
        )
        return cls.from_tables(manifest, rows, emb)

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> Decoder:
        """The decoder of a loaded bundle (its labels and, zero-shot, label embeddings)."""
        m = bundle.manifest
        rows = {lv.name: bundle.labels(lv.name) for lv in m.levels}
        emb = (
            {lv.name: bundle.embeddings(lv.name) for lv in m.levels}
            if m.kind is BundleKind.ZERO_SHOT
            else None
        )
        decoder = cls.from_tables(m, rows, emb, bundle.model_id)
        return decoder.with_gallery(bundle.gallery())

    def with_manifest(self, manifest: Manifest) -> Decoder:
        """The same label tables (and gallery) decoded with another manifest's temperature,
        error model and decoding (the exporter's trials, in memory)."""
        return Decoder(manifest, self._levels, self.model_id, self._gallery)

    def with_gallery(self, gallery: Gallery | None) -> Decoder:
        """The same decoder refining with ``gallery`` (used while the spec names one)."""
        return Decoder(self.manifest, self._levels, self.model_id, gallery)

    @property
    def gallery(self) -> Gallery | None:
        """The gallery the answers are refined with: None unless the spec names one."""
        return self._gallery if self.spec.gallery is not None else None

    def table(self, level: str) -> LevelTable:
        """The decoding table of ``level`` (BundleError for an unknown level)."""
        if level not in self._levels:
            raise BundleError(f"no level {level!r}")
        return self._levels[level]

    # -- logits ---------------------------------------------------------------------------
    def output_names(self) -> list[str]:
        """Encoder outputs the chain needs besides the embedding (classifier logits)."""
        if self.manifest.kind is BundleKind.ZERO_SHOT:
            return []
        return [str(self._levels[n].output) for n in self.chain]

    def logits(self, outputs: Mapping[str, np.ndarray], embedding: str) -> dict[str, np.ndarray]:
        """Per chain level logits float [N, n_labels] from the encoder ``outputs``."""
        m = self.manifest
        out: dict[str, np.ndarray] = {}
        for name in self.chain:
            table = self._levels[name]
            if m.kind is BundleKind.ZERO_SHOT:
                emb = np.asarray(outputs[embedding], dtype=np.float32)
                out[name] = m.logit_scale * (emb @ table.embeddings.T)  # type: ignore[union-attr]
            else:
                out[name] = np.asarray(outputs[str(table.output)], np.float32)
        return out

    def decode_many(
        self, logits: Mapping[str, np.ndarray], embeddings: np.ndarray | None = None
    ) -> list[Prediction]:
        """One Prediction per row of per-level logits {level: [N, n_level]}; with the
        encoder's ``embeddings`` [N, D], refined by the gallery when there is one. The
        points of every row are named in one vectorised reverse geocode."""
        n = len(next(iter(logits.values())))
        gallery = self.gallery
        queries = gallery.project(embeddings) if gallery and embeddings is not None else None
        plans = [
            self._decide(
                {k: v[i] for k, v in logits.items()}, None if queries is None else queries[i]
            )
            for i in range(n)
        ]
        return self._finish_many(plans)

    def _finish_many(self, plans: list[_Plan]) -> list[Prediction]:
        raw = [pt for plan in plans for pt in plan.points]
        named = place_points([p[0] for p in raw], [p[1] for p in raw], [p[2] for p in raw])
        out, at = [], 0
        for plan in plans:
            out.append(self._finish(plan, named[at : at + len(plan.points)]))
            at += len(plan.points)
        return out

    # -- decoding -------------------------------------------------------------------------
    def decode(
        self, logits: Mapping[str, np.ndarray], query: np.ndarray | None = None
    ) -> Prediction:
        """Decode one image's per-level logits ({level: [n_level]}) into a Prediction; with
        its gallery-space ``query`` [G] (``Gallery.project``) and a gallery, the location
        is that of the most similar gallery photo inside the most likely cells."""
        return self._finish_many([self._decide(logits, query)])[0]

    def _decide(self, logits: Mapping[str, np.ndarray], query: np.ndarray | None) -> _Plan:
        """One image's plan from its per-level logits and gallery-space ``query``: the
        gallery photo nearest the query inside its hypotheses' cells is searched once, for
        the Bayes point's gallery gate and for the refinement both."""
        hyps = self._hypotheses(logits)
        near = None if query is None else self._nearest(hyps, query)
        return self._plan(hyps, near, self._bayes_choice(logits, hyps, near))

    def _hypotheses(self, logits: Mapping[str, np.ndarray]) -> list[_Hyp]:
        """The best hypotheses of one image's per-level logits, most probable first."""
        spec, t = self.spec, self.manifest.temperature
        top = self._levels[self.chain[0]]
        probs = softmax(np.asarray(logits[top.name], np.float64) / t)
        order = np.argsort(-probs)[: max(spec.beam, spec.top_k)]
        hyps = [_Hyp(float(probs[i]), {top.name: int(i)}, top.name) for i in order]
        for name in self.chain[1:]:
            level = self._levels[name]
            lg = np.asarray(logits[name], np.float64) / t
            hyps.sort(key=lambda h: -h.prob)
            expanded: list[_Hyp] = []
            for h in hyps[: spec.beam]:
                parent_row = self._levels[h.deepest].rows[h.nodes[h.deepest]]
                kids = level.children.get(str(parent_row["id"]))
                if kids is None:
                    expanded.append(h)
                    continue
                p = softmax(lg[kids])
                for k, pk in zip(kids, p, strict=True):
                    expanded.append(_Hyp(h.prob * float(pk), {**h.nodes, name: int(k)}, name))
            hyps = expanded
        hyps.sort(key=lambda h: -h.prob)
        keep = max(spec.top_k, spec.refine_k, spec.gallery_top_cells, 1)
        return hyps[:keep]

    def gallery_similarity(
        self, logits: Mapping[str, np.ndarray], embeddings: np.ndarray
    ) -> np.ndarray:
        """Per photo of per-level logits {level: [N, n_level]} and encoder ``embeddings``
        [N, D], the cosine similarity float [N] of its most similar gallery photo inside
        the mode's ``gallery_top_cells`` (what the gallery gate compares with
        ``gallery_min_similarity``); NaN where there is no gallery or no photo there."""
        n = len(next(iter(logits.values())))
        out = np.full(n, np.nan)
        gallery = self.gallery
        if gallery is None:
            return out
        queries = gallery.project(embeddings)
        for i in range(n):
            near = self._nearest(self._hypotheses({k: v[i] for k, v in logits.items()}), queries[i])
            if near is not None:
                out[i] = near[1]
        return out

    def _nearest(self, hyps: list[_Hyp], query: np.ndarray) -> tuple[int, float] | None:
        """The gallery photo most like ``query`` inside the cells of ``hyps`` (index,
        cosine similarity); None without a gallery or a gallery photo there."""
        gallery, finest = self.gallery, self.chain[-1]
        if gallery is None:
            return None
        return gallery.nearest(query, (h.nodes[finest] for h in hyps if finest in h.nodes))

    def _bayes_choice(
        self,
        logits: Mapping[str, np.ndarray],
        hyps: list[_Hyp],
        near: tuple[int, float] | None = None,
    ) -> _Choice | None:
        """The Bayes point of the bundle's ``decoding.point``; None for MODE. Where the
        Bayes point is the mode (the best of ``hyps``), or the gallery gate takes the
        photo (``near``, its nearest gallery photo inside the mode's cells and their
        similarity, is at least ``gallery_min_similarity`` similar), the place is None:
        the mode answers as for MODE (refined, gallery), with MAX_MASS_WITHIN's
        confidence."""
        if self._bayes is None:
            return None
        post = self._bayes.posterior(logits, self.manifest.temperature)
        if near is not None and near[1] >= self.spec.gallery_min_similarity:
            mode = hyps[0]
            leaf = self._bayes.leaf_of(self.chain.index(mode.deepest), mode.nodes[mode.deepest])
            return _Choice(None, None, self._confidence(leaf, post))
        leaf = self._bayes.choose(self._bayes.mixed(post))
        at = self._bayes.nodes(leaf)
        chosen = _Hyp(
            float(post[leaf]), {self.chain[i]: j for i, j in at.items()}, self.chain[max(at)]
        )
        confidence = self._confidence(leaf, post)
        if chosen.nodes == hyps[0].nodes:
            return _Choice(None, None, confidence)
        return _Choice(chosen, self._bayes.radius(leaf, post), confidence)

    def _confidence(self, leaf: int, post: np.ndarray) -> float | None:
        """A Bayes point's confidence at ``leaf`` under the posterior ``post`` [L]:
        MAX_MASS_WITHIN's mass within ``within_km``; None (the hypothesis's own) else."""
        if self._bayes is None or self.spec.point is not Point.MAX_MASS_WITHIN:
            return None
        return self._bayes.mass_within(leaf, post, self.spec.within_km)

    def _coords(self, h: _Hyp) -> tuple[float, float]:
        lv = self._levels[h.deepest]
        i = h.nodes[h.deepest]
        return float(lv.lat[i]), float(lv.lon[i])

    def _names(self, h: _Hyp) -> PlaceNames:
        """The names the hypothesis's labels give (on named levels), as a hint."""
        names = {"country_code": "", "country": "", "admin1": "", "city": ""}
        for level in NAMED_LEVELS:
            if level in h.nodes:
                row = self._levels[level].rows[h.nodes[level]]
                names[level] = str(row["name"])
                names["country_code"] = names["country_code"] or str(row["country_code"])
        if not names["country_code"]:
            row = self._levels[h.deepest].rows[h.nodes[h.deepest]]
            names["country_code"] = str(row.get("country_code") or "")
        return PlaceNames(**names)

    def _plan(
        self,
        hyps: list[_Hyp],
        near: tuple[int, float] | None = None,
        choice: _Choice | None = None,
    ) -> _Plan:
        """A prediction before its points are named: the estimate's point (refined, or the
        gallery photo ``near``'s: its index and similarity, the nearest inside the cells of
        ``hyps``) and its alternatives', each with the names its labels hint. With a Bayes
        ``choice`` whose place is not the mode's, that place answers (no refinement, no
        gallery) with the mode among the alternatives."""
        chosen, chosen_radius_km = (
            (None, None) if choice is None else (choice.hyp, choice.radius_km)
        )
        spec = self.spec
        if chosen is not None:
            hyps = [chosen, *(h for h in hyps if h.nodes != chosen.nodes)]
        best = hyps[0]
        coords = np.array([self._coords(h) for h in hyps])
        probs = np.array([h.prob for h in hyps])
        lat, lon = refine_point(coords[:, 0], coords[:, 1], probs, spec)
        if chosen is not None:
            lat, lon = coords[0]
        hint = self._names(best)
        gallery = self.gallery
        # a Bayes point answering as the mode (the mode itself, or gated) is refined by
        # the gallery whatever the similarity: the gate already had its say
        floor = spec.gallery_min_similarity if choice is None else -1.0
        if chosen is None and gallery is not None and near is not None and near[1] >= floor:
            # a real photo's place: named as it is, never moved into the head's country
            lat, lon, hint = gallery.lat[near[0]], gallery.lon[near[0]], PlaceNames()
        k = min(spec.top_k, len(hyps))
        points = [(float(lat), float(lon), hint)]
        points += [
            (float(clat), float(clon), self._names(h))
            for h, (clat, clon) in zip(hyps[1:k], coords[1:k], strict=True)
        ]
        return _Plan(
            hyps[:k],
            coords[:k],
            probs[:k],
            points,
            chosen_radius_km,
            None if choice is None else choice.confidence,
        )

    def _finish(self, plan: _Plan, points: list[tuple[float, float, PlaceNames]]) -> Prediction:
        """The Prediction of ``plan`` with its ``points`` placed and named."""
        confidences = [float(np.clip(h.prob, 0.0, 1.0)) for h in plan.hyps]
        if plan.chosen_confidence is not None:
            confidences[0] = float(np.clip(plan.chosen_confidence, 0.0, 1.0))
        radii = [
            self._radius(clat, clon, c, plan.coords, plan.probs)
            for (clat, clon, _), c in zip(points, confidences, strict=True)
        ]
        if plan.chosen_radius_km is not None and self.manifest.error_model is None:
            radii[0] = max(plan.chosen_radius_km, self.spec.min_radius_km)
        cands = tuple(
            Candidate(clat, clon, c, radius_km=r, **names.fields())
            for (clat, clon, names), c, r in zip(points, confidences, radii, strict=True)
        )
        lat, lon, best_names = points[0]
        unsure = confidences[0] < self.spec.unsure_below
        if unsure:  # the model does not know: its point is a guess that names no place
            best_names = PlaceNames()
        return Prediction(
            lat=float(lat),
            lon=float(lon),
            confidence=confidences[0],
            radius_km=radii[0],
            country_code=best_names.country_code,
            country=best_names.country,
            admin1=best_names.admin1,
            city=best_names.city,
            top_k=cands,
            source=Source.MODEL,
            model=self.model_id,
            unsure=unsure,
        )

    def _radius(
        self, lat: float, lon: float, confidence: float, coords: np.ndarray, probs: np.ndarray
    ) -> float:
        """The error radius (km) of a hypothesis at ``lat``/``lon`` (degrees) with
        ``confidence``: its confidence bin's in the manifest's error model; without one,
        the ``probs`` [K]-weighted mean distance of the candidates ``coords`` [K, 2]
        (degrees) from its point, at least ``min_radius_km``."""
        em = self.manifest.error_model
        if em is not None:
            return em.radius(confidence)
        d = haversine_km(lat, lon, coords[:, 0], coords[:, 1])
        radius = float((probs * d).sum() / max(probs.sum(), 1e-12))
        return max(radius, self.spec.min_radius_km)


def decoding_for(manifest: Manifest, **changes: object) -> Manifest:
    """``manifest`` with its DecodingSpec fields changed (e.g. ``refine=Refine.TOP``)."""
    return replace(manifest, decoding=replace(manifest.decoding, **changes))  # type: ignore[arg-type]
