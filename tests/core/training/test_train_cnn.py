"""Tiny CNN training end to end on the shared geo data: train, report, load, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from geoscope_core.errors import TrainingError
from geoscope_core.geo.cells import CellSet
from geoscope_core.training.checkpoint import load_checkpoint
from geoscope_core.training.cnn import evaluate_logits
from geoscope_core.training.config import CnnConfig
from geoscope_core.training.data import Sample, ViewRecipe, load_samples, make_view
from geoscope_core.training.loop import train


def tiny_config(tmp_path, **kw) -> CnnConfig:
    base = dict(
        name="tiny", backbone="tiny", pretrained=False, levels=("country", "cell"),
        kmeans_k=8, epochs=2, max_train=48, max_val=16, feature_views=2, batch_size=16,
        feature_cache=str(tmp_path / "features"), device="cpu",
    )  # fmt: skip
    base.update(kw)
    return CnnConfig(**base)


def _pixels(samples: list[Sample], size: int) -> torch.Tensor:
    return torch.from_numpy(np.stack([make_view(s.path, 0, ViewRecipe(size)) for s in samples]))


def test_train_writes_checkpoint_report_and_loads_back(tmp_path):
    cfg = tiny_config(tmp_path)
    out = tmp_path / "run"
    report = train(cfg, out, progress=False)
    assert [h["epoch"] for h in report["history"]] == [1, 2]
    assert all(np.isfinite(h["loss"]) for h in report["history"])
    final = report["final"]
    assert final["n"] == 16 and set(final["acc_km"]) == {"1", "25", "200", "750", "2500"}
    # the shared data names sets and scopes: the report gives each
    val_sets = {s.set for s in load_samples(cfg, "val")}
    assert set(final["by_set"]) == val_sets
    assert sum(m["n"] for m in final["by_set"].values()) == 16
    assert sum(m["n"] for m in final["by_scope"].values()) == 16
    for name in ("config.json", "arch.json", "model.safetensors", "metrics.json", "accuracy.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text())["final"] == final
    # the features of every (photo, view) were cached once
    assert len(list((tmp_path / "features").rglob("*.npy"))) == 48 * 2 + 16

    model = load_checkpoint(out)
    labels = model.level_labels()
    cells = {lv: CellSet.from_labels(lv, rows) for lv, rows in labels.items()}
    assert len(cells["cell"]) == 8
    val = load_samples(cfg, "val")
    with torch.no_grad():
        outs = model.image_module()(_pixels(val, model.input_size))
    logits = {lv: o.numpy() for lv, o in zip(["country", "cell"], outs[1:], strict=True)}
    again, _ = evaluate_logits(logits, cells, val, cfg.decoding_spec())
    # same predictions up to the float16 feature cache used during training
    assert again["country_acc"] == pytest.approx(final["country_acc"], abs=1 / 16)
    assert again["median_km"] == pytest.approx(final["median_km"], rel=0.05, abs=5.0)


def test_resume_continues_to_identical_weights(tmp_path):
    full = tmp_path / "full"
    train(tiny_config(tmp_path, epochs=2), full, progress=False)
    part = tmp_path / "part"
    train(tiny_config(tmp_path, epochs=1), part, progress=False)
    with pytest.raises(TrainingError, match="--resume"):
        train(tiny_config(tmp_path, epochs=1), part, progress=False)
    report = train(tiny_config(tmp_path, epochs=2), part, resume=True, progress=False)
    assert [h["epoch"] for h in report["history"]] == [1, 2]
    a, b = load_file(str(full / "model.safetensors")), load_file(str(part / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)


def test_finetune_phase_unfreezes_last_blocks(tmp_path):
    cfg = tiny_config(tmp_path, epochs=1, unfreeze_blocks=1, finetune_epochs=1)
    out = tmp_path / "ft"
    report = train(cfg, out, progress=False)
    assert [h["phase"] for h in report["history"]] == ["head", "finetune"]
    before = load_file(str(out / "model.safetensors"))
    # only the last stage of the backbone moved away from the seeded initialisation
    torch.manual_seed(cfg.seed)
    from geoscope_core.training.backbones import build_backbone

    init = build_backbone("tiny", pretrained=False).module.state_dict()
    first = "backbone.stages.0.0.weight"
    last = "backbone.stages.3.0.weight"
    torch.testing.assert_close(before[first], init["stages.0.0.weight"])
    assert not torch.allclose(before[last], init["stages.3.0.weight"])


def test_missing_torchvision_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-hub"))
    from geoscope_core.training.backbones import build_backbone

    with pytest.raises(TrainingError, match="pretrained=false"):
        build_backbone("resnet18", pretrained=True)
    assert build_backbone("resnet18", pretrained=False).feature_dim == 512


def test_balanced_training_weights_dense_places_down(tmp_path):
    """With balance_km the campus photos weigh less than the world's, and training runs."""
    from geoscope_core.training.cnn import sample_weights

    cfg = tiny_config(tmp_path, balance_km=25.0, balance_power=0.0, max_train=0)
    samples = load_samples(cfg, "train")
    w = sample_weights(cfg, samples)
    assert w.mean() == pytest.approx(1.0)
    campus = np.array([s.set == "campus_beersheva" for s in samples])
    world = np.array([s.scope == "world" for s in samples])
    assert campus.any() and w[campus].mean() < 0.05 * w[world].mean()
    assert np.allclose(sample_weights(tiny_config(tmp_path), samples), 1.0)
    report = train(tiny_config(tmp_path, balance_km=25.0, epochs=1), tmp_path / "b", progress=False)
    assert np.isfinite(report["history"][0]["loss"])
