"""ONNX Runtime I/O binding (used on CUDA): the same outputs as a plain run, and a bound
run that fails falls back to plain runs. Run here on the CPU provider, which binds too."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.runtime.predictor import Predictor
from tests.bundles import BLUE, GREEN, RED, solid_image


def _pixels() -> np.ndarray:
    return np.stack([solid_image(c) for c in (RED, GREEN, BLUE)])


def test_bound_run_gives_the_plain_run_outputs(zs_bundle: Path) -> None:
    p = Predictor.load(zs_bundle, provider="cpu")
    assert p.io_binding is False  # on by default only with the CUDA provider
    plain_preds, plain_emb = p.predict_with_embeddings(_pixels())
    p.io_binding = True
    bound_preds, bound_emb = p.predict_with_embeddings(_pixels())
    assert p.io_binding is True  # the bound run worked
    np.testing.assert_array_equal(bound_emb, plain_emb)
    assert bound_preds == plain_preds


def test_failed_binding_falls_back_to_plain_runs(
    zs_bundle: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    p = Predictor.load(zs_bundle, provider="cpu")
    want_preds, want_emb = p.predict_with_embeddings(_pixels())
    calls = []

    def broken(feed: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        calls.append(len(feed))
        raise RuntimeError("no device memory")

    monkeypatch.setattr(p, "_run_bound", broken)
    p.io_binding = True
    with caplog.at_level(logging.WARNING):
        preds, emb = p.predict_with_embeddings(_pixels())
        again, _ = p.predict_with_embeddings(_pixels())
    np.testing.assert_array_equal(emb, want_emb)
    assert preds == want_preds == again
    assert calls == [3] and p.io_binding is False  # tried once, then plain runs only
    assert "I/O binding failed" in caplog.text
