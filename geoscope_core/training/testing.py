"""Tiny real checkpoints for tests of other parts (export, runtime): seconds on CPU.

No pretrained weights are read except the packaged MiniLM *tokenizer* (its
vocabulary), which the tiny text tower shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from geoscope_core.errors import ConfigError
from geoscope_core.training.backbones import build_backbone
from geoscope_core.training.checkpoint import describe_arch, save_checkpoint
from geoscope_core.training.config import ClipConfig, CnnConfig, TrainConfig
from geoscope_core.training.models import GeoClassifier, LiteClip, build_text_tower

#: (id, name, lat, lon, country_code, continent) of the tiny classifier's countries.
TINY_COUNTRIES = (
    ("HR", "Croatia", 45.1, 15.2, "HR", "EU"),
    ("AL", "Albania", 41.15, 20.17, "AL", "EU"),
    ("AE", "United Arab Emirates", 23.42, 53.85, "AE", "AS"),
    ("US", "United States", 39.83, -98.58, "US", "NA"),
)
#: (id, name, lat, lon, country_code) of the tiny classifier's cells.
TINY_CELLS = (
    ("HR/Grad Zagreb/Zagreb", "Zagreb", 45.81, 15.98, "HR"),
    ("HR/Splitsko-Dalmatinska/Split", "Split", 43.51, 16.44, "HR"),
    ("AL/Tirane/Tirana", "Tirana", 41.33, 19.82, "AL"),
    ("AE/Dubai/Dubai", "Dubai", 25.2, 55.27, "AE"),
    ("US/New York/New York City", "New York City", 40.71, -74.01, "US"),
    ("US/California/Los Angeles", "Los Angeles", 34.05, -118.24, "US"),
)


def _label(
    id_: str, name: str, parent: str, lat: float, lon: float, population: int, country_code: str
) -> dict:
    return {
        "id": id_,
        "name": name,
        "parent": parent,
        "lat": lat,
        "lon": lon,
        "population": population,
        "country_code": country_code,
    }


def tiny_labels() -> dict[str, list[dict]]:
    countries = [
        _label(i, n, cont, la, lo, 1_000_000, cc) for i, n, la, lo, cc, cont in TINY_COUNTRIES
    ]
    cells = [_label(i, n, cc, la, lo, 100_000, cc) for i, n, la, lo, cc in TINY_CELLS]
    return {"country": countries, "cell": cells}


def tiny_checkpoint(tmp_dir: Path, model_type: Literal["cnn", "clip"] = "cnn") -> Path:
    """Build a tiny random model of ``model_type`` and save it as a real checkpoint.

    "cnn": classifier with levels country (4) and cell (6), input 64 px, embedding 32.
    "clip": lite StreetCLIP with the tiny image tower and a 2-layer random BERT text
    tower (MiniLM tokenizer), embed_dim 16. Returns the checkpoint directory
    ``tmp_dir/"tiny-<model_type>"``.
    """
    torch.manual_seed(0)
    out = Path(tmp_dir) / f"tiny-{model_type}"
    backbone = build_backbone("tiny", pretrained=False)
    config: TrainConfig
    net: GeoClassifier | LiteClip
    labels, tok = None, None
    if model_type == "cnn":
        labels = tiny_labels()
        config = CnnConfig(
            name="tiny-cnn",
            backbone="tiny",
            pretrained=False,
            levels=("country", "cell"),
            kmeans_k=len(TINY_CELLS),
            epochs=0,
        )
        net = GeoClassifier(backbone, {lv: len(rows) for lv, rows in labels.items()}, dropout=0.0)
    elif model_type == "clip":
        clip_config = ClipConfig(
            name="tiny-clip",
            backbone="tiny",
            pretrained=False,
            text_tower="tiny-bert",
            embed_dim=16,
            epochs=0,
        )
        tower, tok = build_text_tower("tiny-bert")
        net = LiteClip(backbone, tower, clip_config.embed_dim, 0.0, clip_config.temperature)
        config = clip_config
    else:
        raise ConfigError(f"model_type must be 'cnn' or 'clip', got {model_type!r}")
    net.eval()
    return save_checkpoint(
        out,
        config,
        net,
        describe_arch(net, backbone.preprocess.size),
        labels=labels,
        metrics={"final": {}},
        tokenizer=tok,
    )


def tiny_hf_clip(tmp_dir: Path) -> Path:
    """Save a tiny random HF ``CLIPModel`` (32 px images, 16-d embeddings) with the
    packaged MiniLM tokenizer to ``tmp_dir/"tiny-hf-clip"``; loadable with
    ``CLIPModel.from_pretrained`` and ``AutoTokenizer.from_pretrained``."""
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel

    from geoscope_core.training.models import minilm_path

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(minilm_path())
    config = CLIPConfig(
        text_config={
            "vocab_size": tok.vocab_size,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 64,
            "pad_token_id": tok.pad_token_id,
            "bos_token_id": tok.cls_token_id,
            "eos_token_id": tok.sep_token_id,
        },
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        },
        projection_dim=16,
    )
    out = Path(tmp_dir) / "tiny-hf-clip"
    CLIPModel(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out
