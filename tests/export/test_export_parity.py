"""The fp32 PyTorch vs ONNX Runtime parity check and the ONNX graphs' contracts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from torch import nn

from geoscope_core.errors import ConfigError, ExportError
from geoscope_export import ExportConfig
from geoscope_export.bundle_writer import export_model
from geoscope_export.onnx_export import (
    check_parity,
    export_image_encoder,
    export_text_encoder,
    session,
)

from .conftest import TinyClassifier, TinyZeroShot


def _pixels(n: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_parity_passes_for_a_faithful_graph(tmp_path: Path) -> None:
    model = TinyClassifier()
    path = export_image_encoder(
        model.image_module(), 32, model.image_output_names(), tmp_path / "m.onnx"
    )
    report = check_parity(
        model.image_module(), path, {"pixels": _pixels(6)}, model.image_output_names()
    )
    assert set(report.max_abs_diff) == set(model.image_output_names())
    assert all(v < 1e-4 for v in report.max_abs_diff.values())


def test_parity_raises_on_a_corrupted_graph(tmp_path: Path) -> None:
    model = TinyClassifier()
    path = export_image_encoder(
        model.image_module(), 32, model.image_output_names(), tmp_path / "m.onnx"
    )
    graph = onnx.load(str(path))
    # perturb the classifier head's weights slightly (a broken export/optimisation)
    target = next(i for i in graph.graph.initializer if len(i.dims) == 2)
    arr = numpy_helper.to_array(target).copy()
    arr *= 1.05
    target.CopyFrom(numpy_helper.from_array(arr, target.name))
    onnx.save(graph, str(path))
    with pytest.raises(ExportError, match="parity failed"):
        check_parity(model.image_module(), path, {"pixels": _pixels(6)}, model.image_output_names())


class _BatchDependent(nn.Module):
    """Traced at batch 2, the Python branch freezes: the graph disagrees at other batches."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        emb, *logits = self.inner(pixels)
        if pixels.shape[0] == 2:
            logits = [lg * 0.0 for lg in logits]
        return (emb, *logits)


def test_export_model_refuses_a_graph_that_fails_parity(tmp_path: Path) -> None:
    model = TinyClassifier()
    broken = _BatchDependent(model.image_module())
    model.image_module = lambda: broken  # type: ignore[method-assign]
    out = tmp_path / "broken"
    with pytest.raises(ExportError, match="parity failed"):
        export_model(model, out, ExportConfig(quantize="none", validate=False))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no half-written bundle or staging folder


def test_text_encoder_graph_has_dynamic_batch_and_sequence(tmp_path: Path) -> None:
    model = TinyZeroShot()
    path = export_text_encoder(model.text_module(), 16, tmp_path / "t.onnx")
    sess = session(path)
    for batch, length in ((1, 3), (4, 11)):
        ids = np.random.default_rng(0).integers(2, 500, (batch, length)).astype(np.int64)
        mask = np.ones_like(ids)
        mask[0, -1] = 0
        (emb,) = sess.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        with torch.no_grad():
            ref = model.text_module()(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        assert emb.shape == (batch, model.embedding_dim)
        np.testing.assert_allclose(emb, ref, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quantize": "int4"},
        {"levels": ("country", "street")},
        {"levels": ()},
        {"cities_per_country": 0},
        {"opset": 16},
        {"name": "a/b"},
        {"int8_method": "magic"},
    ],
)
def test_export_config_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        ExportConfig(**kwargs)


def test_export_config_orders_levels_coarse_to_fine() -> None:
    assert ExportConfig(levels=("city", "country")).levels == ("country", "city")
