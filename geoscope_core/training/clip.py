"""Contrastive training: lite StreetCLIP, or any HF CLIP checkpoint.

Both towers stay frozen while their outputs are cached (image features per view,
text-tower features per caption); the projection heads and the temperature learn
with the label-aware symmetric contrastive loss. Captions are synthesised per
training photo at each granularity of ``caption_levels`` (``captions_per_sample``
random templates each, street-view or ordinary-photo wording), and every step
draws one caption per photo at a random granularity. With ``unfreeze_blocks`` and
``finetune_epochs`` the last image-tower blocks then train on fresh augmented views
(the text side keeps its cached features). ``epochs=0`` only measures zero-shot
accuracy and saves the checkpoint (any CLIP checkpoint as is, e.g. StreetCLIP).

Validation decodes the val photos as a zero-shot bundle does (:mod:`.zeroshot`);
with ``exclude_countries`` the report adds zero-shot country accuracy on the val
photos of those held-out countries against chance (1 / number of countries).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geoscope_core.errors import TrainingError
from geoscope_core.geo.captions import caption_for_location
from geoscope_core.geo.gazetteer import get_gazetteer
from geoscope_core.runtime.manifest import PreprocessSpec
from geoscope_core.training import phases
from geoscope_core.training.backbones import build_backbone, set_trainable_blocks
from geoscope_core.training.checkpoint import describe_arch
from geoscope_core.training.config import ClipConfig
from geoscope_core.training.data import (
    Sample,
    ViewDataset,
    ViewRecipe,
    backbone_weights_id,
    feature_cache_for,
)
from geoscope_core.training.distributed import wrap_ddp
from geoscope_core.training.losses import label_aware_contrastive_loss
from geoscope_core.training.models import (
    ClipNet,
    HfClip,
    LiteClip,
    build_text_tower,
    load_hf_clip,
)
from geoscope_core.training.report import evaluate_predictions
from geoscope_core.training.zeroshot import zero_shot_decoder

log = logging.getLogger(__name__)

STYLES = ("streetview", "photo")


def build_captions(
    config: ClipConfig, samples: list[Sample]
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic captions of the training photos.

    Returns (unique caption texts, caption index int [N, M] into them, caption level
    int [N, M] into ``config.caption_levels``, place keys int [N, n_levels]) with
    M = len(caption_levels) * captions_per_sample. Two photos share a place key at a
    level when they lie in the same place of that level (same city, region, ...).
    """
    gaz = get_gazetteer()
    lats = np.array([s.lat for s in samples])
    lons = np.array([s.lon for s in samples])
    keys = np.zeros((len(samples), len(config.caption_levels)), dtype=np.int64)
    for j, level in enumerate(config.caption_levels):
        ids = gaz.ids_at(lats, lons, level)
        uniq = {v: i for i, v in enumerate(dict.fromkeys(ids))}
        keys[:, j] = [uniq[v] for v in ids]
    texts: dict[str, int] = {}
    m = len(config.caption_levels) * config.captions_per_sample
    index = np.zeros((len(samples), m), dtype=np.int64)
    levels = np.zeros((len(samples), m), dtype=np.int64)
    rng = np.random.default_rng([config.seed, 17])
    for i, s in enumerate(samples):
        col = 0
        for j, level in enumerate(config.caption_levels):
            for _ in range(config.captions_per_sample):
                style = STYLES[int(rng.integers(len(STYLES)))]
                text = caption_for_location(s.lat, s.lon, gaz, level, rng=rng, style=style)
                index[i, col] = texts.setdefault(text, len(texts))
                levels[i, col] = j
                col += 1
    return list(texts), index, levels, keys


def positives_matrix(keys: np.ndarray, cap_levels: np.ndarray) -> np.ndarray:
    """bool [B, B]: caption j (about photo j's place at level cap_levels[j]) is true of
    photo i when photo i lies in the same place at that level. ``keys`` int [B, L]."""
    return keys[:, cap_levels] == keys[np.arange(len(keys)), cap_levels][None, :]


class TextFeatureBank:
    """Frozen text-tower features per text, computed once (batched) and memoised.

    ``tower``: (input_ids, attention_mask) -> [N, H]; results float32 [n, H].
    """

    def __init__(self, tower: Callable, tokenizer: Any, max_length: int, device: str) -> None:
        self.tower = tower
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.device = device
        self._memo: dict[str, np.ndarray] = {}

    @torch.no_grad()
    def __call__(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            enc = self.tokenizer(
                chunk,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            feats = self.tower(
                enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)
            )
            for t, f in zip(chunk, feats.float().cpu().numpy(), strict=True):
                self._memo[t] = f
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)


class _Heads(nn.Module):
    """DDP-wrappable: (image features, text features) -> (image emb, text emb, logit scale)."""

    def __init__(self, net: ClipNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, img: torch.Tensor, txt: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.net.project_image(img), self.net.project_text(txt), self.net.logit_scale


class _Full(nn.Module):
    """DDP-wrappable: (pixels, text features) -> (image emb, text emb, logit scale)."""

    def __init__(self, net: ClipNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, pixels: torch.Tensor, txt: torch.Tensor) -> tuple[torch.Tensor, ...]:
        img = self.net.image_features(self.net.pixel(pixels))
        return self.net.project_image(img), self.net.project_text(txt), self.net.logit_scale


def build_clip_model(
    config: ClipConfig,
) -> tuple[ClipNet, Any, PreprocessSpec, tuple[str, str]]:
    """(model, tokenizer, its input, (tower name, weights id)) from pretrained parts.

    The last item keys the image feature cache; a lite model shares it with a CNN run
    on the same backbone and view recipe.
    """
    if config.clip_model:
        hf, tok = load_hf_clip(config.clip_model)
        return hf, tok, hf.preprocess, ("hf-clip", config.clip_model)
    backbone = build_backbone(config.backbone, config.pretrained, config.backbone_weights)
    tower, tok = build_text_tower(config.text_tower)
    net = LiteClip(backbone, tower, config.embed_dim, config.dropout, config.temperature)
    image_id = (config.backbone, backbone_weights_id(config))
    return net, tok, backbone.input_at(config.input_size), image_id


class ZeroShotEvaluator:
    """Zero-shot metrics of a model on photos whose image embeddings are given."""

    def __init__(self, config: ClipConfig, net: ClipNet, bank: TextFeatureBank, device: str):
        self.config = config
        self.net = net
        self.bank = bank
        self.device = device
        self.gaz = get_gazetteer()

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        feats = torch.from_numpy(self.bank(texts)).to(self.device)
        return self.net.project_text(feats).float().cpu().numpy()

    def __call__(
        self, image_emb: np.ndarray, samples: list[Sample]
    ) -> tuple[dict[str, Any], np.ndarray]:
        self.net.eval()
        scale = float(self.net.logit_scale.detach().exp().clamp(max=100.0))
        decoder = zero_shot_decoder(
            self.gaz, self.embed_texts, scale, self.config.top_countries, self.config.top_cities
        )
        predictions = decoder.decode_many(decoder.logits({"embedding": image_emb}, "embedding"))
        metrics, distances = evaluate_predictions(predictions, samples)
        held = set(self.config.exclude_countries)
        if held:
            true_cc = [s.country_code for s in samples]
            pred_cc = [p.country_code for p in predictions]
            sel = [i for i, s in enumerate(samples) if s.country_code in held]
            n_countries = len(decoder.table("country").rows)
            metrics["heldout"] = {
                "countries": sorted(held),
                "n": len(sel),
                "country_acc": float(np.mean([pred_cc[i] == true_cc[i] for i in sel]))
                if sel
                else None,
                "chance": 1.0 / max(n_countries, 1),
                "n_candidate_countries": n_countries,
            }
        metrics["logit_scale"] = scale
        return metrics, distances


@torch.no_grad()
def _embed_photos(net: ClipNet, feats: np.ndarray, device: str) -> np.ndarray:
    net.eval()
    out = [
        net.project_image(torch.from_numpy(feats[i : i + 512]).to(device)).float().cpu().numpy()
        for i in range(0, len(feats), 512)
    ]
    return np.concatenate(out)


@torch.no_grad()
def _embed_photo_files(
    net: ClipNet, paths: list[Path], recipe: ViewRecipe, device: str
) -> np.ndarray:
    net.eval()
    loader = torch.utils.data.DataLoader(
        ViewDataset(paths, [(i, 0) for i in range(len(paths))], recipe), batch_size=32
    )
    return np.concatenate(
        [net.encode_image(px.to(device)).float().cpu().numpy() for px, _ in loader]
    )


def train_clip(
    config: ClipConfig, out: Path, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train (or, with epochs=0, only evaluate) the contrastive model; returns the report."""
    ctx, device, show, train_s, val_s = phases.start_run(config, progress)
    net, tok, pixels, image_id = build_clip_model(config)
    net.to(device)
    arch = describe_arch(net, pixels.size)

    trainable = [
        p
        for n, p in net.named_parameters()
        if n.startswith(
            (
                "image_proj",
                "text_proj",
                "logit_scale",
                "clip.visual_projection",
                "clip.text_projection",
                "clip.logit_scale",
            )
        )
    ]
    for p in net.parameters():
        p.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    if not config.learn_temperature:
        net.logit_scale.requires_grad_(False)
        trainable = [p for p in trainable if p is not net.logit_scale]
    opt = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    state = phases.start_state(out, net, opt, device, resume)
    history: list[dict[str, Any]] = state["history"]
    recorder = phases.EpochRecorder(out, config, net, arch, ctx, history, tokenizer=tok)

    text_tower = net.text_features
    bank = TextFeatureBank(text_tower, tok, config.text_max_length, device)
    recipe = ViewRecipe.of(config, pixels)
    cache = feature_cache_for(config, recipe, image_id)

    def encoder(px: torch.Tensor) -> torch.Tensor:
        return net.image_features(net.pixel(px.to(device)))

    texts, cap_index, cap_level, keys = build_captions(config, train_s)
    log.info("%d train / %d val photos, %d distinct captions", len(train_s), len(val_s), len(texts))
    text_f = bank(texts)
    train_f, val_f = phases.encode_splits(cache, config, train_s, val_s, recipe, encoder, ctx, show)
    val_paths = [s.path for s in val_s]
    evaluator = ZeroShotEvaluator(config, net, bank, device)
    heads = wrap_ddp(_Heads(net), ctx, device)

    def contrastive_loss(
        model: nn.Module, epoch_rng: np.random.Generator
    ) -> Callable[[np.ndarray, torch.Tensor], torch.Tensor]:
        """The loss of a batch for :func:`.phases.fit_epoch`: each photo's caption is drawn from
        ``epoch_rng``; ``model`` maps (image input, text features) to (image emb, text emb,
        logit scale)."""

        def loss_of(idx: np.ndarray, x: torch.Tensor) -> torch.Tensor:
            col = epoch_rng.integers(0, cap_index.shape[1], len(idx))
            cidx = cap_index[idx, col]
            lv = cap_level[idx, col]
            pos = torch.from_numpy(positives_matrix(keys[idx], lv)).to(device)
            txt = torch.from_numpy(text_f[cidx]).to(device)
            ie, te, scale = model(x, txt)
            return label_aware_contrastive_loss(ie, te, scale, pos)

        return loss_of

    final: dict[str, Any] = history[-1]["val"] if history else {}
    dists = np.zeros(0)
    start = state["epoch"] if state["phase"] == "head" else config.epochs
    for epoch in range(start, config.epochs):
        order = phases.start_epoch(net, config, len(train_s), epoch, ctx, finetune=False)
        rng = np.random.default_rng([config.seed, phases.epoch_key(epoch, False), 11])
        views = rng.integers(0, config.feature_views, len(train_s))
        desc = f"epoch {epoch + 1}/{config.epochs}"
        batches = phases.feature_batches(
            train_f, views, order, config.batch_size, device, desc, show
        )
        loss = phases.fit_epoch(opt, batches, contrastive_loss(heads, rng))
        final, dists = evaluator(_embed_photos(net, val_f, device), val_s)
        recorder.end_epoch("head", epoch + 1, loss, final, opt)

    if config.finetune_epochs:
        if isinstance(net, HfClip):
            blocks = [*net.clip.vision_model.encoder.layers, net.clip.vision_model.post_layernorm]
            params = [
                p for b in blocks[len(blocks) - config.unfreeze_blocks :] for p in b.parameters()
            ]
            for p in params:
                p.requires_grad_(True)
        else:
            params = set_trainable_blocks(net.backbone_info, config.unfreeze_blocks)
        opt2, f_start = phases.finetune_optimizer(out, config, trainable, params, state, resume)
        full = wrap_ddp(_Full(net), ctx, device)
        paths = [s.path for s in train_s]
        for epoch in range(f_start, config.finetune_epochs):
            order = phases.start_epoch(net, config, len(train_s), epoch, ctx, finetune=True)
            if not isinstance(net, HfClip):
                net.backbone.eval()  # BatchNorm statistics stay frozen
            rng = np.random.default_rng([config.seed, phases.epoch_key(epoch, True), 11])
            batches = phases.view_batches(paths, recipe, epoch, order, config, device, show)
            loss = phases.fit_epoch(opt2, batches, contrastive_loss(full, rng))
            final, dists = evaluator(_embed_photo_files(net, val_paths, recipe, device), val_s)
            recorder.end_epoch("finetune", epoch + 1, loss, final, opt2)

    if len(dists) == 0:  # zero-shot only (epochs=0), or resumed after the last epoch
        emb = (
            _embed_photos(net, val_f, device)
            if not config.finetune_epochs
            else _embed_photo_files(net, val_paths, recipe, device)
        )
        final, dists = evaluator(emb, val_s)
        if not history:
            recorder.save(final, opt)
    report = recorder.report(
        final,
        dists,
        {
            "n_train": len(train_s),
            "n_captions": len(texts),
            "caption_sha1": hashlib.sha1("\n".join(texts).encode()).hexdigest()[:12],
        },
    )
    if not np.isfinite(final.get("median_km", 0.0)):
        raise TrainingError("validation produced non-finite distances")
    return report
