"""GeoScope's exporter: training checkpoints -> quantized ONNX model bundles.

``export_bundle(checkpoint, out, ExportConfig(...))`` writes the bundle that
``geoscope_core.runtime`` loads (see ``geoscope_core/runtime/manifest.py``).
Needs the ``export`` extra (torch, onnx, onnxruntime).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExportConfig", "export_bundle", "export_model"]


def __getattr__(name: str) -> Any:  # keeps ``import geoscope_export`` free of torch
    if name in ("export_bundle", "export_model"):
        from geoscope_export import bundle_writer

        return getattr(bundle_writer, name)
    if name == "ExportConfig":
        from geoscope_export.config import ExportConfig

        return ExportConfig
    raise AttributeError(name)
