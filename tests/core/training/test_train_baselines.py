"""The floors: training-pool medoid and 1-nearest-neighbour on frozen features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from geoscope_core.training.baselines import main, medoid, nearest_neighbour
from geoscope_core.training.data import Sample


def test_medoid_minimises_total_distance():
    pts = [(45.8, 16.0), (45.3, 14.4), (43.5, 16.4), (41.3, 19.8), (25.2, 55.3)]
    samples = [Sample(Path(f"{i}.jpg"), la, lo, "HR") for i, (la, lo) in enumerate(pts)]
    m = medoid(samples)
    assert (m.lat, m.lon) == (43.5, 16.4)  # central to the others, nearest to Dubai
    # adding far-away weight on Tirana moves the medoid there
    samples += [Sample(Path("t.jpg"), 41.3, 19.8, "AL")] * 5
    assert (medoid(samples).lat, medoid(samples).lon) == (41.3, 19.8)


def test_nearest_neighbour_is_cosine():
    train = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    val = np.array([[10.0, 0.5], [0.1, 3.0], [2.0, 2.1]])
    np.testing.assert_array_equal(nearest_neighbour(train, val), [0, 1, 2])


def test_baselines_command_on_a_tiny_config(tmp_path, capsys):
    cfg = {
        "model_type": "cnn",
        "name": "b",
        "backbone": "tiny",
        "pretrained": False,
        "max_train": 30,
        "max_val": 10,
        "feature_cache": str(tmp_path / "f"),
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    assert main(["--config", str(path), "--json", str(tmp_path / "out.json")]) == 0
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["medoid"]["n"] == 10 and result["nn1"]["n"] == 10
    assert 0.0 <= result["nn1"]["country_acc"] <= 1.0
    assert json.loads(capsys.readouterr().out) == result
