"""One preprocessing spec: the manifest's ``input``, applied by the runtime and by training."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geoscope_core.errors import BundleError
from geoscope_core.runtime.bundle import load_bundle
from geoscope_core.runtime.images import load_image, preprocess
from geoscope_core.runtime.manifest import (
    Interpolation,
    Manifest,
    PreprocessSpec,
    ResizeMode,
    View,
)


def _photo(path: Path, height: int = 90, width: int = 120) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path, quality=95)
    return path


def test_a_manifest_without_interpolation_reads_as_bicubic_and_writes_it() -> None:
    shipped = load_bundle(None)
    raw = json.loads((shipped.path / "manifest.json").read_text())
    del raw["input"]["interpolation"]  # as manifests written before the field existed
    spec = Manifest.from_dict(raw).input
    assert spec.interpolation is Interpolation.BICUBIC
    assert spec.resize is ResizeMode.CENTER_CROP
    d = Manifest.from_dict(raw).to_dict()
    assert d["input"]["interpolation"] == "bicubic"
    assert Manifest.from_dict(d).input == spec == shipped.manifest.input
    d["input"]["interpolation"] = "bilinear"
    assert Manifest.from_dict(d).input.interpolation is Interpolation.BILINEAR


def test_preprocess_follows_the_spec(tmp_path: Path) -> None:
    path = _photo(tmp_path / "p.jpg")
    bicubic = preprocess(path, PreprocessSpec(size=32))
    assert bicubic.shape == (1, 32, 32, 3)
    assert np.array_equal(bicubic[0], load_image(path, 32, ResizeMode.CENTER_CROP))
    bilinear = preprocess(path, PreprocessSpec(size=32, interpolation=Interpolation.BILINEAR))
    assert bilinear.shape == (1, 32, 32, 3) and not np.array_equal(bicubic, bilinear)
    squash = preprocess(path, PreprocessSpec(size=32, resize=ResizeMode.SQUASH))
    assert not np.array_equal(bicubic, squash)


def test_views_are_the_centre_and_both_ends_of_the_long_side(tmp_path: Path) -> None:
    # a landscape photo: red left third, green middle, blue right third
    wide = np.zeros((60, 180, 3), np.uint8)
    wide[:, :60, 0] = wide[:, 60:120, 1] = wide[:, 120:, 2] = 255
    Image.fromarray(wide).save(tmp_path / "wide.png")
    spec = PreprocessSpec(size=30, views=("center", "start", "end"))
    assert spec.views == (View.CENTER, View.START, View.END)
    centre, start, end = preprocess(tmp_path / "wide.png", spec).astype(int)
    assert np.array_equal(centre, load_image(tmp_path / "wide.png", 30))
    assert [int(np.argmax(v.mean((0, 1)))) for v in (start, centre, end)] == [0, 1, 2]
    # portrait: the ends are the top and the bottom
    Image.fromarray(wide.transpose(1, 0, 2).copy()).save(tmp_path / "tall.png")
    top, bottom = preprocess(tmp_path / "tall.png", replace(spec, views=("start", "end")))
    assert int(np.argmax(top.mean((0, 1)))) == 0 and int(np.argmax(bottom.mean((0, 1)))) == 2
    # the mirror view is the centre square flipped left to right
    both = preprocess(_photo(tmp_path / "p.jpg"), replace(spec, views=("mirror", "center")))
    assert np.array_equal(both[0], both[1][:, ::-1]) and not np.array_equal(both[0], both[1])
    # a square photo's views are the same pixels
    square = preprocess(_photo(tmp_path / "sq.jpg", 64, 64), spec)
    assert np.array_equal(square[0], square[1]) and np.array_equal(square[0], square[2])


def test_views_round_trip_through_the_manifest_and_bad_ones_are_refused() -> None:
    shipped = load_bundle(None)
    raw = json.loads((shipped.path / "manifest.json").read_text())
    raw["input"].pop("views", None)  # as manifests written before the field existed
    assert Manifest.from_dict(raw).input.views == (View.CENTER,)
    raw["input"]["views"] = ["center", "end"]
    spec = Manifest.from_dict(Manifest.from_dict(raw).to_dict()).input
    assert spec.views == (View.CENTER, View.END)
    assert spec.pixels_id != PreprocessSpec().pixels_id  # other pixels, another cache key
    for bad in (["centre"], [], ["end", "end"]):
        with pytest.raises(BundleError, match="views"):
            PreprocessSpec(views=tuple(bad))
    with pytest.raises(BundleError, match="center-crop"):
        PreprocessSpec(resize=ResizeMode.SQUASH, views=(View.START,))
