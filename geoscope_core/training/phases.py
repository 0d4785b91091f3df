"""The steps of the training schedule that the CNN and contrastive trainers share.

Both train in two phases: the heads on cached frozen-backbone features for
``epochs``, then (optionally) with the last backbone blocks unfrozen on freshly
augmented views for ``finetune_epochs``. This module holds what the two do alike:
setting up the run, resuming, caching the split features, seeding and shuffling an
epoch, the optimisation pass, and the history entry and checkpoint that end an epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from geoscope_core.training.checkpoint import load_trainer_state, save_checkpoint
from geoscope_core.training.config import TrainConfig
from geoscope_core.training.data import (
    FeatureCache,
    RandomViewDataset,
    Sample,
    ViewRecipe,
    load_samples,
)
from geoscope_core.training.distributed import (
    DistContext,
    epoch_permutation,
    init_distributed,
    pick_device,
    seed_everything,
)
from geoscope_core.training.report import write_report

log = logging.getLogger(__name__)

#: Offsets of the fine-tuning phase's epoch seeds and shuffle keys from the head phase's.
FINETUNE_SEED_OFFSET = 500
FINETUNE_KEY_OFFSET = 10_000


def start_run(
    config: TrainConfig, progress: bool
) -> tuple[DistContext, str, bool, list[Sample], list[Sample]]:
    """Join the distributed run (if any), pick the device, seed every RNG and load the
    samples: (context, device, whether to show progress bars, train and val samples)."""
    ctx = init_distributed(config.device)
    device = pick_device(config.device, ctx)
    seed_everything(config.seed)
    train_s = load_samples(config, config.train_split)
    val_s = load_samples(config, config.val_split)
    return ctx, device, progress and ctx.is_main, train_s, val_s


def start_state(
    out: Path, net: nn.Module, optimizer: torch.optim.Optimizer, device: str, resume: bool
) -> dict[str, Any]:
    """The trainer state a run starts from: fresh, or (``resume``) that of the checkpoint in
    ``out``, whose weights are loaded into ``net``; ``optimizer`` (the head phase's) is
    restored while the checkpoint is still in the head phase."""
    if not resume:
        return {"phase": "head", "epoch": 0, "history": []}
    from safetensors.torch import load_model

    load_model(net, str(out / "model.safetensors"), device=device)
    saved = load_trainer_state(out, None)
    return load_trainer_state(out, optimizer) if saved["phase"] == "head" else saved


def finetune_optimizer(
    out: Path,
    config: TrainConfig,
    head_params: Iterable[nn.Parameter],
    block_params: Iterable[nn.Parameter],
    state: dict[str, Any],
    resume: bool,
) -> tuple[torch.optim.Optimizer, int]:
    """The fine-tuning optimiser (heads and unfrozen blocks at ``finetune_lr``) and the
    fine-tuning epoch to start at: restored from ``out`` when resuming inside that phase."""
    opt = torch.optim.AdamW(
        [{"params": head_params}, {"params": block_params}],
        lr=config.finetune_lr,
        weight_decay=config.weight_decay,
    )
    if resume and state["phase"] == "finetune":
        return opt, load_trainer_state(out, opt)["epoch"]
    return opt, 0


def encode_splits(
    cache: FeatureCache,
    config: TrainConfig,
    train_s: Sequence[Sample],
    val_s: Sequence[Sample],
    recipe: ViewRecipe,
    encoder: Callable[[torch.Tensor], torch.Tensor],
    ctx: DistContext,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Frozen-backbone features from ``cache`` (encoding what it lacks, shared across ranks):
    training float32 [N, feature_views, F] and validation centre crops [M, F]."""
    train_f, val_f = (
        cache.encode(
            [s.path for s in samples],
            views,
            recipe,
            encoder,
            batch_size=32,
            num_workers=config.num_workers,
            rank=ctx.rank,
            world=ctx.world,
            progress=progress,
            barrier=ctx.barrier,
        )
        for samples, views in ((train_s, config.feature_views), (val_s, 1))
    )
    return train_f, val_f[:, 0]


def epoch_key(epoch: int, finetune: bool) -> int:
    """The key of ``epoch``'s shuffle (with the run's seed): distinct per phase."""
    return (FINETUNE_KEY_OFFSET if finetune else 0) + epoch


def start_epoch(
    net: nn.Module, config: TrainConfig, n: int, epoch: int, ctx: DistContext, finetune: bool
) -> np.ndarray:
    """Seed the RNGs for ``epoch`` (0-based) of the head or fine-tuning phase and put ``net``
    in training mode; returns this rank's order of the ``n`` training samples."""
    seed_everything(config.seed * 1000 + (FINETUNE_SEED_OFFSET if finetune else 0) + epoch)
    net.train()
    return epoch_permutation(n, config.seed, epoch_key(epoch, finetune), ctx)


def feature_batches(
    features: np.ndarray,
    views: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    device: str,
    desc: str,
    progress: bool,
) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """(sample indices, cached features [B, F]) per batch of ``order``, for steps on the
    heads: sample i's features are those of its view ``views[i]`` in ``features``
    [N, V, F]."""
    from tqdm import tqdm

    for b in tqdm(range(0, len(order), batch_size), desc=desc, disable=not progress):
        idx = order[b : b + batch_size]
        yield idx, torch.from_numpy(features[idx, views[idx]]).to(device)


def view_batches(
    paths: Sequence[Path],
    recipe: ViewRecipe,
    epoch: int,
    order: np.ndarray,
    config: TrainConfig,
    device: str,
    progress: bool,
) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """(sample indices, uint8 pixels [B, S, S, 3]) per batch of fresh augmented views of the
    photos in ``order``, for fine-tuning ``epoch`` (0-based)."""
    from tqdm import tqdm

    loader = torch.utils.data.DataLoader(
        # torch types indices as Sequence[int]; Subset only indexes them (an int array does)
        torch.utils.data.Subset(
            RandomViewDataset(paths, recipe, epoch), cast(Sequence[int], order)
        ),
        batch_size=config.batch_size,
        num_workers=config.num_workers,
    )
    # the dataset hands back each view's photo index (Subset already maps through order)
    for pixels, idx in tqdm(loader, desc=f"fine-tune {epoch + 1}", disable=not progress):
        yield idx.numpy(), pixels.to(device)


def fit_epoch(
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[np.ndarray, torch.Tensor]],
    loss_of: Callable[[np.ndarray, torch.Tensor], torch.Tensor],
) -> float:
    """One optimisation step per (sample indices, input) batch; returns the mean loss per
    sample."""
    total, n = 0.0, 0
    for idx, x in batches:
        loss = loss_of(idx, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        n += len(idx)
    return total / n


@dataclass
class EpochRecorder:
    """The run's history, and its checkpoint at the end of each epoch (written by rank 0).

    ``labels`` (a classifier's cells) and ``tokenizer`` (a text tower's) go into the
    checkpoint with the model.
    """

    out: Path
    config: TrainConfig
    net: nn.Module
    arch: dict[str, Any]
    ctx: DistContext
    history: list[dict[str, Any]]
    labels: dict[str, list[dict[str, Any]]] | None = None
    tokenizer: Any = None

    def save(
        self,
        final: dict[str, Any],
        optimizer: torch.optim.Optimizer,
        phase: str = "head",
        epoch: int = 0,
    ) -> None:
        """Checkpoint with the history so far, ``final`` metrics and the trainer state after
        ``epoch`` (1-based) of ``phase``; only rank 0 writes."""
        if not self.ctx.is_main:
            return
        save_checkpoint(
            self.out,
            self.config,
            self.net,
            self.arch,
            self.labels,
            {"history": self.history, "final": final},
            tokenizer=self.tokenizer,
            optimizer=optimizer,
            trainer_state={"phase": phase, "epoch": epoch, "history": self.history},
        )

    def end_epoch(
        self,
        phase: str,
        epoch: int,
        loss: float,
        final: dict[str, Any],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        """Record ``epoch`` (1-based) of ``phase`` and checkpoint it; all ranks wait for that."""
        self.history.append({"phase": phase, "epoch": epoch, "loss": loss, "val": final})
        log.info("%s epoch %d loss %.4f val %s", phase, epoch, loss, final)
        self.save(final, optimizer, phase, epoch)
        self.ctx.barrier()

    def report(
        self, final: dict[str, Any], dists: np.ndarray, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """The run's report: rank 0 writes it (metrics.json with ``extra``, the accuracy plot
        of the validation distances ``dists`` km) and returns it; other ranks return the
        history and ``final`` metrics."""
        if not self.ctx.is_main:
            return {"history": self.history, "final": final}
        name = self.config.name
        return write_report(self.out, name, self.history, final, {name: dists}, extra)
