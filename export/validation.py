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

from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.bundle import IMAGE_ENCODER
from geoscope_core.runtime.decoding import Decoder, decoding_for
from geoscope_core.runtime.manifest import ErrorModel, Manifest, Refine
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
) -> Manifest:
    """Measure the fp32 and shipped graphs on ``val`` with the runtime's decoder (in memory,
    the bundle is never reloaded); choose
    the refinement, fit the temperature and the error model of the shipped graph.
    Returns ``manifest`` completed with metrics, temperature, error_model, decoding."""
    decoder = Decoder.from_tables(
        manifest,
        {h.name: h.labels for h in heads},
        {h.name: h.embeddings for h in heads if h.embeddings is not None},
    )
    logits: dict[str, dict[str, np.ndarray]] = {}
    for tag, path in (("fp32", fp32), ("shipped", root / IMAGE_ENCODER)):
        outputs = ev.run_encoder(session(path), val.pixels, config.batch_size)
        logits[tag] = decoder.logits(outputs, "embedding")

    # refinement: the one with the better GeoScore on val (shipped graph), decoded in memory
    scores = {}
    for refine in Refine:
        trial = decoder.with_manifest(decoding_for(manifest, refine=refine))
        decoded = ev.decode_with(trial, logits["shipped"])
        scores[refine.value] = ev.metrics_for(decoded, val)["geoscore"]
    refine = max(Refine, key=lambda r: scores[r.value])
    manifest = decoding_for(manifest, refine=refine)
    log.info("refinement %s (GeoScore on val: %s)", refine.value, scores)

    finest = heads[-1]
    target = ev.nearest_label(finest, val.lat, val.lon)
    temperature = ev.fit_temperature(logits["shipped"][finest.name], target)
    manifest = replace(manifest, temperature=temperature)
    decoder = decoder.with_manifest(manifest)
    results = {tag: ev.decode_with(decoder, lg) for tag, lg in logits.items()}
    shipped = results["shipped"]
    err_km = np.asarray(haversine_km(shipped.lat, shipped.lon, val.lat, val.lon))
    edges, radii = ev.error_model(shipped.confidence, err_km)

    shipped_tag = config.quantize.value if config.quantize is not Quantize.NONE else "fp32"
    val_metrics: dict[str, Any] = {
        "photos": len(val),
        "source": str(config.val_csv) if config.val_csv else "shared geo labels.csv, split val",
        "fp32": ev.metrics_for(results["fp32"], val),
    }
    if shipped_tag != "fp32":
        val_metrics[shipped_tag] = ev.metrics_for(shipped, val)
        val_metrics["drop"] = _drop(val_metrics["fp32"], val_metrics[shipped_tag])
    by_group: dict[str, Any] = {
        g: {"fp32": m} for g, m in ev.grouped_metrics(results["fp32"], val).items()
    }
    if shipped_tag != "fp32":
        for g, m in ev.grouped_metrics(shipped, val).items():
            by_group[g][shipped_tag] = m
    val_metrics["by_group"] = by_group
    val_metrics["refine_geoscore"] = scores
    val_metrics["temperature_target"] = "nearest finest-level label to the true location"
    moved = np.asarray(
        haversine_km(shipped.lat, shipped.lon, results["fp32"].lat, results["fp32"].lon)
    )
    quant = {**manifest.quantization, "within_1km_of_fp32": round(float(np.mean(moved <= 1.0)), 4)}
    return replace(
        manifest,
        metrics={**manifest.metrics, "val": val_metrics},
        error_model=ErrorModel(edges, radii),
        quantization=quant,
    )


def _drop(fp32: dict[str, Any], quant: dict[str, Any]) -> dict[str, float | None]:
    """fp32 minus quantized for acc@750/2500 km and country accuracy (fractions)."""
    out: dict[str, float | None] = {}
    for key in ("750", "2500"):
        out[f"acc_{key}km"] = round(fp32["acc_km"][key] - quant["acc_km"][key], 4)
    a, b = fp32.get("country_acc"), quant.get("country_acc")
    out["country_acc"] = round(a - b, 4) if a is not None and b is not None else None
    return out
