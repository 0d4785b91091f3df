"""Zero-shot label sets and embeddings (open_clip's zero-shot classifier recipe)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.errors import ConfigError
from geoscope_core.geo.captions import prompts_for
from geoscope_core.geo.gazetteer import get_gazetteer
from geoscope_core.runtime.bundle import check_bundle, load_bundle
from geoscope_core.runtime.manifest import BundleKind, DecodingSpec, Manifest
from geoscope_core.training.config import ClipConfig
from geoscope_export import ExportConfig, export_bundle
from geoscope_export.bundle_writer import zero_shot_decoding
from geoscope_export.label_embeddings import class_embeddings, label_embeddings
from geoscope_export.onnx_export import session

from .conftest import TinyZeroShot


def test_class_embeddings_average_normalised_prompts() -> None:
    table = {
        "a": np.array([3.0, 0.0, 0.0]),
        "b": np.array([0.0, 1.0, 0.0]),
        "c": np.array([0.0, 0.0, 2.0]),
        "d": np.array([1.0, 1.0, 0.0]),
    }

    def encode(texts: list[str]) -> np.ndarray:
        return np.stack([table[t] for t in texts]).astype(np.float32)

    emb = class_embeddings(encode, [["a", "b"], ["c"], ["a", "d"]], batch_size=2)
    assert emb.shape == (3, 3) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    # class 0: mean of unit vectors (1,0,0) and (0,1,0), renormalised
    np.testing.assert_allclose(emb[0], [2**-0.5, 2**-0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(emb[1], [0.0, 0.0, 1.0], atol=1e-6)
    expected = np.array([1.0, 0.0, 0.0]) + np.array([1.0, 1.0, 0.0]) / 2**0.5
    np.testing.assert_allclose(emb[2], expected / np.linalg.norm(expected), atol=1e-6)


def test_class_embeddings_reject_empty_or_cancelling_prompts() -> None:
    def encode(texts: list[str]) -> np.ndarray:
        return np.array([[1.0, 0.0] if t == "x" else [-1.0, 0.0] for t in texts], np.float32)

    with pytest.raises(ConfigError):
        class_embeddings(encode, [["x"], []])
    with pytest.raises(ConfigError, match="degenerate"):
        class_embeddings(encode, [["x", "y"]])


def test_label_embeddings_use_every_template() -> None:
    gaz = get_gazetteer()
    model = TinyZeroShot()
    places = [gaz.country("HR"), gaz.country("AL")]
    seen: list[str] = []

    def encode(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return model.encode_text(texts)

    emb = label_embeddings(encode, places, gaz)
    assert emb.shape == (2, model.embedding_dim)
    assert seen == prompts_for(places[0], gaz) + prompts_for(places[1], gaz)
    manual = model.encode_text(prompts_for(places[0], gaz))
    manual = manual.mean(0) / np.linalg.norm(manual.mean(0))
    np.testing.assert_allclose(emb[0], manual, atol=1e-5)


def test_zero_shot_decoding_is_the_models_own() -> None:
    """Export writes what training validated: the run's decoding.json, else its config's
    spec, else the model type's default config's; it adds no default of its own."""
    from geoscope_core.training.config import ClipConfig

    run = {"config": {"model_type": "clip", "top_countries": 2, "top_cities": 7}}
    assert zero_shot_decoding(ExportConfig(), run) == (
        7,
        DecodingSpec(beam=2, cities_per_country=7),
    )
    named = zero_shot_decoding(ExportConfig(cities_per_country=3), run)
    assert named == (3, DecodingSpec(beam=2, cities_per_country=3))
    # without a run: the model type's defaults (training validates 3 countries, not 5)
    default = ClipConfig().decoding_spec()
    assert zero_shot_decoding(ExportConfig(), {}) == (30, default)
    assert default.beam == ClipConfig().top_countries == 3
    # the run's decoding.json wins over its config, verbatim
    written = DecodingSpec(beam=4, top_k=2, cities_per_country=11, min_radius_km=9.0)
    run["decoding"] = written.to_dict()
    assert zero_shot_decoding(ExportConfig(), run) == (11, written)


def test_zero_shot_bundle(tiny_clip_checkpoint: Path, tmp_path: Path) -> None:
    out = export_bundle(
        tiny_clip_checkpoint,
        tmp_path / "zs",
        ExportConfig(quantize="none", levels=("country", "city"), cities_per_country=2,
                     validate=False),
    )  # fmt: skip
    manifest = Manifest.read(out / "manifest.json")
    assert manifest.kind is BundleKind.ZERO_SHOT
    assert manifest.embedding_dim == 16
    assert manifest.text_encoder is not None
    assert {"text_encoder.onnx", "tokenizer.json", "labels/country.npy", "labels/city.npy"} <= set(
        manifest.files
    )
    for level in ("country", "city"):
        emb = np.load(out / "labels" / f"{level}.npy")
        rows = json.loads((out / "labels" / f"{level}.json").read_text())
        assert emb.dtype == np.float16 and emb.shape == (len(rows), 16)
        np.testing.assert_allclose(np.linalg.norm(emb.astype(np.float32), axis=1), 1.0, atol=2e-3)
    assert manifest.level("city").parent == "country"
    assert check_bundle(out) == []
    bundle = load_bundle(out)
    assert bundle.embeddings("city").shape[1] == 16

    # training's zero-shot validation decodes with the same labels, as the runtime does
    from geoscope_core.runtime.decoding import Decoder
    from geoscope_core.training.checkpoint import load_checkpoint
    from geoscope_core.training.zeroshot import zero_shot_decoder

    model = load_checkpoint(tiny_clip_checkpoint)
    runtime = Decoder.from_bundle(bundle)
    top_countries = ClipConfig().top_countries  # what the tiny run validated with
    assert runtime.spec.beam == top_countries != DecodingSpec.beam
    training = zero_shot_decoder(
        get_gazetteer(), model.encode_text, model.logit_scale, top_countries, top_cities=2
    )
    assert training.chain == runtime.chain
    for level in runtime.chain:
        assert training.table(level).rows == runtime.table(level).rows
        np.testing.assert_allclose(
            training.table(level).embeddings, runtime.table(level).embeddings, atol=2e-3
        )
    image = np.random.default_rng(2).normal(size=(10, 16)).astype(np.float32)
    image /= np.linalg.norm(image, axis=1, keepdims=True)
    logits = training.logits({"embedding": image}, "embedding")
    assert training.decode_many(logits) == [
        replace(p, model="") for p in runtime.decode_many(logits)
    ]

    # the shipped text encoder + tokenizer reproduce the PyTorch text tower
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    texts = ["A Street View photo in Croatia.", "A photo taken in Tirana, Albania."]
    enc = [tok.encode(t) for t in texts]
    width = max(len(e.ids) for e in enc)
    ids = np.zeros((2, width), np.int64)
    mask = np.zeros((2, width), np.int64)
    for i, e in enumerate(enc):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    (got,) = session(out / "text_encoder.onnx").run(
        ["embedding"], {"input_ids": ids, "attention_mask": mask}
    )
    np.testing.assert_allclose(got, model.encode_text(texts), atol=1e-4)
