"""Quantization of exported graphs with ONNX Runtime.

* CNN image encoders: static int8 in QDQ format (per-channel int8 weights,
  uint8 activations ranged on real calibration photos). Dynamic quantization
  would turn every convolution into ``ConvInteger``, which ONNX Runtime's CPU
  provider runs far slower than its fp32 convolution (``bench/bench_quant.py``
  measures both).
* Transformer towers (no convolutions): dynamic int8 of the MatMul weights,
  the usual choice for BERT/ViT-like graphs.
* fp16: weights and activations in float16, float32 graph inputs/outputs kept.

Each function returns the dict recorded as the manifest's ``quantization``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_dynamic,
    quantize_static,
)

from geoscope_core.errors import ExportError

log = logging.getLogger(__name__)


class _PixelReader(CalibrationDataReader):
    """Feeds calibration pixels uint8 [N, S, S, 3] in batches to the calibrator."""

    def __init__(self, pixels: np.ndarray, input_name: str, batch_size: int) -> None:
        self._pixels = pixels
        self._input_name = input_name
        self._batch_size = batch_size
        self._it: Iterator[dict[str, np.ndarray]] | None = None

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, len(self._pixels), self._batch_size):
            yield {self._input_name: self._pixels[start : start + self._batch_size]}

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._it is None:
            self._it = self._batches()
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = None


def _preprocess(src: Path, dst: Path) -> Path:
    """ONNX Runtime's recommended pre-quantization pass (shape inference + graph fusion)."""
    try:
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
    except Exception as e:  # the pre-pass is an optimisation; fall back to the raw graph
        log.warning("quantization pre-processing skipped for %s: %s", src.name, e)
        return src
    return dst


def output_head_nodes(model_path: Path, prefix: str = "logits_") -> list[str]:
    """Names of the Gemm/MatMul nodes that produce the graph outputs starting with ``prefix``
    (walking back through Add/Identity/Reshape/Flatten): the classifier heads."""
    model = onnx.load(str(model_path), load_external_data=False)
    producer = {out: node for node in model.graph.node for out in node.output}
    found: list[str] = []
    for output in model.graph.output:
        if not output.name.startswith(prefix):
            continue
        name = output.name
        while name in producer:
            node = producer[name]
            if node.op_type in ("Gemm", "MatMul"):
                found.append(node.name)
                break
            if node.op_type not in ("Add", "Identity", "Reshape", "Flatten"):
                break
            name = node.input[0]
    return found


def first_conv_nodes(model_path: Path) -> list[str]:
    """Names of the Conv nodes in graph (topological) order."""
    model = onnx.load(str(model_path), load_external_data=False)
    return [node.name for node in model.graph.node if node.op_type == "Conv"]


def quantize_static_int8(
    fp32: Path,
    out: Path,
    calibration_pixels: np.ndarray,
    input_name: str = "pixels",
    batch_size: int = 16,
    method: CalibrationMethod = CalibrationMethod.MinMax,
    per_channel: bool = True,
    float_heads: bool = False,
    float_stem: bool = False,
    unsigned_weights: bool = False,
    reduce_range: bool = False,
) -> dict[str, Any]:
    """Static QDQ int8 of an image encoder, ranged on ``calibration_pixels`` uint8 [N, S, S, 3].

    ``float_heads``: keep the classifier heads (the layers producing ``logits_*``) in
    float32. ``float_stem``: keep the first convolution (it sees the normalised pixels)
    in float32. Both are small; on the default model they recover part of the int8
    accuracy loss (see MODEL_CARD.md). ``unsigned_weights`` (uint8 weights, the U8U8
    kernels) and ``reduce_range`` (7-bit weights) avoid the saturation of ONNX Runtime's
    U8S8 kernels on x86 CPUs without VNNI; for benchmarks (``bench/bench_quant.py``)."""
    if calibration_pixels.ndim != 4 or calibration_pixels.dtype != np.uint8:
        raise ExportError(
            "calibration pixels must be uint8 [N, S, S, 3], got "
            f"{calibration_pixels.dtype} {calibration_pixels.shape}"
        )
    if len(calibration_pixels) == 0:
        raise ExportError("static int8 quantization needs at least one calibration photo")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="geoscope-quant-") as tmp:
        src = _preprocess(Path(fp32), Path(tmp) / "pre.onnx")
        exclude = output_head_nodes(src) if float_heads else []
        if float_stem:
            exclude += first_conv_nodes(src)[:1]
        try:
            quantize_static(
                str(src),
                str(out),
                _PixelReader(calibration_pixels, input_name, batch_size),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QUInt8 if unsigned_weights else QuantType.QInt8,
                per_channel=per_channel,
                reduce_range=reduce_range,
                calibrate_method=method,
                nodes_to_exclude=exclude,
                extra_options={"CalibTensorRangeSymmetric": False},
            )
        except Exception as e:
            raise ExportError(f"static int8 quantization of {Path(fp32).name} failed: {e}") from e
    return {
        "method": "int8-static-qdq",
        "tool": "onnxruntime.quantization.quantize_static",
        "weights": ("uint8" if unsigned_weights else "int8")
        + (" 7-bit" if reduce_range else "")
        + (" per-channel" if per_channel else " per-tensor"),
        "activations": "uint8",
        "calibration": method.name,
        "calibration_images": len(calibration_pixels),
        "float32_nodes": exclude,
    }


def quantize_dynamic_int8(fp32: Path, out: Path) -> dict[str, Any]:
    """Dynamic int8 (weights int8, activations ranged at run time) of MatMul/Gemm weights."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="geoscope-quant-") as tmp:
        src = _preprocess(Path(fp32), Path(tmp) / "pre.onnx")
        try:
            quantize_dynamic(
                str(src),
                str(out),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
                per_channel=False,
            )
        except Exception as e:
            raise ExportError(f"dynamic int8 quantization of {Path(fp32).name} failed: {e}") from e
    return {
        "method": "int8-dynamic",
        "tool": "onnxruntime.quantization.quantize_dynamic",
        "weights": "int8 (MatMul, Gemm)",
        "activations": "float32, quantized at run time",
    }


def quantize_dynamic_all_int8(fp32: Path, out: Path) -> dict[str, Any]:
    """Dynamic int8 including convolutions (ConvInteger); for benchmarks, not shipped."""
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QUInt8)
    except Exception as e:
        raise ExportError(f"dynamic int8 quantization of {Path(fp32).name} failed: {e}") from e
    return {"method": "int8-dynamic-all", "tool": "onnxruntime.quantization.quantize_dynamic"}


def convert_fp16(fp32: Path, out: Path) -> dict[str, Any]:
    """float16 weights and activations; graph inputs/outputs keep their types."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    try:
        model = onnx.load(str(fp32))
        half = convert_float_to_float16(model, keep_io_types=True)
        onnx.save(half, str(out))
    except Exception as e:
        raise ExportError(f"fp16 conversion of {Path(fp32).name} failed: {e}") from e
    return {"method": "fp16", "tool": "onnxruntime.transformers.float16", "io": "float32"}
