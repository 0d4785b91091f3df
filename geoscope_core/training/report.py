"""The training report: validation metrics of decoded predictions, metrics.json and
accuracy.png (matplotlib: the train extra installs the plot extra)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch.distributed as dist

from geoscope_core.geo.distance import haversine_km

if TYPE_CHECKING:
    from geoscope_core.prediction import Prediction
    from geoscope_core.training.data import Sample


def evaluate_predictions(
    predictions: Sequence[Prediction], samples: Sequence[Sample]
) -> tuple[dict[str, Any], np.ndarray]:
    """GEO metrics of ``predictions`` (the runtime decoder's) against ``samples``, and
    the distances [N] km: pooled, and (when the samples name them) ``by_set`` and
    ``by_scope``."""
    from geoscope_core.metrics import evaluate, evaluate_by

    lat = np.array([p.lat for p in predictions])
    lon = np.array([p.lon for p in predictions])
    tl = np.array([s.lat for s in samples])
    tn = np.array([s.lon for s in samples])
    true_cc = [s.country_code for s in samples]
    pred_cc = [p.country_code for p in predictions]
    cc = {"pred_cc": pred_cc, "true_cc": true_cc} if all(true_cc) else {}
    metrics = evaluate(lat, lon, tl, tn, **cc)
    for key, attr in (("by_set", "set"), ("by_scope", "scope")):
        groups = [getattr(s, attr) for s in samples]
        if any(groups):
            metrics[key] = evaluate_by(groups, lat, lon, tl, tn, **cc)
    return metrics, np.asarray(haversine_km(lat, lon, tl, tn))


def write_report(
    out: Path,
    name: str,
    history: list[dict[str, Any]],
    final: dict[str, Any],
    distances_km: dict[str, np.ndarray],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """metrics.json (per-epoch history, final metrics) and accuracy.png in ``out``."""
    from geoscope_core.metrics import plot_accuracy_vs_distance

    world = dist.get_world_size() if dist.is_initialized() else 1
    report = {
        "name": name,
        "world_size": world,
        "history": history,
        "final": final,
        **(extra or {}),
    }
    (out / "metrics.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    if distances_km:
        plot_accuracy_vs_distance(distances_km, out / "accuracy.png")
    return report
