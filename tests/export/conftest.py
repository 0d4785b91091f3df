"""Tiny models satisfying ``ExportableModel`` (random weights, seconds on CPU)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

# the export tests need the 'export' extra: without it they skip, the scan tests still run
pytest.importorskip("torch", reason="needs the 'export' extra (torch)")
pytest.importorskip("onnx", reason="needs the 'export' extra (onnx)")

import torch
from torch import nn

from geoscope_core.runtime.manifest import PreprocessSpec

COUNTRIES = [
    {"id": "HR", "name": "Croatia", "parent": "EU", "lat": 45.1, "lon": 15.2,
     "population": 4_000_000, "country_code": "HR"},
    {"id": "US", "name": "United States", "parent": "NA", "lat": 39.8, "lon": -98.6,
     "population": 330_000_000, "country_code": "US"},
    {"id": "AL", "name": "Albania", "parent": "EU", "lat": 41.1, "lon": 20.1,
     "population": 2_800_000, "country_code": "AL"},
]  # fmt: skip
CELLS = [
    {"id": "HR/Grad Zagreb", "name": "Grad Zagreb", "parent": "HR", "lat": 45.81,
     "lon": 15.98, "population": 800_000, "country_code": "HR"},
    {"id": "HR/Splitsko-Dalmatinska", "name": "Splitsko-Dalmatinska", "parent": "HR",
     "lat": 43.5, "lon": 16.44, "population": 450_000, "country_code": "HR"},
    {"id": "US/New York", "name": "New York", "parent": "US", "lat": 40.71,
     "lon": -74.0, "population": 19_000_000, "country_code": "US"},
    {"id": "AL/Tirane", "name": "Tirane", "parent": "AL", "lat": 41.33, "lon": 19.82,
     "population": 900_000, "country_code": "AL"},
]  # fmt: skip


class _Pre(nn.Module):
    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).float() / 255.0
        return (x - self.mean) / self.std


class TinyCnnImage(nn.Module):
    """uint8 [N, S, S, 3] -> (embedding [N, D], logits_country, logits_admin1)."""

    def __init__(self, dim: int, n_levels: list[int], spec: PreprocessSpec) -> None:
        super().__init__()
        self.pre = _Pre(spec.mean, spec.std)
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU6(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU6(),
            nn.Conv2d(32, dim, 3, stride=2, padding=1), nn.ReLU6(),
        )  # fmt: skip
        self.heads = nn.ModuleList(nn.Linear(dim, n) for n in n_levels)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.body(self.pre(pixels)).mean(dim=(2, 3))
        emb = nn.functional.normalize(feats, dim=-1)
        return (emb, *(head(feats) for head in self.heads))


class TinyClassifier:
    """A classifier ``ExportableModel`` over COUNTRIES and CELLS (admin1)."""

    kind = "classifier"
    preprocess = PreprocessSpec(32, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    embedding_dim = 24
    logit_scale = 1.0

    def __init__(self, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self._image = TinyCnnImage(
            self.embedding_dim, [len(COUNTRIES), len(CELLS)], self.preprocess
        ).eval()

    def image_module(self) -> nn.Module:
        return self._image

    def image_output_names(self) -> list[str]:
        return ["embedding", "logits_country", "logits_admin1"]

    def level_labels(self) -> dict[str, list[dict[str, Any]]]:
        return {"country": list(COUNTRIES), "admin1": list(CELLS)}

    def text_module(self) -> nn.Module:
        raise NotImplementedError("a classifier has no text tower")

    def tokenizer_json(self) -> str:
        raise NotImplementedError("a classifier has no tokenizer")

    def encode_text(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError("a classifier has no text tower")


class TinyTextTower(nn.Module):
    """(input_ids, attention_mask) int64 [N, L] -> L2-normalised embedding [N, D]."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.layer = nn.Sequential(
            nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 32), nn.LayerNorm(32)
        )
        self.proj = nn.Linear(32, dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.layer(self.emb(input_ids))
        m = attention_mask.unsqueeze(-1).float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return nn.functional.normalize(self.proj(pooled), dim=-1)


class TinyZeroShot:
    """A zero-shot ``ExportableModel``: tiny CNN image tower + tiny text tower."""

    kind = "zero-shot"
    preprocess = PreprocessSpec(
        32, mean=(0.48145466, 0.4578275, 0.40821073), std=(0.26862954, 0.26130258, 0.27577711)
    )
    embedding_dim = 16
    logit_scale = 50.0

    def __init__(self, seed: int = 0) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        torch.manual_seed(seed)
        self._image = TinyCnnImage(self.embedding_dim, [], self.preprocess).eval()
        vocab = {"[UNK]": 0, "[PAD]": 1}
        tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        self._tok = tok
        self._text = TinyTextTower(512, self.embedding_dim).eval()

    def image_module(self) -> nn.Module:
        return self._image

    def image_output_names(self) -> list[str]:
        return ["embedding"]

    def level_labels(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    def text_module(self) -> nn.Module:
        return self._text

    def tokenizer_json(self) -> str:
        return self._tok.to_str()

    def _ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        # hash words into the vocabulary: deterministic, distinct texts -> distinct ids
        rows = [[1 + (sum(map(ord, w)) * 31) % 511 for w in t.split()][:16] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.ones((len(rows), width), dtype=torch.int64)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        return ids, mask

    def encode_text(self, texts: list[str]) -> np.ndarray:
        with torch.no_grad():
            return self._text(*self._ids(texts)).numpy().astype(np.float32)


@pytest.fixture
def tiny_classifier() -> TinyClassifier:
    return TinyClassifier()


@pytest.fixture
def tiny_zero_shot() -> TinyZeroShot:
    return TinyZeroShot()


@pytest.fixture(scope="session")
def tiny_cnn_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """TRAIN's tiny random classifier checkpoint (levels country, cell; 64 px)."""
    from geoscope_core.training.testing import tiny_checkpoint

    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"), "cnn")


@pytest.fixture(scope="session")
def tiny_clip_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """TRAIN's tiny random lite-StreetCLIP checkpoint (embed_dim 16)."""
    from geoscope_core.training.testing import tiny_checkpoint

    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"), "clip")
