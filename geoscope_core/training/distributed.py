"""Device, seed and distributed plumbing shared by the trainers.

Launched by ``torchrun`` (``WORLD_SIZE`` > 1) a run uses DistributedDataParallel with
NCCL on CUDA and gloo on CPU; rank 0 writes checkpoints and reports.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from geoscope_core.errors import TrainingError


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
