"""Training entry point, device/seed/distributed plumbing and the training report.

``train(config, out)`` dispatches on the config type to :mod:`.cnn` or :mod:`.clip`.
Launched by ``torchrun`` (``WORLD_SIZE`` > 1) it runs DistributedDataParallel with
NCCL on CUDA and gloo on CPU; rank 0 writes checkpoints and reports.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from geoscope_core.errors import TrainingError
from geoscope_core.training.config import ClipConfig, CnnConfig, TrainConfig

log = logging.getLogger(__name__)

#: Fields a resumed run may change (to train for longer); others come from the checkpoint.
EXTENDABLE = frozenset({"epochs", "finetune_epochs"})


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def init_distributed(device: str) -> DistContext:
    """Join the process group torchrun set up (env ``WORLD_SIZE``/``RANK``), if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
    return DistContext(rank, world, local)


def pick_device(requested: str, ctx: DistContext) -> str:
    """ "auto" -> CUDA when present (one GPU per local rank), else CPU."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainingError("device cuda asked for but CUDA is not available")
        if requested == "cuda":
            requested = f"cuda:{ctx.local_rank % torch.cuda.device_count()}"
        torch.cuda.set_device(requested)
    return requested


def wrap_ddp(module: nn.Module, ctx: DistContext, device: str) -> nn.Module:
    """``module`` in DistributedDataParallel when the run is distributed, else as is."""
    if not ctx.active:
        return module
    ids = [torch.device(device).index] if device.startswith("cuda") else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_permutation(n: int, seed: int, epoch: int, ctx: DistContext) -> np.ndarray:
    """This rank's share of a shuffle of range(n) that depends only on (seed, epoch).

    Every rank gets the same number of indices (the tail wraps around), as DDP needs.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    per_rank = -(-n // ctx.world)
    perm = np.resize(perm, per_rank * ctx.world)
    return perm[ctx.rank :: ctx.world]


def write_report(
    out: Path,
    name: str,
    history: list[dict[str, Any]],
    final: dict[str, Any],
    distances_km: dict[str, np.ndarray],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """metrics.json (per-epoch history, final metrics) and accuracy.png in ``out``."""
    from geoscope_core.metrics import plot_accuracy_vs_distance

    world = dist.get_world_size() if dist.is_initialized() else 1
    report = {
        "name": name,
        "world_size": world,
        "history": history,
        "final": final,
        **(extra or {}),
    }
    (out / "metrics.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    if distances_km:
        plot_accuracy_vs_distance(distances_km, out / "accuracy.png")
    return report


def train(
    config: TrainConfig, out: Path, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train ``config`` into checkpoint folder ``out``; returns the report (metrics.json)."""
    out = Path(out)
    if resume:
        from geoscope_core.training.checkpoint import load_config_of

        stored = load_config_of(out)
        a, b = stored.to_dict(), config.to_dict()
        changed = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        if changed - EXTENDABLE:
            log.warning("resuming with the config stored in %s (ignoring %s)", out, changed)
            config = stored
    elif (out / "trainer_state.json").exists():
        raise TrainingError(f"{out} already holds a checkpoint; pass --resume or another --out")
    if isinstance(config, CnnConfig):
        from geoscope_core.training.cnn import train_cnn

        return train_cnn(config, out, resume=resume, progress=progress)
    if isinstance(config, ClipConfig):
        from geoscope_core.training.clip import train_clip

        return train_clip(config, out, resume=resume, progress=progress)
    raise TrainingError(f"unknown config type {type(config).__name__}")
