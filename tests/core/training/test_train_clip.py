"""Contrastive training end to end: lite StreetCLIP, any HF CLIP checkpoint, linear probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geoscope_core.geo.gazetteer import get_gazetteer
from geoscope_core.training.checkpoint import ZeroShotModel, load_checkpoint
from geoscope_core.training.config import ClipConfig, CnnConfig
from geoscope_core.training.loop import train
from geoscope_core.training.testing import tiny_hf_clip
from geoscope_core.training.zeroshot import zero_shot_decoder


def clip_config(tmp_path, **kw) -> ClipConfig:
    base = dict(
        name="tinyclip",
        backbone="tiny",
        pretrained=False,
        text_tower="tiny-bert",
        embed_dim=16,
        epochs=2,
        max_train=40,
        max_val=12,
        feature_views=1,
        batch_size=16,
        captions_per_sample=1,
        top_cities=5,
        feature_cache=str(tmp_path / "features"),
        device="cpu",
    )
    base.update(kw)
    return ClipConfig(**base)


def test_lite_clip_trains_and_decodes_zero_shot(tmp_path):
    cfg = clip_config(tmp_path, exclude_countries=("HR",))
    out = tmp_path / "lite"
    report = train(cfg, out, progress=False)
    losses = [h["loss"] for h in report["history"]]
    assert len(losses) == 2 and all(np.isfinite(losses))
    final = report["final"]
    assert final["n"] == 12 and final["country_acc"] is not None
    held = final["heldout"]
    assert held["countries"] == ["HR"] and 0 < held["chance"] < 0.01
    assert held["n"] >= 1
    # the learnable temperature moved
    assert final["logit_scale"] != pytest.approx(1 / 0.07, rel=1e-6)

    model = load_checkpoint(out)
    assert isinstance(model, ZeroShotModel) and model.kind == "zero-shot"
    assert model.logit_scale == pytest.approx(final["logit_scale"], rel=1e-5)
    pixels = torch.randint(0, 256, (3, model.input_size, model.input_size, 3), dtype=torch.uint8)
    with torch.no_grad():
        (emb,) = model.image_module()(pixels)
    gaz = get_gazetteer()
    decoder = zero_shot_decoder(
        gaz, model.encode_text, model.logit_scale, top_countries=2, top_cities=3
    )
    assert decoder.chain == ("country", "city") and decoder.spec.beam == 2
    predictions = decoder.decode_many(decoder.logits({"embedding": emb.numpy()}, "embedding"))
    assert len(predictions) == 3
    for p in predictions:
        assert -90 <= p.lat <= 90 and -180 <= p.lon <= 180
        assert gaz.country(p.country_code).id == p.country_code
        assert 0 < p.confidence <= 1


@pytest.mark.slow
def test_any_hf_clip_checkpoint_zero_shot_and_fine_tune(tmp_path):
    from transformers import AutoTokenizer, CLIPModel

    folder = tiny_hf_clip(tmp_path)
    # epochs=0: the checkpoint as is, measured zero-shot and saved unchanged
    out0 = tmp_path / "zs"
    report = train(clip_config(tmp_path, clip_model=str(folder), epochs=0), out0, progress=False)
    assert report["history"] == [] and report["final"]["n"] == 12
    model = load_checkpoint(out0)
    ref = CLIPModel.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    texts = ["A Street View photo in Croatia.", "A photo taken in Dubai."]
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        feats = ref.get_text_features(**enc)
        feats = feats if torch.is_tensor(feats) else feats.pooler_output
    np.testing.assert_allclose(
        model.encode_text(texts), F.normalize(feats, dim=-1).numpy(), atol=1e-5
    )
    assert model.input_size == 32 and model.embedding_dim == 16
    assert model.logit_scale == pytest.approx(float(ref.logit_scale.detach().exp()), rel=1e-5)

    # fine-tuning the projections and the last vision block
    out1 = tmp_path / "ft"
    cfg = clip_config(
        tmp_path, clip_model=str(folder), epochs=1, unfreeze_blocks=1, finetune_epochs=1
    )
    report = train(cfg, out1, progress=False)
    assert [h["phase"] for h in report["history"]] == ["head", "finetune"]
    tuned = load_checkpoint(out1)
    with torch.no_grad():
        px = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
        a = model.image_module()(px)[0]
        b = tuned.image_module()(px)[0]
    assert not torch.allclose(a, b)


def test_linear_probe_on_a_clip_image_encoder(tmp_path):
    folder = tiny_hf_clip(tmp_path)
    cfg = CnnConfig(
        name="probe",
        backbone="hf-clip-vision",
        backbone_weights=str(folder),
        levels=("country",),
        epochs=1,
        max_train=32,
        max_val=8,
        feature_views=1,
        feature_cache=str(tmp_path / "features"),
        device="cpu",
    )
    report = train(cfg, tmp_path / "probe", progress=False)
    assert report["final"]["n"] == 8
    model = load_checkpoint(tmp_path / "probe")
    assert model.kind == "classifier" and model.input_size == 32
    assert model.image_output_names() == ["embedding", "logits_country"]
