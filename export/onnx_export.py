"""PyTorch modules -> ONNX graphs, and the fp32 parity check.

Graphs are written with ``torch.onnx.export`` (the TorchScript exporter,
``dynamo=False``) rather than optimum: the exporter's input is the
``ExportableModel`` protocol's own wrapper module (uint8 NHWC pixels ->
cast, /255, mean/std, tower, projection, L2 norm), which optimum's
architecture-keyed exporters cannot express, and optimum 2.x no longer ships
ONNX export at all. The TorchScript exporter emits plain opset-17 graphs in a
fraction of a second that ONNX Runtime's quantization tools handle; the dynamo
exporter needs opset >= 18 and takes seconds per graph.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from geoscope_core.errors import BundleError, ExportError
from geoscope_core.runtime.session import open_session

log = logging.getLogger(__name__)

PIXELS = "pixels"
TEXT_INPUTS = ("input_ids", "attention_mask")
TEXT_OUTPUT = "embedding"


def _export(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    opset: int,
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer/deprecation chatter, not actionable here
            torch.onnx.export(
                module,
                args,
                str(path),
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes=dynamic_axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        onnx.checker.check_model(str(path))
    except ExportError:
        raise
    except Exception as e:  # torch raises many types; report which graph failed
        raise ExportError(f"ONNX export of {path.name} failed: {e}") from e
    log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def export_image_encoder(
    module: nn.Module,
    input_size: int,
    output_names: Sequence[str],
    path: Path,
    opset: int = 17,
) -> Path:
    """Write ``module`` (uint8 pixels [N, S, S, 3] -> float32 outputs) as ONNX.

    Input ``pixels`` uint8 [batch, S, S, 3]; outputs named ``output_names`` with a
    dynamic batch axis.
    """
    dummy = torch.randint(0, 256, (2, input_size, input_size, 3), dtype=torch.uint8)
    axes = {PIXELS: {0: "batch"}, **{name: {0: "batch"} for name in output_names}}
    return _export(module, (dummy,), path, [PIXELS], output_names, axes, opset)


def export_text_encoder(module: nn.Module, max_length: int, path: Path, opset: int = 17) -> Path:
    """Write ``module`` (input_ids, attention_mask int64 [N, L] -> embedding [N, D]) as ONNX.

    Batch and sequence axes are dynamic.
    """
    ids = torch.ones((2, min(8, max_length)), dtype=torch.int64)
    mask = torch.ones_like(ids)
    axes = {
        "input_ids": {0: "batch", 1: "sequence"},
        "attention_mask": {0: "batch", 1: "sequence"},
        TEXT_OUTPUT: {0: "batch"},
    }
    return _export(module, (ids, mask), path, TEXT_INPUTS, [TEXT_OUTPUT], axes, opset)


def session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """A CPU ONNX Runtime session (``threads`` 0 = ONNX Runtime's default)."""
    try:
        return open_session(path, threads=threads)
    except BundleError as e:
        raise ExportError(f"ONNX Runtime cannot load {path}: {e.__cause__}") from e


@dataclass(frozen=True)
class ParityReport:
    """Largest |onnx - torch| per output and the tolerance it was held to."""

    max_abs_diff: dict[str, float]
    tolerance: dict[str, float]
    atol: float
    rtol: float

    def to_dict(self) -> dict[str, object]:
        return {
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "atol": self.atol,
            "rtol": self.rtol,
        }


def check_parity(
    module: nn.Module,
    onnx_path: Path,
    inputs: dict[str, np.ndarray],
    output_names: Sequence[str],
    atol: float = 1e-3,
    rtol: float = 1e-3,
) -> ParityReport:
    """Run ``module`` and the ONNX graph on the same ``inputs`` and compare every output.

    Each output must satisfy ``max|onnx - torch| <= atol + rtol * max|torch|``;
    otherwise ExportError names the output and the gap.
    """
    with torch.no_grad():
        ref = module.eval()(*(torch.from_numpy(np.ascontiguousarray(v)) for v in inputs.values()))
    if isinstance(ref, torch.Tensor):
        ref = (ref,)
    ref_np = [r.detach().float().cpu().numpy() for r in ref]
    got = session(onnx_path).run(list(output_names), inputs)
    diffs: dict[str, float] = {}
    tols: dict[str, float] = {}
    for name, r, g in zip(output_names, ref_np, got, strict=True):
        if r.shape != g.shape:
            raise ExportError(f"parity: output {name!r} shape {g.shape} != PyTorch {r.shape}")
        diff = float(np.max(np.abs(g.astype(np.float64) - r))) if r.size else 0.0
        tol = atol + rtol * (float(np.max(np.abs(r))) if r.size else 0.0)
        if not np.isfinite(diff) or diff > tol:
            raise ExportError(
                f"parity failed for {onnx_path.name} output {name!r}: "
                f"max |onnx - torch| = {diff:.3g} > tolerance {tol:.3g}"
            )
        diffs[name] = diff
        tols[name] = tol
    log.info("parity ok for %s: %s", onnx_path.name, diffs)
    return ParityReport(diffs, tols, atol, rtol)


def count_ops(path: Path, op_types: Sequence[str]) -> int:
    """Number of nodes of ``op_types`` in the ONNX graph at ``path``."""
    model = onnx.load(str(path), load_external_data=False)
    return sum(node.op_type in op_types for node in model.graph.node)


def is_convolutional(path: Path) -> bool:
    """True for CNN-like graphs: more convolutions than matrix products (a ViT has one
    patch-embedding Conv and dozens of MatMuls)."""
    return count_ops(path, ("Conv", "ConvTranspose")) > count_ops(path, ("MatMul", "Gemm"))
