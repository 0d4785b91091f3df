"""The training report: metrics.json and, when matplotlib is installed, accuracy.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch.distributed as dist


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
