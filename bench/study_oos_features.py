"""The features the out-of-source protocol trains heads on, from a bundle's own encoder
or from a training backbone.

    .venv/bin/python bench/study_oos_features.py --bundle geoscope_core/models/geoscope-lite \
        --out runs/features/lite0_int8.npz
    .venv/bin/python bench/study_oos_features.py --backbone efficientnet_lite2 \
        --out runs/features/lite2.npz \
        --concat-with runs/features/lite0_int8.npz --concat-out runs/features/lite0_lite2.npz
    .venv/bin/geoscope train protocol --config configs/cnn-world.json \
        --features runs/features/lite0_int8.npz --out runs/loso

Encoding every photo of ``../shared/data/geo`` with the PyTorch backbone takes close to
an hour on two busy CPU cores; ONNX Runtime runs the same graph about three times as
fast. With ``--bundle`` the study adds one output to the bundle's int8 encoder graph:
the tensor its ``embedding`` output normalises, i.e. the pooled backbone features the
classifier heads read (the graph's heads see exactly these values). With
``--backbone`` it exports the training backbone of that name (ImageNet weights, as
``geoscope train cnn`` builds it, with its own input size and normalisation) to a
float32 ONNX graph and runs that: the frozen features training reads, to float32
rounding. Either way it writes ``paths`` and ``features`` (float16 [N, F]) for
``geoscope train protocol --features``. Centre view only.

``--style-views N`` instead writes N augmented views of every photo (features float16
[N, photos, F]) for ``bench/study_source_invariance.py --views``: a random crop of half
the frame or more, then, each by chance, the look of another camera: resolution lost
(down to 64 px and back), strong brightness / contrast / saturation jitter, grey, blur,
a low JPEG quality. Deterministic per photo and view.

``--concat-with`` (another such file) also writes the concatenation of the other
file's features and these, each part L2-normalised first so neither dominates by scale.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from geoscope_core.records import GeoRecord
from geoscope_core.runtime.manifest import PreprocessSpec

log = logging.getLogger("study_oos_features")


def bundle_encoder(bundle_dir: Path) -> tuple[bytes, str, PreprocessSpec]:
    """The bundle's encoder graph with its pooled features as an extra output (the
    graph, that output's name) and the bundle's centre-view input."""
    import onnx

    from geoscope_core.runtime.bundle import load_bundle
    from geoscope_core.runtime.manifest import IMAGE_ENCODER

    bundle = load_bundle(bundle_dir)
    model = onnx.load(str(bundle_dir / IMAGE_ENCODER))
    producers = {o: n for n in model.graph.node for o in n.output}
    pooled = producers["embedding"].input[0]  # embedding = pooled / ||pooled||
    model.graph.output.append(
        onnx.helper.make_tensor_value_info(pooled, onnx.TensorProto.FLOAT, None)
    )
    return model.SerializeToString(), pooled, bundle.manifest.input.centre_view()


def backbone_encoder(name: str, work: Path) -> tuple[bytes, str, PreprocessSpec]:
    """Training backbone ``name`` (pretrained) as a float32 ONNX graph from uint8 pixels
    to its pooled features, and its own centre-view input."""
    import torch
    from torch import nn

    from geoscope_core.training.backbones import build_backbone
    from geoscope_core.training.models import PixelInput
    from geoscope_export.onnx_export import export_image_encoder

    torch.set_num_threads(2)
    backbone = build_backbone(name, pretrained=True)
    spec = backbone.input_at().centre_view()
    module = nn.Sequential(PixelInput(spec), backbone.module).eval()
    path = export_image_encoder(module, spec.size, ["features"], work / f"{name}.onnx")
    return path.read_bytes(), "features", spec


def encode(
    graph: bytes, output: str, spec: PreprocessSpec, records: Sequence[GeoRecord], threads: int
) -> np.ndarray:
    """float16 [N, F]: ``output`` of ``graph`` on each record's centre view, in order."""
    import onnxruntime as ort

    from geoscope_core.runtime.images import preprocess

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    feats = []
    start = time.perf_counter()
    for i in range(0, len(records), 32):
        chunk = records[i : i + 32]
        pixels = np.stack([preprocess(r.path, spec)[0] for r in chunk])
        out = session.run([output], {"pixels": pixels})[0].reshape(len(chunk), -1)
        feats.append(out.astype(np.float16))
        if (i // 32) % 32 == 31:
            done = i + len(chunk)
            log.info("%d photos, %.1f photos/s", done, done / (time.perf_counter() - start))
    return np.concatenate(feats)


def style_view(path: Path, view: int, size: int) -> np.ndarray:
    """uint8 [size, size, 3]: augmented view ``view`` of the photo (see the module doc)."""
    from PIL import Image, ImageEnhance, ImageFilter, ImageOps

    seed = hashlib.sha1(f"{path}|{view}|style".encode()).digest()[:8]
    rng = np.random.default_rng(int.from_bytes(seed, "little"))
    with Image.open(path) as src:
        src.draft("RGB", (size * 2, size * 2))
        im = ImageOps.exif_transpose(src).convert("RGB")
    w, h = im.size
    area = w * h * rng.uniform(0.5, 1.0)
    aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
    cw = int(min(w, round(np.sqrt(area * aspect))))
    ch = int(min(h, round(np.sqrt(area / aspect))))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    im = im.crop((x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:  # resolution lost
        low = int(rng.integers(64, size))
        im = im.resize((low, low), Image.Resampling.BILINEAR)
    im = im.resize((size, size), Image.Resampling.BILINEAR)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        im = enhancer(im).enhance(float(rng.uniform(0.6, 1.4)))
    if rng.random() < 0.15:
        im = ImageOps.grayscale(im).convert("RGB")
    if rng.random() < 0.3:
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
    if rng.random() < 0.5:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=int(rng.integers(15, 60)))
        buf.seek(0)
        im = Image.open(buf).convert("RGB")
    return np.asarray(im, np.uint8)


def encode_style_views(
    graph: bytes, output: str, size: int, paths: Sequence[str], views: int, threads: int
) -> np.ndarray:
    """float16 [views, N, F]: ``output`` of ``graph`` on views 1..``views`` of each photo."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    out: list[np.ndarray] = []
    for v in range(1, views + 1):
        for i in range(0, len(paths), 32):
            pixels = np.stack([style_view(Path(p), v, size) for p in paths[i : i + 32]])
            out.append(session.run([output], {"pixels": pixels})[0].astype(np.float16))
        log.info("view %d of %d encoded", v, views)
    return np.concatenate(out).reshape(views, len(paths), -1)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (float32)."""
    x = x.astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def concatenated(other: Path, paths: Sequence[str], feats: np.ndarray) -> np.ndarray:
    """float16 [N, F_other + F]: ``other``'s features of ``paths`` beside ``feats``, each
    part L2-normalised first so that neither dominates by scale; SystemExit naming a
    photo ``other`` lacks."""
    with np.load(other, allow_pickle=False) as data:
        index = {str(Path(p).resolve()): i for i, p in enumerate(data["paths"])}
        keys = [str(Path(p).resolve()) for p in paths]
        missing = [p for p, k in zip(paths, keys, strict=True) if k not in index]
        if missing:
            raise SystemExit(f"{other} lacks {len(missing)} photos, e.g. {missing[0]}")
        base = data["features"][[index[k] for k in keys]]
    return np.concatenate([unit(base), unit(feats)], axis=1).astype(np.float16)


def main() -> None:
    from geoscope_core.records import shared_geo_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bundle", type=Path, help="a bundle folder: its int8 encoder")
    source.add_argument("--backbone", help="a training backbone name, e.g. efficientnet_lite2")
    parser.add_argument("--out", type=Path, required=True, help=".npz to write")
    parser.add_argument("--concat-with", type=Path, help="also join with this features file")
    parser.add_argument("--concat-out", type=Path, help="where the joined file goes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--style-views", type=int, default=0, help="write this many augmented views instead"
    )
    args = parser.parse_args()
    if (args.concat_with is None) != (args.concat_out is None):
        parser.error("--concat-with and --concat-out go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    records = shared_geo_records()
    paths = [str(r.path) for r in records]
    if args.concat_with is not None:  # fail before the long encoding, not after
        concatenated(args.concat_with, paths, np.zeros((len(paths), 1), np.float32))
    with tempfile.TemporaryDirectory() as work:
        if args.bundle is not None:
            graph, output, spec = bundle_encoder(args.bundle)
        else:
            graph, output, spec = backbone_encoder(args.backbone, Path(work))
    start = time.perf_counter()
    if args.style_views:
        views = encode_style_views(graph, output, spec.size, paths, args.style_views, args.threads)
        np.savez(args.out, paths=np.array(paths), features=views)
        print(f"{views.shape[0]} views of {len(paths)} photos -> {args.out}")
        return
    feats = encode(graph, output, spec, records, args.threads)
    took = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, paths=np.array(paths), features=feats)
    print(f"{len(paths)} photos, {feats.shape[1]} features, {spec.size} px, "
          f"{len(paths) / took:.1f} photos/s -> {args.out}")  # fmt: skip
    if args.concat_with is not None:
        both = concatenated(args.concat_with, paths, feats)
        args.concat_out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.concat_out, paths=np.array(paths), features=both)
        print(f"{both.shape[1]} features ({args.concat_with.name} + {args.out.name}) "
              f"-> {args.concat_out}")  # fmt: skip


if __name__ == "__main__":
    main()
