"""DistributedDataParallel through torchrun: 2 CPU processes with the gloo backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from geoscope_core.training.checkpoint import load_checkpoint


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path):
    cfg = {
        "model_type": "cnn",
        "name": "ddp",
        "backbone": "tiny",
        "pretrained": False,
        "levels": ["country", "cell"],
        "kmeans_k": 8,
        "epochs": 2,
        "max_train": 40,
        "max_val": 12,
        "feature_views": 2,
        "batch_size": 8,
        "device": "cpu",
        "feature_cache": str(tmp_path / "features"),
    }
    path = tmp_path / "ddp.json"
    path.write_text(json.dumps(cfg))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "geoscope_core",
        "train",
        "cnn",
        "--config",
        str(path),
        "--out",
        str(out),
        "--no-progress",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()]
    assert proc.returncode == 0, "\n".join(errors[:10])
    report = json.loads((out / "metrics.json").read_text())
    assert report["world_size"] == 2
    assert [h["epoch"] for h in report["history"]] == [1, 2]
    assert report["final"]["n"] == 12
    # the two ranks shared the feature cache: each (photo, view) encoded exactly once
    assert len(list((tmp_path / "features").rglob("*.npy"))) == 40 * 2 + 12
    assert load_checkpoint(out).kind == "classifier"
