"""Checkpoints: a directory of plain files, never pickled modules.

::

    config.json            the training config (``model_type`` "cnn" | "clip")
    decoding.json          the model's DecodingSpec (``config.decoding_spec()``), which
                           training validated with; export copies it into the manifest
    arch.json              what rebuilding the architecture needs (feature width, level
                           sizes, HF tower configs, input size, mean/std)
    model.safetensors      the model's tensors
    labels/<level>.json    classifier cells, one row per logit
    metrics.json           per-epoch and final validation metrics
    text/                  tokenizer (and nothing else) of a text tower
    optimizer.safetensors  optimizer tensors, with trainer_state.json, for --resume
    trainer_state.json     epoch/phase counters and the optimizer's param groups

:func:`load_checkpoint` returns an :class:`~geoscope_core.training.exportable.ExportableModel`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import nn

from geoscope_core.errors import TrainingError
from geoscope_core.runtime.manifest import PreprocessSpec
from geoscope_core.training.backbones import build_backbone
from geoscope_core.training.config import ClipConfig, CnnConfig, TrainConfig, config_from_dict
from geoscope_core.training.models import (
    ClipNet,
    GeoClassifier,
    HfClip,
    ImageEncoder,
    LiteClip,
    TextEncoder,
    build_text_tower,
    load_hf_clip,
)

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
ARCH_NAME = "arch.json"
WEIGHTS_NAME = "model.safetensors"
METRICS_NAME = "metrics.json"
DECODING_NAME = "decoding.json"
OPTIMIZER_NAME = "optimizer.safetensors"
STATE_NAME = "trainer_state.json"


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TrainingError(f"checkpoint file missing or unreadable: {path} ({e})") from e
    except json.JSONDecodeError as e:
        raise TrainingError(f"checkpoint file is not valid JSON: {path} ({e})") from e


def save_checkpoint(
    out: Path,
    config: TrainConfig,
    model: nn.Module,
    arch: dict[str, Any],
    labels: dict[str, list[dict[str, Any]]] | None = None,
    metrics: dict[str, Any] | None = None,
    tokenizer: Any = None,
    optimizer: torch.optim.Optimizer | None = None,
    trainer_state: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (unwrapped from DDP) and its companions to the directory ``out``."""
    from safetensors.torch import save_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)
    _write_json(out / CONFIG_NAME, config.to_dict())
    _write_json(out / DECODING_NAME, config.decoding_spec().to_dict())
    arch = dict(arch)
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out / "text"))
        arch["tokenizer_dir"] = "text"
    _write_json(out / ARCH_NAME, arch)
    tmp = out / (WEIGHTS_NAME + ".tmp")
    save_model(model, str(tmp))
    tmp.replace(out / WEIGHTS_NAME)
    for level, rows in (labels or {}).items():
        _write_json(out / "labels" / f"{level}.json", rows)
    if metrics is not None:
        _write_json(out / METRICS_NAME, metrics)
    if optimizer is not None:
        save_optimizer(out, optimizer, trainer_state or {})
    log.info("checkpoint written to %s", out)
    return out


def save_optimizer(out: Path, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Optimizer tensors to safetensors, scalars and param groups to JSON (no pickle)."""
    from safetensors.torch import save_file

    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, pstate in sd["state"].items():
        for key, value in pstate.items():
            name = f"{idx}.{key}"
            if torch.is_tensor(value):
                tensors[name] = value.detach().cpu().contiguous()
            else:
                scalars[name] = value
    save_file(tensors, str(out / OPTIMIZER_NAME))
    _write_json(
        out / STATE_NAME,
        {**state, "optimizer": {"param_groups": sd["param_groups"], "scalars": scalars}},
    )


def load_trainer_state(path: Path, optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    """Restore ``optimizer`` from a checkpoint (if given) and return the trainer state."""
    from safetensors.torch import load_file

    path = Path(path)
    state = _read_json(path / STATE_NAME)
    if optimizer is not None:
        tensors = load_file(str(path / OPTIMIZER_NAME))
        per_param: dict[int, dict[str, Any]] = {}
        for name, value in [*tensors.items(), *state["optimizer"]["scalars"].items()]:
            idx, _, key = name.partition(".")
            per_param.setdefault(int(idx), {})[key] = value
        try:
            optimizer.load_state_dict(
                {"state": per_param, "param_groups": state["optimizer"]["param_groups"]}
            )
        except (ValueError, KeyError) as e:
            raise TrainingError(f"optimizer state in {path} does not match the model: {e}") from e
    return state


def load_config_of(path: Path) -> TrainConfig:
    """The training config stored in checkpoint ``path``."""
    return config_from_dict(_read_json(Path(path) / CONFIG_NAME))


def read_labels(path: Path, levels: list[str]) -> dict[str, list[dict[str, Any]]]:
    return {lv: _read_json(Path(path) / "labels" / f"{lv}.json") for lv in levels}


def build_model(
    config: TrainConfig, arch: dict[str, Any], root: Path | None = None
) -> tuple[GeoClassifier | ClipNet, Any]:
    """Rebuild the architecture recorded in ``arch`` (random weights) and its tokenizer.

    ``root``: the checkpoint folder, for relative paths in ``arch`` (the tokenizer).
    """
    arch = dict(arch)
    if root is not None and "tokenizer_dir" in arch:
        arch["tokenizer_dir"] = str(Path(root) / arch["tokenizer_dir"])
    if isinstance(config, CnnConfig):
        backbone = build_backbone(config.backbone, arch=arch.get("backbone_arch", {}))
        return (
            GeoClassifier(backbone, arch["level_sizes"], config.hidden_dim, config.dropout),
            None,
        )
    if not isinstance(config, ClipConfig):
        raise TrainingError(f"unknown config type {type(config).__name__}")
    if "clip_config" in arch:
        return load_hf_clip(config.clip_model, arch)
    backbone = build_backbone(config.backbone, arch=arch.get("backbone_arch", {}))
    tower, tok = build_text_tower(config.text_tower, arch)
    return LiteClip(backbone, tower, config.embed_dim, config.dropout, config.temperature), tok


class _Input:
    """The model's ``preprocess``: its net's input spec (its backbone's) at the trained
    ``input_size``, with the mean/std (0-1 scale, per RGB channel, 6 decimals) its
    pixel input normalises with."""

    net: GeoClassifier | ClipNet
    input_size: int

    @property
    def preprocess(self) -> PreprocessSpec:
        return replace(
            self.net.preprocess,
            size=self.input_size,
            mean=_rgb(self.net.pixel.mean),
            std=_rgb(self.net.pixel.std),
        )


def _rgb(values: torch.Tensor) -> tuple[float, float, float]:
    r, g, b = (round(float(v), 6) for v in values.flatten())
    return r, g, b


@dataclass
class ClassifierModel(_Input):
    """A trained geocell classifier (``ExportableModel`` with kind "classifier")."""

    net: GeoClassifier
    config: CnnConfig
    labels: dict[str, list[dict[str, Any]]]
    input_size: int
    kind: Literal["classifier", "zero-shot"] = "classifier"
    logit_scale: float = 1.0

    @property
    def embedding_dim(self) -> int:
        return int(self.net.backbone_info.feature_dim)

    def image_module(self) -> nn.Module:
        return self.net

    def image_output_names(self) -> list[str]:
        return ["embedding", *(f"logits_{lv}" for lv in self.net.levels)]

    def level_labels(self) -> dict[str, list[dict[str, Any]]]:
        return {lv: self.labels[lv] for lv in self.net.levels}

    def text_module(self) -> nn.Module:
        raise TrainingError("a classifier checkpoint has no text tower")

    def tokenizer_json(self) -> str:
        raise TrainingError("a classifier checkpoint has no tokenizer")

    def encode_text(self, texts: list[str]) -> np.ndarray:
        raise TrainingError("a classifier checkpoint has no text tower")


@dataclass
class ZeroShotModel(_Input):
    """A trained image-text model (``ExportableModel`` with kind "zero-shot")."""

    net: ClipNet
    tokenizer: Any
    config: ClipConfig
    input_size: int
    kind: Literal["classifier", "zero-shot"] = "zero-shot"

    @property
    def embedding_dim(self) -> int:
        if isinstance(self.net, HfClip):
            return self.net.embed_dim
        return int(self.net.image_proj.norm.normalized_shape[0])

    @property
    def logit_scale(self) -> float:
        return float(self.net.logit_scale.detach().exp().clamp(max=100.0))

    def image_module(self) -> nn.Module:
        return ImageEncoder(self.net)

    def image_output_names(self) -> list[str]:
        return ["embedding"]

    def level_labels(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    def text_module(self) -> nn.Module:
        return TextEncoder(self.net)

    def tokenizer_json(self) -> str:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise TrainingError("the text tower's tokenizer has no fast (tokenizers) form")
        return str(backend.to_str())

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Texts -> {"input_ids", "attention_mask"} int64 [N, L] (padded, truncated)."""
        enc = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.config.text_max_length,
            return_tensors="pt",
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    @torch.no_grad()
    def encode_text(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        """float32 [len(texts), D] L2-normalised text embeddings (eval mode)."""
        self.net.eval()
        device = next(self.net.parameters()).device
        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenize(texts[i : i + batch_size])
            emb = self.net.encode_text(
                enc["input_ids"].to(device), enc["attention_mask"].to(device)
            )
            out.append(emb.float().cpu().numpy())
        if not out:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)


def load_checkpoint(path: Path, device: str = "cpu") -> ClassifierModel | ZeroShotModel:
    """Load checkpoint ``path`` in eval mode on ``device``; raises TrainingError."""
    from safetensors.torch import load_model

    path = Path(path)
    if not (path / WEIGHTS_NAME).is_file():
        raise TrainingError(f"{path} is not a checkpoint (no {WEIGHTS_NAME})")
    config = load_config_of(path)
    arch = _read_json(path / ARCH_NAME)
    net, tok = build_model(config, arch, root=path)
    try:
        load_model(net, str(path / WEIGHTS_NAME), strict=True, device="cpu")
    except (RuntimeError, OSError) as e:
        raise TrainingError(f"weights in {path} do not match the architecture: {e}") from e
    net.to(device).eval()
    size = int(arch["input_size"])
    if isinstance(config, CnnConfig):
        assert isinstance(net, GeoClassifier)  # what build_model builds for a CnnConfig
        return ClassifierModel(net, config, read_labels(path, list(arch["level_sizes"])), size)
    if not isinstance(config, ClipConfig):
        raise TrainingError(f"unknown model_type in {path}")
    assert not isinstance(net, GeoClassifier)  # build_model builds a ClipNet for a ClipConfig
    return ZeroShotModel(net, tok, config, size)


def describe_arch(net: nn.Module, input_size: int) -> dict[str, Any]:
    """The ``arch.json`` facts of a model built by this package."""
    net = getattr(net, "module", net)
    if isinstance(net, GeoClassifier):
        return {
            "input_size": input_size,
            "backbone_arch": net.backbone_info.arch,
            "feature_dim": net.backbone_info.feature_dim,
            # each head is the nn.Linear GeoClassifier builds
            "level_sizes": {
                lv: int(cast(nn.Linear, net.head[lv]).out_features) for lv in net.levels
            },
        }
    if isinstance(net, LiteClip):
        return {
            "input_size": input_size,
            "backbone_arch": net.backbone_info.arch,
            "feature_dim": net.backbone_info.feature_dim,
            "text_config": net.text.encoder.config.to_dict(),
        }
    if isinstance(net, HfClip):
        return {"input_size": input_size, "clip_config": net.clip.config.to_dict()}
    raise TrainingError(f"cannot describe a {type(net).__name__}")
