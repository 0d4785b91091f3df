"""Training configs: JSON round trip, overrides and validation."""

from __future__ import annotations

import json

import pytest

from geoscope_core.errors import ConfigError
from geoscope_core.training.config import (
    ClipConfig,
    CnnConfig,
    config_from_dict,
    load_config,
    parse_override,
)


def test_json_round_trip_keeps_types():
    cfg = CnnConfig(levels=("country", "admin1"), exclude_countries=("HR",), kmeans_k=12)
    back = config_from_dict(json.loads(cfg.to_json()))
    assert back == cfg and isinstance(back, CnnConfig)
    assert json.loads(cfg.to_json())["model_type"] == "cnn"
    clip = ClipConfig(caption_levels=("country", "city"), embed_dim=64)
    assert config_from_dict(clip.to_dict()) == clip


def test_overrides_parse_json_strings_and_lists(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model_type": "cnn", "epochs": 3, "lr": 0.01}))
    cfg = load_config(
        "cnn", path, ["epochs=5", "levels=country,cell", "pretrained=false", "name=x"]
    )
    assert (cfg.epochs, cfg.lr, cfg.levels, cfg.pretrained, cfg.name) == (
        5, 0.01, ("country", "cell"), False, "x",
    )  # fmt: skip
    assert parse_override('exclude_countries=["AL","AE"]') == ("exclude_countries", ["AL", "AE"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"levels": ("country", "planet")},
        {"levels": ()},
        {"epochs": -1},
        {"batch_size": 0},
        {"finetune_epochs": 2},  # without unfreeze_blocks
        {"exclude_countries": ("hr",)},
        {"smoothing_km": -1.0},
        {"device": "tpu"},
    ],
)
def test_invalid_cnn_configs_raise(kwargs):
    with pytest.raises(ConfigError):
        CnnConfig(**kwargs)


def test_invalid_inputs_raise_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown CnnConfig field"):
        load_config("cnn", None, ["epochz=3"])
    with pytest.raises(ConfigError, match="bad value"):
        load_config("cnn", None, ["epochs=many"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config("cnn", None, ["epochs"])
    with pytest.raises(ConfigError, match="not 'clip'"):
        config_from_dict({"model_type": "cnn"}, "clip")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config("cnn", tmp_path / "missing.json")
    with pytest.raises(ConfigError):
        ClipConfig(caption_levels=("street",))


def test_shipped_configs_are_valid():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[3] / "configs"
    files = sorted(folder.glob("*.json"))
    assert files, "no named configs in configs/"
    for f in files:
        d = json.loads(f.read_text())
        cfg = load_config(d["model_type"], f)
        assert cfg.name == f.stem
