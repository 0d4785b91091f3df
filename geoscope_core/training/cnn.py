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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geoscope_core.calibration import prior_of
from geoscope_core.errors import TrainingError
from geoscope_core.geo.balance import place_weights, rebalance
from geoscope_core.geo.cells import CellSet, kmeans_cells, semantic_cells
from geoscope_core.geo.gazetteer import get_gazetteer
from geoscope_core.runtime.decoding import Decoder
from geoscope_core.runtime.manifest import BundleKind, DecodingSpec
from geoscope_core.training import phases
from geoscope_core.training.backbones import build_backbone, set_trainable_blocks
from geoscope_core.training.checkpoint import describe_arch
from geoscope_core.training.config import CnnConfig
from geoscope_core.training.data import (
    Sample,
    ViewDataset,
    ViewRecipe,
    feature_cache_for,
    load_samples,
)
from geoscope_core.training.distributed import wrap_ddp
from geoscope_core.training.losses import haversine_smoothed_targets, soft_cross_entropy
from geoscope_core.training.models import GeoClassifier
from geoscope_core.training.report import evaluate_predictions

log = logging.getLogger(__name__)


def sample_weights(config: CnnConfig, samples: list[Sample]) -> np.ndarray:
    """Training weight [N] of each sample (mean 1): ``place_weights`` when
    ``config.balance_km`` is set (else all ones), then each country and each data source
    rebalanced by ``country_power`` / ``source_power`` (``geo.balance.rebalance``)."""
    w = np.ones(len(samples))
    if config.balance_km:
        lats = np.array([s.lat for s in samples])
        lons = np.array([s.lon for s in samples])
        w = place_weights(lats, lons, config.balance_km, config.balance_power)
    if config.country_power < 1.0:
        w = rebalance(w, [s.country_code for s in samples], config.country_power)
    if config.source_power < 1.0:
        w = rebalance(w, [s.set for s in samples], config.source_power)
    return w


def training_prior(
    config: CnnConfig, level: str, rows: Sequence[Mapping[str, Any]]
) -> tuple[float, ...]:
    """A model's training prior over its ``level`` places (label ``rows``, as a bundle
    holds them): the weighted share of its training photos' soft targets, as the
    protocol mixes it into a Bayes point's posterior (``DecodingSpec.prior``)."""
    samples = load_samples(config, config.train_split)
    weights = sample_weights(config, samples)
    cells = {level: CellSet.from_labels(level, [dict(r) for r in rows])}
    return prior_of(log_priors([level], level_targets(config, cells, samples), weights)[level])


def level_targets(
    config: CnnConfig, cells: dict[str, CellSet], samples: list[Sample]
) -> list[np.ndarray]:
    """Haversine-smoothed soft targets float32 [N, C_level] per level (cells order)."""
    lats = np.array([s.lat for s in samples])
    lons = np.array([s.lon for s in samples])
    return [
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


def log_priors(
    levels: list[str], targets: list[np.ndarray], weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Log of each level's training prior [C_level]: the ``weights`` [N]-weighted mean of
    its soft ``targets`` [N, C_level] (what the heads learn to favour when unsure)."""
    w = np.asarray(weights, np.float64)
    return {
        lv: np.log(np.clip((w[:, None] * t).sum(0) / w.sum(), 1e-8, None))
        for lv, t in zip(levels, targets, strict=True)
    }


@torch.no_grad()
def adjust_logits(net: GeoClassifier, priors: dict[str, np.ndarray], tau: float) -> None:
    """Logit adjustment baked into the heads: each level's bias lowered by ``tau * log
    prior`` (``priors`` from :func:`log_priors`), so the exported graph answers with it."""
    for lv, lp in priors.items():
        head = net.head[lv]
        assert isinstance(head, nn.Linear)  # for the type checker: the heads are Linear
        head.bias.sub_(torch.from_numpy(tau * lp).to(head.bias.dtype).to(head.bias.device))


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


def cell_decoder(cells: dict[str, CellSet], decoding: DecodingSpec) -> Decoder:
    """The runtime's decoder over the cells of each level (top first) with the model's
    ``decoding`` (``CnnConfig.decoding_spec``, which the exporter writes into the bundle
    as it is); without a gallery attached, a gallery spec decodes as if it had none.
    Logits are keyed by level name."""
    rows = {level: c.labels() for level, c in cells.items()}
    return Decoder.for_labels(BundleKind.CLASSIFIER, rows, decoding=decoding)


def evaluate_logits(
    logits: dict[str, np.ndarray],
    cells: dict[str, CellSet],
    samples: list[Sample],
    decoding: DecodingSpec,
) -> tuple[dict[str, Any], np.ndarray]:
    """GEO metrics dict and distances [N] km of per-level logits [N, C_level] decoded by
    :func:`cell_decoder` against ``samples`` (``report.evaluate_predictions``)."""
    predictions = cell_decoder(cells, decoding).decode_many(logits)
    return evaluate_predictions(predictions, samples)


def fit_heads(
    config: CnnConfig,
    features: np.ndarray,
    cells: dict[str, CellSet],
    targets: list[np.ndarray],
    weights: np.ndarray,
    device: str = "cpu",
) -> GeoClassifier:
    """The classifier's heads trained for ``config.epochs`` on frozen features float32
    [N, F] (one view per photo) with soft ``targets`` per level and sample ``weights``
    [N]; returns the classifier (its backbone an identity: only ``heads`` is meant to be
    used). Deterministic for a seed; no checkpoint, no validation (the out-of-source
    protocol's folds)."""
    from types import SimpleNamespace

    from geoscope_core.runtime.manifest import PreprocessSpec

    torch.manual_seed(config.seed)
    stub = SimpleNamespace(
        preprocess=PreprocessSpec(), module=nn.Identity(), feature_dim=features.shape[1]
    )
    net = GeoClassifier(
        stub,  # type: ignore[arg-type]
        {lv: len(c) for lv, c in cells.items()},
        config.hidden_dim,
        config.dropout,
    ).to(device)
    params = [p for n, p in net.named_parameters() if n.startswith(("neck", "head"))]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    ts = [torch.from_numpy(t).to(device) for t in targets]
    w = torch.from_numpy(np.asarray(weights, np.float32)).to(device)
    rng = np.random.default_rng(config.seed)
    net.train()
    for _ in range(config.epochs):
        order = rng.permutation(len(x))
        for b in range(0, len(order), config.batch_size):
            idx = torch.from_numpy(order[b : b + config.batch_size])
            out = net.heads(x[idx])
            loss = _loss(tuple(out[lv] for lv in net.levels), [t[idx] for t in ts], w[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    return net


@torch.no_grad()
def head_logits(net: GeoClassifier, features: np.ndarray) -> dict[str, np.ndarray]:
    """Per-level logits float32 [N, C_level] of ``net``'s heads on features [N, F]."""
    return _logits_from_features(net, np.ascontiguousarray(features, np.float32), "cpu")


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
    if resume and config.logit_adjust_tau:
        raise TrainingError(
            "a run with logit_adjust_tau cannot resume: its heads already carry the "
            "adjustment; train it again"
        )
    ctx, device, show, train_s, val_s = phases.start_run(config, progress)
    weights_np = sample_weights(config, train_s)
    cells = build_cells(config, train_s, weights_np)
    targets_np = level_targets(config, cells, train_s)
    priors = log_priors(list(cells), targets_np, weights_np)
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

    decoding = config.decoding_spec()
    tau = config.logit_adjust_tau

    def validate(logits: dict[str, np.ndarray]) -> tuple[dict[str, Any], np.ndarray]:
        adjusted = {lv: lg - tau * priors[lv] for lv, lg in logits.items()}
        return evaluate_logits(adjusted, cells, val_s, decoding)

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
    if tau:  # the checkpoint's heads answer as validated: the adjustment in their biases
        adjust_logits(net, priors, tau)
        if config.finetune_epochs:
            recorder.save(final, opt2, "finetune", config.finetune_epochs)
        else:
            recorder.save(final, opt, "head", config.epochs)
    return recorder.report(
        final, dists, {"n_train": len(train_s), "cells": {lv: len(c) for lv, c in cells.items()}}
    )
