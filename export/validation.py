"""Validation of a bundle being exported, on labelled photos, in memory.

The fp32 and the shipped image encoder run over the photos once; the runtime's
decoder (``runtime.decoding.Decoder``, built from the label tables) then tries
each refinement, fits the temperature and the error model, without writing or
reloading the bundle.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from geoscope_core.errors import DataError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.decoding import Decoder
from geoscope_core.runtime.manifest import IMAGE_ENCODER, ErrorModel, Manifest
from geoscope_export import evaluate as ev
from geoscope_export.config import ExportConfig, Quantize
from geoscope_export.onnx_export import session

log = logging.getLogger(__name__)


def validate_on_photos(
    root: Path,
    manifest: Manifest,
    fp32: Path,
    val: ev.LabelledPixels,
    heads: list[ev.LevelHead],
    config: ExportConfig,
    fit_calibration: bool = True,
) -> Manifest:
    """Measure the fp32 and shipped graphs on ``val`` with the runtime's decoder (in memory,
    the bundle is never reloaded), decoding as the model's own ``manifest.decoding`` says
    (the exporter chooses nothing of it). With ``fit_calibration`` (a bundle with no
    out-of-source calibration), fit the temperature and the error model of the shipped
    graph on the world-scope photos (all of them when ``val`` names no scopes): the
    photos users meet, not dense regional sets. Returns ``manifest`` completed with
    metrics (and the fitted temperature and error_model)."""
    from geoscope_core.runtime.gallery import Gallery

    decoder = Decoder.from_tables(
        manifest,
        {h.name: h.labels for h in heads},
        {h.name: h.embeddings for h in heads if h.embeddings is not None},
    )
    spec = manifest.decoding
    if spec.gallery is not None:
        decoder = decoder.with_gallery(
            Gallery.read(
                root / spec.gallery,
                top_cells=spec.gallery_top_cells,
                n_cells=len(heads[-1].labels),
                embedding_dim=manifest.embedding_dim,
            )
        )
    logits: dict[str, dict[str, np.ndarray]] = {}
    embeddings: dict[str, np.ndarray] = {}
    for tag, path in (("fp32", fp32), ("shipped", root / IMAGE_ENCODER)):
        outputs = ev.run_encoder(session(path), val.pixels, config.batch_size)
        logits[tag] = decoder.logits(outputs, "embedding")
        embeddings[tag] = outputs["embedding"]
    fit = val.scope == ev.FIT_SCOPE if (val.scope != "").any() else np.ones(len(val), bool)
    if not fit.any():
        raise DataError(f"no {ev.FIT_SCOPE!r}-scope validation photos to fit on")
    fit_val = val.subset(fit)
    fit_logits = {k: v[fit] for k, v in logits["shipped"].items()}

    if fit_calibration:
        finest = heads[-1]
        target = ev.nearest_label(finest, fit_val.lat, fit_val.lon)
        temperature = ev.fit_temperature(fit_logits[finest.name], target)
        manifest = replace(manifest, temperature=temperature)
    decoder = decoder.with_manifest(manifest)
    results = {tag: ev.decode_with(decoder, lg, embeddings[tag]) for tag, lg in logits.items()}
    shipped = results["shipped"]
    err_km = np.asarray(haversine_km(shipped.lat, shipped.lon, val.lat, val.lon))
    if fit_calibration:
        edges, radii = ev.error_model(shipped.confidence[fit], err_km[fit])
        manifest = replace(manifest, error_model=ErrorModel(edges, radii))
    em = manifest.error_model
    if em is not None:
        radius = np.array([em.radius(c) for c in shipped.confidence])
        within_radius = float(np.mean(err_km[fit] <= radius[fit]))
    else:
        within_radius = None

    shipped_tag = (
        Quantize(config.quantize).value if config.quantize is not Quantize.NONE else "fp32"
    )
    tags = {"fp32": results["fp32"]}
    if shipped_tag != "fp32":
        tags[shipped_tag] = shipped
    val_metrics: dict[str, Any] = {
        "photos": len(val),
        "source": str(config.val_csv) if config.val_csv else "shared geo labels.csv, split val",
        "fitted_on": f"{int(fit.sum())} photos of scope {ev.FIT_SCOPE}"
        if not fit.all()
        else "all validation photos",
        **{tag: ev.metrics_for(decoded, val) for tag, decoded in tags.items()},
    }
    if shipped_tag != "fp32":
        val_metrics["drop"] = _drop(val_metrics["fp32"], val_metrics[shipped_tag])
    for key, by in (("by_group", "group"), ("by_scope", "scope")):
        grouped: dict[str, Any] = {}
        for tag, decoded in tags.items():
            for g, m in ev.grouped_metrics(decoded, val, by).items():
                grouped.setdefault(g, {})[tag] = m
        if grouped:
            val_metrics[key] = grouped
    if ev.FIT_SCOPE in val_metrics.get("by_scope", {}) and shipped_tag != "fp32":
        world = val_metrics["by_scope"][ev.FIT_SCOPE]
        val_metrics[f"drop_{ev.FIT_SCOPE}"] = _drop(world["fp32"], world[shipped_tag])
    val_metrics[f"within_radius_{ev.FIT_SCOPE}"] = within_radius
    val_metrics["temperature_target"] = "nearest finest-level label to the true location"
    moved = np.asarray(
        haversine_km(shipped.lat, shipped.lon, results["fp32"].lat, results["fp32"].lon)
    )
    quant = {**manifest.quantization, "within_1km_of_fp32": round(float(np.mean(moved <= 1.0)), 4)}
    extra: dict[str, Any] = {"val": val_metrics}
    if fit_calibration:
        extra["error_model"] = {"source": val_metrics["source"] + f", {val_metrics['fitted_on']}",
                                "photos": int(fit.sum()), "quantile": 0.68}  # fmt: skip
    return replace(manifest, metrics={**manifest.metrics, **extra}, quantization=quant)


def _drop(fp32: dict[str, Any], quant: dict[str, Any]) -> dict[str, float | None]:
    """fp32 minus quantized for acc@750/2500 km and country accuracy (fractions)."""
    out: dict[str, float | None] = {}
    for key in ("750", "2500"):
        out[f"acc_{key}km"] = round(fp32["acc_km"][key] - quant["acc_km"][key], 4)
    a, b = fp32.get("country_acc"), quant.get("country_acc")
    out["country_acc"] = round(a - b, 4) if a is not None and b is not None else None
    return out
