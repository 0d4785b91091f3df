"""Run a bundle's image encoder with ONNX Runtime and decode locations.

Decoding (all parameters come from the bundle manifest):

* Per level, logits: zero-shot bundles score the image embedding against the
  level's text embeddings (``logit_scale * <image, text>``); classifier bundles
  read the level's logits output.
* The *chain* is the decoding level (``decoding["level"]``, default the last
  level) and its ancestors through ``LevelSpec.parent``. Top-down beam search
  over the chain: the top level's probabilities are ``softmax(logits /
  temperature)``; each of the ``beam`` best hypotheses is expanded into its
  children at the next level with ``P(child) = P(parent) * softmax over the
  siblings``; a hypothesis whose place has no children at that level stays as
  it is. Probabilities are therefore joint, calibrated through the fitted
  ``temperature``, and comparable across hypotheses.
* Location: the best hypothesis's place (``decoding["refine"] == "top"``,
  default) or the probability-weighted spherical mean of the hypotheses within
  ``refine_radius_km`` of it (``"weighted"``).
* ``confidence`` = the chosen hypothesis's probability. ``radius_km``:
  the radius of its confidence bin in ``manifest.error_model`` when present, else the
  probability-weighted mean distance of the top-k candidates from the chosen
  point, at least ``decoding["min_radius_km"]`` (default 25 km).
* Names: ``geo.places.place_point`` of each candidate's point with the names of
  the chain's ``country``/``admin1``/``city`` labels (or the finest label's
  country code) as the hint: a point outside the label's country is moved to
  that country's city nearest to it, and the point is named by the place that
  contains it, so a point always lies in the place it names.

``manifest.decoding`` keys: ``level``, ``beam`` (5), ``top_k`` (5), ``refine``
("top" | "weighted"), ``refine_k`` (5), ``refine_radius_km`` (500),
``min_radius_km`` (25).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoscope_core.errors import BundleError
from geoscope_core.geo.distance import haversine_km, spherical_mean
from geoscope_core.geo.places import PlaceNames, place_point
from geoscope_core.prediction import Candidate, Prediction, Source
from geoscope_core.runtime.bundle import IMAGE_ENCODER, Bundle, load_bundle, onnx_io_problems
from geoscope_core.runtime.manifest import BundleKind
from geoscope_core.runtime.session import Provider, open_session

log = logging.getLogger(__name__)

NAMED_LEVELS = ("country", "admin1", "city")


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class _Level:
    """Decoding tables of one level: label rows, coordinates (degrees), children per parent."""

    name: str
    rows: list[dict[str, Any]]
    lat: np.ndarray  # [N] degrees
    lon: np.ndarray  # [N] degrees
    emb: np.ndarray | None  # float32 [N, D] (zero-shot)
    output: str | None  # classifier logits output name
    children: dict[str, np.ndarray]  # parent label id -> indices into this level

    def label_embeddings(self) -> np.ndarray:
        """``emb``, which the manifest requires on every level of a zero-shot bundle."""
        assert self.emb is not None, f"level {self.name!r} has no label embeddings"
        return self.emb

    def logits_output(self) -> str:
        """``output``, which the manifest requires on every level of a classifier bundle."""
        assert self.output is not None, f"level {self.name!r} names no encoder output"
        return self.output


@dataclass
class _Hyp:
    prob: float
    nodes: dict[str, int]  # level name -> label index
    deepest: str  # level name of the finest node


class Predictor:
    """One loaded bundle + ONNX Runtime session; shared by the CLI and the desktop app.

    Build with ``Predictor.load``; the constructor does no I/O.
    """

    def __init__(self, bundle: Bundle, session: Any, provider: Provider) -> None:
        self.bundle = bundle
        self.session = session
        self.provider: str = provider.value  # "cpu" or "cuda"
        self.model_id = bundle.model_id
        m = bundle.manifest
        self.input_size = m.input.size
        self.resize = m.input.resize
        self._input_name = session.get_inputs()[0].name
        batch_dim = session.get_inputs()[0].shape[0]
        self._fixed_batch = batch_dim if isinstance(batch_dim, int) else 0
        self._emb_output = m.outputs.get("embedding", "embedding")
        dec = m.decoding
        self.beam = int(dec.get("beam", 5))
        self.top_k = int(dec.get("top_k", 5))
        self.refine = str(dec.get("refine", "top"))
        self.refine_k = int(dec.get("refine_k", 5))
        self.refine_radius_km = float(dec.get("refine_radius_km", 500.0))
        self.min_radius_km = float(dec.get("min_radius_km", 25.0))
        self._levels: dict[str, _Level] = {}
        self._chain: list[str] = []

    # -- construction --------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        model: str | Path | None = None,
        provider: Provider | str = Provider.AUTO,
        threads: int = 0,
    ) -> Predictor:
        """Load and verify a bundle (name, folder or .zip; None = default) and open its
        image encoder. ``provider``: a ``Provider`` or its name: "auto" (CUDA when
        available, else CPU), "cpu" or "cuda" (ProviderError when unavailable).
        ``threads``: intra-op threads (0 = the machine's physical cores)."""
        resolved = Provider.parse(provider).resolve()
        bundle = load_bundle(model, verify=True)
        session = open_session(
            bundle.file(IMAGE_ENCODER), resolved, threads=threads, scan_tuned=True
        )
        problems = onnx_io_problems(bundle, session)
        if problems:
            raise BundleError(f"bundle {bundle.path} image encoder: " + "; ".join(problems))
        predictor = cls(bundle, session, resolved)
        predictor._prepare_levels()
        log.info("predictor %s on %s", predictor.model_id, resolved.value)
        return predictor

    def _prepare_levels(self) -> None:
        m = self.bundle.manifest
        for spec in m.levels:
            rows = self.bundle.labels(spec.name)
            self._levels[spec.name] = _Level(
                name=spec.name,
                rows=rows,
                lat=np.array([float(r["lat"]) for r in rows]),
                lon=np.array([float(r["lon"]) for r in rows]),
                emb=(self.bundle.embeddings(spec.name) if m.kind is BundleKind.ZERO_SHOT else None),
                output=spec.output,
                children={},
            )
        final = str(m.decoding.get("level", m.levels[-1].name))
        chain = [m.level(final).name]
        while (parent := m.level(chain[0]).parent) is not None:
            if parent in chain:
                raise BundleError(f"level hierarchy has a cycle at {parent!r}")
            chain.insert(0, parent)
        self._chain = chain
        for name in chain[1:]:
            groups: dict[str, list[int]] = {}
            for i, r in enumerate(self._levels[name].rows):
                groups.setdefault(str(r["parent"]), []).append(i)
            self._levels[name].children.update(
                {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}
            )

    # -- inference -----------------------------------------------------------------------
    def _run(self, pixels: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        s = self.input_size
        if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[1:] != (s, s, 3):
            raise ValueError(
                f"pixels must be uint8 [N, {s}, {s}, 3], got {pixels.dtype} {pixels.shape}"
            )
        if self._fixed_batch and pixels.shape[0] != self._fixed_batch:
            parts = [
                self.session.run(outputs, {self._input_name: pixels[i : i + 1]})
                for i in range(pixels.shape[0])
            ]
            return [np.concatenate([p[j] for p in parts]) for j in range(len(outputs))]
        return self.session.run(outputs, {self._input_name: np.ascontiguousarray(pixels)})

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """L2-normalised image embeddings float32 [N, D] of uint8 pixels [N, S, S, 3]."""
        (emb,) = self._run(pixels, [self._emb_output])
        return np.asarray(emb, dtype=np.float32)

    def predict(self, pixels: np.ndarray) -> list[Prediction]:
        """Predictions for uint8 RGB pixels [N, S, S, 3] (S = ``input_size``)."""
        return self.predict_with_embeddings(pixels)[0]

    def predict_with_embeddings(self, pixels: np.ndarray) -> tuple[list[Prediction], np.ndarray]:
        """Predictions and L2-normalised embeddings float32 [N, D] in one encoder run."""
        if len(pixels) == 0:
            return [], np.zeros((0, self.bundle.manifest.embedding_dim), np.float32)
        m = self.bundle.manifest
        if m.kind is BundleKind.ZERO_SHOT:
            (emb,) = self._run(pixels, [self._emb_output])
            emb = np.asarray(emb, dtype=np.float32)
            logits = {
                name: m.logit_scale * (emb @ self._levels[name].label_embeddings().T)
                for name in self._chain
            }
        else:
            names = [self._levels[n].logits_output() for n in self._chain]
            outs = self._run(pixels, [self._emb_output, *names])
            emb = np.asarray(outs[0], dtype=np.float32)
            logits = {
                n: np.asarray(o, np.float32) for n, o in zip(self._chain, outs[1:], strict=True)
            }
        preds = [self.decode({n: lg[i] for n, lg in logits.items()}) for i in range(len(pixels))]
        return preds, emb

    # -- decoding ------------------------------------------------------------------------
    def decode(self, logits: dict[str, np.ndarray]) -> Prediction:
        """Decode one image's per-level logits ({level: [n_level]}) into a Prediction."""
        t = self.bundle.manifest.temperature
        top = self._levels[self._chain[0]]
        probs = _softmax(np.asarray(logits[top.name], np.float64) / t)
        order = np.argsort(-probs)[: max(self.beam, self.top_k)]
        hyps = [_Hyp(float(probs[i]), {top.name: int(i)}, top.name) for i in order]
        for name in self._chain[1:]:
            level = self._levels[name]
            lg = np.asarray(logits[name], np.float64) / t
            hyps.sort(key=lambda h: -h.prob)
            expanded: list[_Hyp] = []
            for h in hyps[: self.beam]:
                parent_row = self._levels[h.deepest].rows[h.nodes[h.deepest]]
                kids = level.children.get(str(parent_row["id"]))
                if kids is None:
                    expanded.append(h)
                    continue
                p = _softmax(lg[kids])
                for k, pk in zip(kids, p, strict=True):
                    expanded.append(_Hyp(h.prob * float(pk), {**h.nodes, name: int(k)}, name))
            hyps = expanded
        hyps.sort(key=lambda h: -h.prob)
        hyps = hyps[: max(self.top_k, self.refine_k, 1)]
        return self._to_prediction(hyps)

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

    def _to_prediction(self, hyps: list[_Hyp]) -> Prediction:
        best = hyps[0]
        lat, lon = self._coords(best)
        coords = np.array([self._coords(h) for h in hyps])
        probs = np.array([h.prob for h in hyps])
        if self.refine == "weighted" and len(hyps) > 1:
            near = hyps[: self.refine_k]
            d = haversine_km(lat, lon, coords[: len(near), 0], coords[: len(near), 1])
            keep = d <= self.refine_radius_km
            lat, lon = spherical_mean(
                coords[: len(near), 0][keep], coords[: len(near), 1][keep], probs[: len(near)][keep]
            )
        lat, lon, best_names = place_point(float(lat), float(lon), self._names(best))
        confidence = float(np.clip(best.prob, 0.0, 1.0))
        em = self.bundle.manifest.error_model
        k = min(self.top_k, len(hyps))
        if em is not None:
            radius = em.radius(confidence)
        else:
            d = haversine_km(lat, lon, coords[:k, 0], coords[:k, 1])
            w = probs[:k]
            radius = float((w * d).sum() / max(w.sum(), 1e-12))
            radius = max(radius, self.min_radius_km)
        cands = [Candidate(lat=lat, lon=lon, confidence=float(best.prob), **best_names.fields())]
        for h, (clat, clon) in zip(hyps[1:k], coords[1:k], strict=True):
            clat, clon, names = place_point(float(clat), float(clon), self._names(h))
            cands.append(Candidate(lat=clat, lon=clon, confidence=float(h.prob), **names.fields()))
        top = cands[0]
        return Prediction(
            lat=float(lat),
            lon=float(lon),
            confidence=confidence,
            radius_km=radius,
            country_code=top.country_code,
            country=top.country,
            admin1=top.admin1,
            city=top.city,
            top_k=tuple(cands),
            source=Source.MODEL,
            model=self.model_id,
        )
