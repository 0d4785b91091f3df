"""tiny_checkpoint builds real checkpoints that load back as ExportableModels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from geoscope_core.errors import TrainingError
from geoscope_core.training.checkpoint import load_checkpoint
from geoscope_core.training.exportable import ExportableModel
from geoscope_core.training.testing import tiny_checkpoint


def test_tiny_classifier_checkpoint(tmp_path):
    path = tiny_checkpoint(tmp_path, "cnn")
    assert json.loads((path / "config.json").read_text())["model_type"] == "cnn"
    model = load_checkpoint(path)
    assert isinstance(model, ExportableModel)
    assert model.kind == "classifier"
    assert model.image_output_names() == ["embedding", "logits_country", "logits_cell"]
    labels = model.level_labels()
    assert list(labels) == ["country", "cell"]
    assert set(labels["cell"][0]) == {
        "id",
        "name",
        "parent",
        "lat",
        "lon",
        "population",
        "country_code",
    }
    pixels = torch.randint(0, 256, (3, model.input_size, model.input_size, 3), dtype=torch.uint8)
    with torch.no_grad():
        emb, lc, lcell = model.image_module()(pixels)
    assert emb.shape == (3, model.embedding_dim)
    np.testing.assert_allclose(emb.norm(dim=-1).numpy(), 1.0, rtol=1e-5)
    assert lc.shape == (3, len(labels["country"])) and lcell.shape == (3, len(labels["cell"]))
    with pytest.raises(TrainingError):
        model.text_module()


def test_tiny_zero_shot_checkpoint(tmp_path):
    model = load_checkpoint(tiny_checkpoint(tmp_path, "clip"))
    assert isinstance(model, ExportableModel)
    assert model.kind == "zero-shot" and model.level_labels() == {}
    assert 1.0 < model.logit_scale <= 100.0
    texts = ["A Street View photo in Croatia.", "A photo in the town of Tirana, Albania."]
    emb = model.encode_text(texts)
    assert emb.shape == (2, model.embedding_dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    enc = model.tokenize(texts)
    with torch.no_grad():
        direct = model.text_module()(enc["input_ids"], enc["attention_mask"]).numpy()
    np.testing.assert_allclose(direct, emb, atol=1e-5)
    assert json.loads(model.tokenizer_json())["model"]["type"] == "WordPiece"
    pixels = torch.zeros((1, model.input_size, model.input_size, 3), dtype=torch.uint8)
    with torch.no_grad():
        (img,) = model.image_module()(pixels)
    assert img.shape == (1, model.embedding_dim)


def test_load_checkpoint_refuses_non_checkpoint(tmp_path):
    with pytest.raises(TrainingError, match="not a checkpoint"):
        load_checkpoint(tmp_path)
