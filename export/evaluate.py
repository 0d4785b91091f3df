"""Run an exported image encoder over labelled photos: metrics, temperature, error model.

Logits come from the exported graphs; decoding is the runtime's own
(``geoscope_core.runtime.decoding.Decoder``: hierarchical beam over the bundle's
levels), so the metrics written at export are what users get.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geoscope_core.calibration import CalibrationError, fit_error_model, softmax_nll
from geoscope_core.calibration import fit_temperature as fit_nll_temperature
from geoscope_core.errors import DataError, ExportError, ImageDecodeError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.decoding import Decoder
from geoscope_core.runtime.manifest import PreprocessSpec

if TYPE_CHECKING:
    import onnxruntime as ort

    from geoscope_core.records import GeoRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledPixels:
    """Decoded photos: ``pixels`` uint8 [N, V, S, S, 3] (V views of each photo, as the
    runtime makes them), true ``lat``/``lon`` (degrees) [N],
    ``country_code`` [N] ("" when unknown), ``group`` [N] (the photo's data set, or its
    folder name when the record names none), ``scope`` [N] ("" when unknown)."""

    pixels: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    country_code: np.ndarray
    group: np.ndarray
    scope: np.ndarray

    def subset(self, mask: np.ndarray) -> LabelledPixels:
        """The photos where the boolean ``mask`` [N] is true."""
        return LabelledPixels(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    def __len__(self) -> int:
        return len(self.pixels)

    @property
    def frames(self) -> np.ndarray:
        """Every view of every photo as one encoder input each: uint8 [N * V, S, S, 3]."""
        return self.pixels.reshape(-1, *self.pixels.shape[-3:])


#: The scope whose photos fit a bundle's temperature, refinement and error radius: the
#: photos users meet. Regional and one-place sets are dense in a few places and, pooled,
#: would reward a model that names those places for everything.
FIT_SCOPE = "world"


def load_records(csv: Path | None, split: str) -> list[GeoRecord]:
    """GeoRecords from ``csv``, or the shared geo data's ``split`` when ``csv`` is None."""
    from geoscope_core.records import read_labels_csv, shared_geo_records

    if csv is None:
        return shared_geo_records(split)
    records, problems = read_labels_csv(Path(csv))
    for problem in problems:
        log.warning("%s: %s", problem.where, problem.reason)
    if not records:
        raise DataError(f"{csv}: no usable rows")
    return records


def fit_records(records: Sequence[GeoRecord], scope: str = FIT_SCOPE) -> list[GeoRecord]:
    """The records a bundle's decoding is fitted on: those of ``scope`` when the records
    carry scopes (a labels CSV with a ``scope`` column), else all of them."""
    if not any(getattr(r, "scope", "") for r in records):
        return list(records)
    chosen = [r for r in records if r.scope == scope]
    if not chosen:
        raise DataError(f"no {scope!r}-scope photos to fit on")
    return chosen


def sample_records(records: Sequence[GeoRecord], n: int, seed: int = 0) -> list[GeoRecord]:
    """``n`` records drawn without replacement (all when ``n`` <= 0 or >= len), in file order."""
    if n <= 0 or n >= len(records):
        return list(records)
    idx = np.sort(np.random.default_rng(seed).choice(len(records), size=n, replace=False))
    return [records[i] for i in idx]


def decode_records(records: Sequence[GeoRecord], spec: PreprocessSpec) -> LabelledPixels:
    """Decode ``records`` as the runtime does under ``spec`` (skipping undecodable photos)."""
    from geoscope_core.runtime.images import preprocess

    pixels, lat, lon, cc, group, scope = [], [], [], [], [], []
    for rec in records:
        try:
            pixels.append(preprocess(rec.path, spec))
        except ImageDecodeError as e:
            log.warning("skipped %s: %s", rec.path, e)
            continue
        lat.append(rec.lat)
        lon.append(rec.lon)
        cc.append(getattr(rec, "country_code", "") or "")
        group.append(getattr(rec, "set", "") or Path(rec.path).parent.name)
        scope.append(getattr(rec, "scope", "") or "")
    if not pixels:
        raise DataError("none of the photos could be decoded")
    return LabelledPixels(
        np.stack(pixels),
        np.asarray(lat, dtype=np.float64),
        np.asarray(lon, dtype=np.float64),
        np.asarray(cc, dtype=object),
        np.asarray(group, dtype=object),
        np.asarray(scope, dtype=object),
    )


def run_encoder(
    session: ort.InferenceSession, pixels: np.ndarray, batch_size: int = 16
) -> dict[str, np.ndarray]:
    """All outputs of an image-encoder session over ``pixels`` uint8 [N, S, S, 3], batched;
    for [N, V, S, S, 3] each photo's outputs are averaged over its V views as the runtime
    averages them (``runtime.predictor.average_views``)."""
    from geoscope_core.runtime.predictor import average_views

    views = pixels.shape[1] if pixels.ndim == 5 else 1
    frames = pixels.reshape(-1, *pixels.shape[-3:])
    names = [o.name for o in session.get_outputs()]
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for start in range(0, len(frames), batch_size * views):
        outs = session.run(names, {"pixels": frames[start : start + batch_size * views]})
        for n, o in zip(names, outs, strict=True):
            parts[n].append(np.asarray(o, dtype=np.float32))
    merged = average_views(names, [np.concatenate(parts[n]) for n in names], views, "embedding")
    return dict(zip(names, merged, strict=True))


@dataclass(frozen=True)
class LevelHead:
    """One level as decoding sees it: its label rows and how to get logits [N, n_labels]."""

    name: str
    labels: list[dict[str, Any]]
    output: str | None = None  # classifier: encoder output name
    embeddings: np.ndarray | None = None  # zero-shot: float32 [n_labels, D]


@dataclass(frozen=True)
class Decoded:
    """Per photo: predicted ``lat``/``lon`` (degrees), ``country_code`` and ``confidence``
    (0-1) as the runtime's ``Predictor`` decodes them."""

    lat: np.ndarray
    lon: np.ndarray
    country_code: np.ndarray
    confidence: np.ndarray


def decode_with(
    decoder: Decoder, logits: dict[str, np.ndarray], embeddings: np.ndarray | None = None
) -> Decoded:
    """Decode per-level logits [N, n_level] with the runtime's decoder, so export-time
    metrics are the metrics users get; ``embeddings`` [N, D] feed its gallery, if any."""
    preds = decoder.decode_many(logits, embeddings)
    return Decoded(
        np.asarray([p.lat for p in preds], dtype=np.float64),
        np.asarray([p.lon for p in preds], dtype=np.float64),
        np.asarray([p.country_code for p in preds], dtype=object),
        np.asarray([p.confidence for p in preds], dtype=np.float64),
    )


def nearest_label(head: LevelHead, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Index [N] of the label of ``head`` nearest to each true location (the NLL target)."""
    llat = np.asarray([row["lat"] for row in head.labels], dtype=np.float64)
    llon = np.asarray([row["lon"] for row in head.labels], dtype=np.float64)
    d = haversine_km(lat[:, None], lon[:, None], llat[None, :], llon[None, :])
    return np.argmin(d, axis=1)


def fit_temperature(logits: np.ndarray, target: np.ndarray) -> float:
    """Temperature T > 0 minimising the NLL of ``softmax(logits / T)`` at ``target`` [N]
    (``geoscope_core.calibration.fit_temperature``)."""
    if len(logits) == 0:
        raise ExportError("cannot fit a temperature on zero photos")
    return fit_nll_temperature(softmax_nll(logits, target))


def error_model(
    confidence: np.ndarray, error_km: np.ndarray, bins: int = 5, quantile: float = 0.68
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(confidence edges ascending, error radius km at each edge): the ``quantile`` of the
    errors of each of ``bins`` confidence bins (``geoscope_core.calibration``)."""
    try:
        model = fit_error_model(confidence, error_km, bins=bins, quantile=quantile)
    except CalibrationError as e:
        raise ExportError(str(e)) from e
    return model.confidence, model.radius_km


def metrics_for(decoded: Decoded, data: LabelledPixels) -> dict[str, Any]:
    """The ``eval`` metrics (acc@km, median/mean km, country accuracy, geoscore)."""
    from geoscope_core.metrics import evaluate

    has_cc = bool(np.all(data.country_code != ""))
    result = evaluate(
        decoded.lat,
        decoded.lon,
        data.lat,
        data.lon,
        pred_cc=list(decoded.country_code) if has_cc else None,
        true_cc=list(data.country_code) if has_cc else None,
    )
    return dict(result)


def grouped_metrics(
    decoded: Decoded, data: LabelledPixels, by: str = "group"
) -> dict[str, dict[str, Any]]:
    """``metrics_for`` per value of ``data.<by>`` ("group": the data set; "scope")."""
    keys = getattr(data, by)
    out = {}
    for key in sorted({str(k) for k in keys if k}):
        mask = keys == key
        sub_dec = Decoded(*(getattr(decoded, f)[mask] for f in Decoded.__dataclass_fields__))
        out[key] = metrics_for(sub_dec, data.subset(mask))
    return out
