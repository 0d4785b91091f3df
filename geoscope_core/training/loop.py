"""Training entry point: ``train(config, out)`` runs the trainer of the config's type.

The trainers (:mod:`.cnn`, :mod:`.clip`) share :mod:`.distributed` (device, seeds,
DDP) and :mod:`.report`; this module only chooses one of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geoscope_core.errors import TrainingError
from geoscope_core.training.clip import train_clip
from geoscope_core.training.cnn import train_cnn
from geoscope_core.training.config import ClipConfig, CnnConfig, TrainConfig

log = logging.getLogger(__name__)

#: Fields a resumed run may change (to train for longer); others come from the checkpoint.
EXTENDABLE = frozenset({"epochs", "finetune_epochs"})

#: The trainer of each config type: (config, out, resume=, progress=) -> report.
TRAINERS: dict[type[TrainConfig], Callable[..., dict[str, Any]]] = {
    CnnConfig: train_cnn,
    ClipConfig: train_clip,
}


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
    trainer = TRAINERS.get(type(config))
    if trainer is None:
        raise TrainingError(f"unknown config type {type(config).__name__}")
    return trainer(config, out, resume=resume, progress=progress)
