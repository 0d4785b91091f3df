"""The side-by-side table of runs on the world-scope validation photos."""

from __future__ import annotations

import json

import pytest
import torch

from geoscope_core.errors import DataError, TrainingError
from geoscope_core.training.backbones import remap_by_position
from geoscope_core.training.compare import main


def _metrics(acc: float, n: int) -> dict:
    keys = ("1", "25", "200", "750", "2500")
    return {"n": n, "acc_km": {k: acc for k in keys}, "country_acc": acc, "geoscore": 1000 * acc}


def test_report_prints_world_and_its_sets(tmp_path, capsys):
    run = tmp_path / "runs" / "mine"
    run.mkdir(parents=True)
    final = {
        **_metrics(0.9, 30),  # pooled: left out of the table
        "by_scope": {"world": _metrics(0.4, 20), "regional": _metrics(0.99, 10)},
        "by_set": {"im2gps3k_dev": _metrics(0.3, 12), "croatia_streetview": _metrics(0.99, 10)},
    }
    (run / "metrics.json").write_text(json.dumps({"final": final}))
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"medoid": final, "nn1": final}))
    assert main([str(run), "--floors", str(floors)]) == 0
    out = capsys.readouterr().out
    assert "| world | mine | 20 | 40.0% |" in out
    assert "| im2gps3k_dev | mine | 12 | 30.0% |" in out
    assert "croatia_streetview" not in out  # a regional set
    assert "90.0%" not in out  # nor the pooled figures
    assert "floor: medoid" in out and "floor: 1-NN" in out
    assert main([str(tmp_path / "nothing")]) == 2
    with pytest.raises(DataError):
        from geoscope_core.training.compare import load_rows

        load_rows([tmp_path / "nothing"], None)


def test_remap_by_position_renames_or_refuses():
    src = {"a.w": torch.zeros(2, 3), "a.b": torch.ones(2)}
    dst = {"x.weight": torch.empty(2, 3), "x.bias": torch.empty(2)}
    out = remap_by_position(src, dst)
    assert list(out) == ["x.weight", "x.bias"] and torch.equal(out["x.bias"], torch.ones(2))
    with pytest.raises(TrainingError):
        remap_by_position({"a.w": torch.zeros(3, 2), "a.b": torch.ones(2)}, dst)
    with pytest.raises(TrainingError):
        remap_by_position({"a.w": torch.zeros(2, 3)}, dst)
