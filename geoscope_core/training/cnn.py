"""CNN transfer learning: a geocell classifier on a pretrained backbone.

Schedule: (1) the backbone is frozen and every training photo is encoded once per
view (``feature_views``: the centre crop plus augmented views, cached on disk), the
heads train on those cached features for ``epochs``; (2) optionally the last
``unfreeze_blocks`` blocks of the backbone are unfrozen and trained with the heads
on freshly augmented photos for ``finetune_epochs`` (BatchNorm statistics stay
frozen). Targets are haversine-smoothed over the cells of each level.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geoscope_core.errors import TrainingError
from geoscope_core.geo.balance import place_weights
from geoscope_core.geo.cells import CellSet, kmeans_cells, semantic_cells
from geoscope_core.geo.gazetteer import get_gazetteer
from geoscope_core.runtime.decoding import Decoder
from geoscope_core.runtime.manifest import BundleKind, DecodingSpec, Refine
from geoscope_core.training import phases
from geoscope_core.training.backbones import build_backbone, set_trainable_blocks
from geoscope_core.training.checkpoint import describe_arch
from geoscope_core.training.config import CnnConfig
from geoscope_core.training.data import (
    Sample,
    ViewDataset,
    ViewRecipe,
    feature_cache_for,
)
from geoscope_core.training.distributed import wrap_ddp
from geoscope_core.training.losses import haversine_smoothed_targets, soft_cross_entropy
from geoscope_core.training.models import GeoClassifier
from geoscope_core.training.report import evaluate_predictions

log = logging.getLogger(__name__)


def sample_weights(config: CnnConfig, samples: list[Sample]) -> np.ndarray:
    """Training weight [N] of each sample (mean 1): ``place_weights`` when
    ``config.balance_km`` is set, else all ones."""
    if not config.balance_km:
        return np.ones(len(samples))
    lats = np.array([s.lat for s in samples])
    lons = np.array([s.lon for s in samples])
    return place_weights(lats, lons, config.balance_km, config.balance_power)


def build_cells(
    config: CnnConfig, samples: list[Sample], weights: np.ndarray | None = None
) -> dict[str, CellSet]:
    """Cells per level from the training coordinates (deterministic); k-means cells
    follow ``weights`` [N] (default: :func:`sample_weights`)."""
    lats = np.array([s.lat for s in samples])
    lons = np.array([s.lon for s in samples])
    gaz = get_gazetteer()
    cells: dict[str, CellSet] = {}
    for level in config.levels:
        if level == "cell":
            cells[level] = kmeans_cells(
                lats,
                lons,
                config.kmeans_k,
                seed=config.seed,
                gaz=gaz,
                weights=sample_weights(config, samples) if weights is None else weights,
            )
        else:
            cells[level] = semantic_cells(gaz, level, lats, lons, config.min_samples)
    return cells


def cell_decoder(cells: dict[str, CellSet], top_k: int, radius_km: float = 150.0) -> Decoder:
    """The runtime's decoder over the cells of each level (top first), as the exporter
    ships them: beam search down the levels, and the point refined WEIGHTED over the
    ``top_k`` best candidates within ``radius_km`` (the exporter writes both into the
    bundle's DecodingSpec). Logits are keyed by level name."""
    decoding = DecodingSpec(refine=Refine.WEIGHTED, refine_k=top_k, refine_radius_km=radius_km)
    rows = {level: c.labels() for level, c in cells.items()}
    return Decoder.for_labels(BundleKind.CLASSIFIER, rows, decoding=decoding)


def evaluate_logits(
    logits: dict[str, np.ndarray],
    cells: dict[str, CellSet],
    samples: list[Sample],
    top_k: int,
    radius_km: float = 150.0,
) -> tuple[dict[str, Any], np.ndarray]:
    """GEO metrics dict and distances [N] km of per-level logits [N, C_level] decoded by
    :func:`cell_decoder` against ``samples`` (``report.evaluate_predictions``)."""
    predictions = cell_decoder(cells, top_k, radius_km).decode_many(logits)
    return evaluate_predictions(predictions, samples)


class _Heads(nn.Module):
    """DDP-wrappable view of the classifier's heads: features [N, F] -> logits per level."""

    def __init__(self, net: GeoClassifier) -> None:
        super().__init__()
        self.net = net

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net.heads(feats)
        return tuple(out[lv] for lv in self.net.levels)


def _loss(
    outs: tuple[torch.Tensor, ...], targets: list[torch.Tensor], weights: torch.Tensor
) -> torch.Tensor:
    return sum(
        (soft_cross_entropy(o, t, weights) for o, t in zip(outs, targets, strict=True)),
        torch.zeros(()),
    )


@torch.no_grad()
def _logits_from_features(net: GeoClassifier, feats: np.ndarray, device: str) -> dict:
    net.eval()
    out: dict[str, list[np.ndarray]] = {lv: [] for lv in net.levels}
    for i in range(0, len(feats), 512):
        res = net.heads(torch.from_numpy(feats[i : i + 512]).to(device))
        for lv in net.levels:
            out[lv].append(res[lv].float().cpu().numpy())
    return {lv: np.concatenate(v) for lv, v in out.items()}


@torch.no_grad()
def _logits_from_photos(
    net: GeoClassifier, paths: list[Path], recipe: ViewRecipe, device: str, workers: int
) -> dict:
    net.eval()
    loader = torch.utils.data.DataLoader(
        ViewDataset(paths, [(i, 0) for i in range(len(paths))], recipe),
        batch_size=32,
        num_workers=workers,
    )
    out: dict[str, list[np.ndarray]] = {lv: [] for lv in net.levels}
    for pixels, _ in loader:
        res = net(pixels.to(device))[1:]
        for lv, r in zip(net.levels, res, strict=True):
            out[lv].append(r.float().cpu().numpy())
    return {lv: np.concatenate(v) for lv, v in out.items()}


def train_cnn(
    config: CnnConfig, out: Path, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train the classifier described by ``config`` into ``out``; returns the report."""
    ctx, device, show, train_s, val_s = phases.start_run(config, progress)
    weights_np = sample_weights(config, train_s)
    cells = build_cells(config, train_s, weights_np)
    lats = np.array([s.lat for s in train_s])
    lons = np.array([s.lon for s in train_s])
    targets_np = [
        haversine_smoothed_targets(
            lats,
            lons,
            c.lat,
            c.lon,
            c.assign(lats, lons),
            config.country_smoothing_km if level == "country" else config.smoothing_km,
        )
        for level, c in cells.items()
    ]
    weights_np = weights_np.astype(np.float32)
    backbone = build_backbone(config.backbone, config.pretrained, config.backbone_weights)
    pixels = backbone.input_at(config.input_size)
    net = GeoClassifier(
        backbone, {lv: len(c) for lv, c in cells.items()}, config.hidden_dim, config.dropout
    ).to(device)
    labels = {lv: c.labels() for lv, c in cells.items()}
    log.info(
        "%d train / %d val photos; cells: %s",
        len(train_s),
        len(val_s),
        {lv: len(c) for lv, c in cells.items()},
    )

    head_params = [p for n, p in net.named_parameters() if n.startswith(("neck", "head"))]
    opt = torch.optim.AdamW(head_params, lr=config.lr, weight_decay=config.weight_decay)
    state = phases.start_state(out, net, opt, device, resume)
    history: list[dict[str, Any]] = state["history"]
    recorder = phases.EpochRecorder(
        out, config, net, describe_arch(net, pixels.size), ctx, history, labels
    )
    val_paths = [s.path for s in val_s]

    def validate(logits: dict[str, np.ndarray]) -> tuple[dict[str, Any], np.ndarray]:
        return evaluate_logits(logits, cells, val_s, config.refine_top_k, config.refine_radius_km)

    def targets(idx: np.ndarray) -> list[torch.Tensor]:
        return [torch.from_numpy(t[idx]).to(device) for t in targets_np]

    def weights(idx: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(weights_np[idx]).to(device)

    # -- phase 1: frozen backbone, cached features ---------------------------------------
    recipe = ViewRecipe.of(config, pixels)
    cache = feature_cache_for(config, recipe, part_dims=backbone.part_dims)
    set_trainable_blocks(backbone, 0)
    net.backbone.eval()

    def encoder(px: torch.Tensor) -> torch.Tensor:
        return net.backbone(net.pixel(px.to(device)))

    need_cache = state["phase"] == "head" and (state["epoch"] < config.epochs or not history)
    if need_cache or config.finetune_epochs == 0:
        train_f, val_f = phases.encode_splits(
            cache, config, train_s, val_s, recipe, encoder, ctx, show
        )
    heads = wrap_ddp(_Heads(net), ctx, device)

    def head_loss(idx: np.ndarray, x: torch.Tensor) -> torch.Tensor:
        return _loss(heads(x), targets(idx), weights(idx))

    final: dict[str, Any] = history[-1]["val"] if history else {}
    dists: np.ndarray = np.zeros(0)
    for epoch in range(
        state["epoch"] if state["phase"] == "head" else config.epochs, config.epochs
    ):
        order = phases.start_epoch(net, config, len(train_s), epoch, ctx, finetune=False)
        net.backbone.eval()
        views = np.random.default_rng([config.seed, phases.epoch_key(epoch, False), 7]).integers(
            0, config.feature_views, len(train_s)
        )
        desc = f"epoch {epoch + 1}/{config.epochs}"
        batches = phases.feature_batches(
            train_f, views, order, config.batch_size, device, desc, show
        )
        loss = phases.fit_epoch(opt, batches, head_loss)
        final, dists = validate(_logits_from_features(net, val_f, device))
        recorder.end_epoch("head", epoch + 1, loss, final, opt)

    # -- phase 2: unfreeze the last blocks, train on fresh augmented views ---------------
    if config.finetune_epochs:
        params = set_trainable_blocks(backbone, config.unfreeze_blocks)
        opt2, start = phases.finetune_optimizer(out, config, head_params, params, state, resume)
        model = wrap_ddp(net, ctx, device)
        train_paths = [s.path for s in train_s]

        def finetune_loss(idx: np.ndarray, pixels: torch.Tensor) -> torch.Tensor:
            return _loss(model(pixels)[1:], targets(idx), weights(idx))

        for epoch in range(start, config.finetune_epochs):
            order = phases.start_epoch(net, config, len(train_s), epoch, ctx, finetune=True)
            net.backbone.eval()  # BatchNorm statistics stay frozen
            batches = phases.view_batches(train_paths, recipe, epoch, order, config, device, show)
            loss = phases.fit_epoch(opt2, batches, finetune_loss)
            final, dists = validate(
                _logits_from_photos(net, val_paths, recipe, device, config.num_workers)
            )
            recorder.end_epoch("finetune", epoch + 1, loss, final, opt2)

    if not history:
        raise TrainingError("nothing trained: epochs and finetune_epochs are both 0")
    if len(dists) == 0:  # resumed after the last epoch: measure again
        final, dists = validate(_logits_from_photos(net, val_paths, recipe, device, 0))
    return recorder.report(
        final, dists, {"n_train": len(train_s), "cells": {lv: len(c) for lv, c in cells.items()}}
    )
