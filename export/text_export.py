"""The optional text encoder of a zero-shot bundle: exported, parity-checked, quantized."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from geoscope_core.runtime.manifest import TextEncoderSpec
from geoscope_core.training.exportable import ExportableModel
from geoscope_export.config import ExportConfig, Quantize
from geoscope_export.onnx_export import check_parity, export_text_encoder
from geoscope_export.quantize import convert_fp16, quantize_dynamic_int8

TEXT_ENCODER = "text_encoder.onnx"
TOKENIZER = "tokenizer.json"


def export_text(
    model: ExportableModel, root: Path, work: Path, config: ExportConfig
) -> TextEncoderSpec:
    """Export, check and quantize the text encoder and its tokenizer into ``root``."""
    from tokenizers import Tokenizer

    max_length = int(getattr(getattr(model, "config", None), "text_max_length", 0) or 64)
    text_module = model.text_module().eval()
    fp32 = export_text_encoder(text_module, max_length, work / "text_fp32.onnx", config.opset)
    tok_json = model.tokenizer_json()
    tokenizer = Tokenizer.from_str(tok_json)
    tokenizer.enable_truncation(max_length)
    pad_id = tokenizer.token_to_id("[PAD]") or tokenizer.token_to_id("<pad>") or 0
    tokenizer.enable_padding(pad_id=pad_id)
    samples = [
        "A Street View photo in Croatia.",
        "A photo taken close to the town of Split in the region of Splitsko-Dalmatinska.",
        "A Street View image of a road in Texas, United States.",
    ]
    enc = tokenizer.encode_batch(samples)
    inputs = {
        "input_ids": np.asarray([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.asarray([e.attention_mask for e in enc], dtype=np.int64),
    }
    check_parity(
        text_module,
        fp32,
        inputs,
        ["embedding"],
        atol=config.parity_atol,
        rtol=config.parity_rtol,
    )
    shipped = root / TEXT_ENCODER
    if config.quantize is Quantize.INT8:
        quantize_dynamic_int8(fp32, shipped)
    elif config.quantize is Quantize.FP16:
        convert_fp16(fp32, shipped)
    else:
        shutil.copyfile(fp32, shipped)
    (root / TOKENIZER).write_text(tok_json, encoding="utf-8")
    return TextEncoderSpec(file=TEXT_ENCODER, tokenizer=TOKENIZER, max_length=max_length)
