"""Scan benchmark: the GeoScope pipeline vs a naive pipeline on full-size photos.

Makes a folder of 12 MP JPEGs the size a camera writes (real photos from the shared geo
data, upscaled, with sensor-like grain, quality 92: ~2.9 MB each, as a 12 MP camera
JPEG; a smooth upscale compresses to a third of that and decodes faster than a real
photo); written OUTSIDE the repository, default /tmp/geoscope-bench; and measures, each
in a fresh child process so peak RSS is its own:

* pipeline: ``Scanner`` (draft-mode decoding in a thread pool overlapped with
  batched ONNX Runtime inference), no cache, end to end from paths to
  predictions;
* pipeline, one view: the same, with the bundle's ``input.views`` cut to its centre
  view (a bundle with several views runs the encoder on each and averages), to show
  what the views cost;
* naive: full-resolution decode + resize to each view, then the same model one photo
  at a time, no overlap: in PyTorch eager fp32 when ``--checkpoint`` is given (and
  torch is installed), else the bundle's ONNX encoder.

Prints photos/s of both and the ratio, photos per CPU-second, the share of wall time
spent decoding and in inference, the bound the cores allow (cores / (decode + encoder
CPU-seconds per photo), each measured alone) and the pipeline's share of it, and peak RSS
(measured at two folder sizes and extrapolated to 5,000 photos).

The share of the bound is given twice. By wall time (photos/s over the bound) it falls
with whatever else runs on the machine, since the pipeline gets less than its cores. Per
CPU-second it does not: the bound spends decode + encoder CPU-seconds on a photo and
nothing else, the pipeline spends its process's CPU-seconds per photo (every thread:
decoding, ONNX Runtime, metadata, placement, waiting spins), and their ratio is the share
of its CPU that went to the work the bound counts. On an idle machine the two agree when
the pipeline keeps its cores busy ("cores busy" says how many it used).

``--baseline SRC`` (a source tree of another commit, e.g. ``git archive REV | tar -x -C
SRC``) runs the pipeline of SRC and of this tree in turn, ``--pairs`` times, on the same
photos, and prints each pair's ratio (this tree / SRC, photos/s and per CPU-second): the
machine's other load weighs on both halves of a pair alike. Figures only; nothing is
asserted.

    python bench/bench_scan.py [--bundle NAME|PATH] [--checkpoint DIR] [--n 300]
    python bench/bench_scan.py --baseline /tmp/geoscope-old [--pairs 3] [--n 200]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if "--src" in sys.argv:  # a child timing another source tree's pipeline: its code first
    sys.path.insert(0, sys.argv[sys.argv.index("--src") + 1])

SIZE_12MP = (4000, 3000)
GRAIN_SIGMA = 3.6  # luminance noise (8-bit levels): a 12 MP q92 JPEG of ~2.9 MB


def _make_one(job: tuple[str, str]) -> None:
    import numpy as np
    from PIL import Image

    src, dst = job
    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.height > im.width:
            im = im.rotate(90, expand=True)
        big = np.asarray(im.resize(SIZE_12MP, Image.Resampling.BICUBIC), dtype=np.int16)
    rng = np.random.default_rng(zlib.crc32(dst.encode()))
    grain = rng.normal(0.0, GRAIN_SIGMA, (*big.shape[:2], 1)).astype(np.int16)
    px = np.clip(big + grain, 0, 255).astype(np.uint8)
    Image.fromarray(px).save(dst, "JPEG", quality=92)


def make_photos(workdir: Path, n: int) -> Path:
    """``n`` 12 MP JPEGs made from the shared geo photos (reused between runs)."""
    from geoscope_core.settings import data_dir

    geo = data_dir() / "geo"
    labels = geo / "labels.csv"
    if not labels.is_file():
        raise SystemExit(f"shared data missing: {labels} (set GEOSCOPE_DATA)")
    folder = workdir / "photos-12mp-q92"
    folder.mkdir(parents=True, exist_ok=True)
    with labels.open() as f:
        rows = list(csv.DictReader(f))
    step = max(1, len(rows) // n)
    picks = rows[::step][:n]
    jobs = [
        (str(geo / r["path"]), str(folder / f"{i:05d}.jpg"))
        for i, r in enumerate(picks)
        if not (folder / f"{i:05d}.jpg").exists()
    ]
    if jobs:
        print(f"making {len(jobs)} 12 MP photos in {folder} ...", flush=True)
        t = time.perf_counter()
        with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(_make_one, jobs, chunksize=4))
        print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)
    return folder


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (VmHWM: unlike ru_maxrss, it does not
    carry over the parent's peak through exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rescan_figures(workdir: Path, n: int) -> None:
    """Time a first scan and a cached re-scan of ``n`` small photos (hard links to one
    JPEG, so the folder is cheap to make) with the tiny test bundle: the re-scan is
    stat + SQLite look-ups + neighbour pass, no decoding."""
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.pipeline import Scanner
    from geoscope_core.scan.types import ScanOptions
    from tests.bundles import make_bundle, solid_image, write_jpeg

    folder = workdir / f"rescan-{n}"
    src = write_jpeg(workdir / "rescan-src.jpg", solid_image((90, 120, 200)))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        dst = folder / f"{i:06d}.jpg"
        if not dst.exists():
            os.link(src, dst)
    bundle = make_bundle(workdir / "rescan-bundle")
    cache = workdir / "rescan-cache.sqlite"
    cache.unlink(missing_ok=True)
    from geoscope_core.photos.walk import iter_photos

    predictor = Predictor.load(bundle)
    for label in ("first scan", "re-scan (cached)"):
        t = time.perf_counter()
        paths = list(iter_photos(folder))
        scanner = Scanner(predictor, ScanOptions(cache_path=cache))
        done = sum(1 for _ in scanner.scan(paths))
        dt = time.perf_counter() - t
        print(
            f"{label:18s} {done} photos in {dt:6.1f} s ({done / dt:7.0f} photos/s), "
            f"{scanner.stats.cached} from cache, {scanner.stats.decoded} decoded"
        )


# -- children ---------------------------------------------------------------------------


def child_pipeline(args: argparse.Namespace) -> dict:
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.pipeline import Scanner
    from geoscope_core.scan.types import ScanOptions, ScanStatus

    paths = sorted(Path(args.photos).glob("*.jpg"))
    paths = (paths * (args.limit // len(paths) + 1))[: args.limit]
    t0 = time.perf_counter()
    predictor = Predictor.load(args.bundle)
    load_s = time.perf_counter() - t0
    if args.one_view:
        predictor.preprocess = predictor.preprocess.centre_view()
    rss_loaded = _peak_rss_mb()
    scanner = Scanner(
        predictor, ScanOptions(use_cache=False, batch_size=args.batch_size, workers=args.workers)
    )
    t, cpu0 = time.perf_counter(), _cpu_s()
    n = sum(1 for r in scanner.scan(paths) if r.status is ScanStatus.PREDICTED)
    wall = time.perf_counter() - t
    cpu = _cpu_s() - cpu0
    s = scanner.stats
    return {
        "n": n,
        "encoder_cpu_per_photo": _encoder_cpu_per_photo(predictor, paths, args.batch_size),
        "wall_s": wall,
        "cpu_s": cpu,
        "decode_cpu_s": s.decode_cpu_s,
        "load_s": load_s,
        "decode_s": s.decode_s,
        "metadata_s": s.metadata_s,
        "infer_s": s.infer_s,
        "wait_s": s.wait_s,
        "rss_loaded_mb": rss_loaded,
        "peak_rss_mb": _peak_rss_mb(),
        "model": predictor.model_id,
        "input": predictor.input_size,
        "views": len(predictor.preprocess.views),
        "workers": args.workers or len(os.sched_getaffinity(0)),
    }


def _encoder_cpu_per_photo(predictor: Any, paths: list[Path], batch_size: int) -> float:
    """CPU-seconds of this process per photo for the encoder (and decoding of its outputs)
    alone, on one batch of ``paths`` decoded beforehand, run 4 times, with NumPy's BLAS on
    one thread as a scan runs it (its own threads would spin after each small product and
    count their waiting as the encoder's cost)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from geoscope_core.runtime.images import preprocess

    pixels = np.stack([preprocess(p, predictor.preprocess) for p in paths[:batch_size]])
    with threadpool_limits(limits=1, user_api="blas"):
        predictor.predict_with_embeddings(pixels)  # warm-up
        c = _cpu_s()
        for _ in range(4):
            predictor.predict_with_embeddings(pixels)
        return (_cpu_s() - c) / (4 * len(pixels))


def _full_decode(path: Path, size: int, views: tuple) -> Any:
    """uint8 [len(views), size, size, 3]: each view cut from a full-resolution decode."""
    import numpy as np
    from PIL import Image, ImageOps

    share = {"start": 0.0, "center": 0.5, "end": 1.0, "mirror": 0.5}
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im.convert("RGB"))
        side = min(im.size)
        out = []
        for view in views:
            left = round((im.width - side) * share[view.value])
            top = round((im.height - side) * share[view.value])
            square = im.crop((left, top, left + side, top + side))
            px = np.asarray(square.resize((size, size), Image.Resampling.BICUBIC))
            out.append(px[:, ::-1] if view.value == "mirror" else px)
        return np.stack(out).astype(np.uint8)


def child_naive(args: argparse.Namespace) -> dict:
    import numpy as np

    from geoscope_core.runtime.bundle import IMAGE_ENCODER, load_bundle

    paths = sorted(Path(args.photos).glob("*.jpg"))[: args.limit]
    bundle = load_bundle(args.bundle)
    size, views = bundle.manifest.input.size, bundle.manifest.input.views
    if args.checkpoint:
        import torch

        from geoscope_core.training.checkpoint import load_checkpoint

        if args.naive_threads:
            torch.set_num_threads(args.naive_threads)
        model = load_checkpoint(Path(args.checkpoint), device="cpu")
        module = model.image_module().eval().float()
        size = model.input_size
        engine = (
            f"pytorch-eager-fp32 (torch {torch.__version__}, {torch.get_num_threads()} threads)"
        )

        def infer(px: np.ndarray) -> None:
            with torch.no_grad():
                module(torch.from_numpy(px))
    else:
        import onnxruntime as ort

        sess = ort.InferenceSession(
            str(bundle.file(IMAGE_ENCODER)), providers=["CPUExecutionProvider"]
        )
        name = sess.get_inputs()[0].name
        engine = "onnxruntime batch 1 (no checkpoint given)"

        def infer(px: np.ndarray) -> None:
            sess.run(None, {name: px})

    infer(np.zeros((1, size, size, 3), np.uint8))  # warm-up
    decode_s = infer_s = 0.0
    t0, cpu0 = time.perf_counter(), _cpu_s()
    for p in paths:
        t = time.perf_counter()
        px = _full_decode(p, size, views)
        decode_s += time.perf_counter() - t
        t = time.perf_counter()
        infer(px)
        infer_s += time.perf_counter() - t
    wall = time.perf_counter() - t0
    return {
        "n": len(paths),
        "wall_s": wall,
        "cpu_s": _cpu_s() - cpu0,
        "decode_s": decode_s,
        "infer_s": infer_s,
        "peak_rss_mb": _peak_rss_mb(),
        "engine": engine,
    }


def _child(
    args: argparse.Namespace,
    kind: str,
    limit: int,
    one_view: bool = False,
    src: Path | None = None,
) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--_child",
        kind,
        "--photos",
        str(args.photos),
        "--limit",
        str(limit),
        "--batch-size",
        str(args.batch_size),
        "--workers",
        str(args.workers),
    ]
    if one_view:
        cmd.append("--one-view")
    if src is not None:
        cmd += ["--src", str(src)]
    if args.bundle:
        cmd += ["--bundle", str(args.bundle)]
    if args.checkpoint and kind == "naive":
        cmd += ["--checkpoint", str(args.checkpoint), "--naive-threads", str(args.naive_threads)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{r.stderr[-4000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=None, help="bundle name or path (default: geoscope-lite)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint of the same model (torch)")
    ap.add_argument("--n", type=int, default=300, help="photos in the folder")
    ap.add_argument("--naive-n", type=int, default=40, help="photos for the naive pipeline")
    ap.add_argument("--rss-n", type=int, default=900, help="second, larger scan for RSS growth")
    ap.add_argument(
        "--naive-threads", type=int, default=0, help="torch threads of the naive run (0: default)"
    )
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/geoscope-bench"))
    ap.add_argument(
        "--rescan-n", type=int, default=0, help="also time a cached re-scan of N photos"
    )
    ap.add_argument(
        "--baseline", type=Path, default=None, help="source tree to pair this tree's runs with"
    )
    ap.add_argument("--pairs", type=int, default=3, help="baseline/this-tree pairs to run")
    ap.add_argument("--src", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--photos", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--one-view", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args._child:
        fn = child_pipeline if args._child == "pipeline" else child_naive
        print(json.dumps(fn(args)))
        return

    if REPO in args.workdir.resolve().parents:
        raise SystemExit("--workdir must be outside the repository")
    if args.rescan_n:
        rescan_figures(args.workdir, args.rescan_n)
        if args.n <= 0:
            return
    args.photos = make_photos(args.workdir, args.n)
    made = list(args.photos.glob("*.jpg"))  # a folder made for a larger --n holds more
    size = sum(p.stat().st_size for p in made) / len(made) / 1e6
    print(
        f"machine: {os.cpu_count()} CPUs; photos: {args.n} x 12 MP JPEG ({size:.2f} MB "
        f"each) in {args.photos}"
    )
    if args.baseline is not None:
        paired(args)
        return

    pipe = _child(args, "pipeline", args.n)
    big = _child(args, "pipeline", args.rss_n) if args.rss_n > args.n else None
    naive = _child(args, "naive", min(args.naive_n, args.n))
    one = _child(args, "pipeline", args.n, one_view=True) if pipe["views"] > 1 else None

    workers = pipe["workers"]
    load = os.getloadavg()[0]
    p_rate = pipe["n"] / pipe["wall_s"]
    n_rate = naive["n"] / naive["wall_s"]
    print(
        f"\nmodel {pipe['model']} (input {pipe['input']} px, {pipe['views']} views), "
        f"load {pipe['load_s']:.2f} s"
    )
    print(f"{'':28s}{'pipeline':>12s}{'naive':>12s}")
    print(f"{'photos':28s}{pipe['n']:12d}{naive['n']:12d}")
    print(f"{'photos/s':28s}{p_rate:12.1f}{n_rate:12.2f}")
    print(f"{'speed-up (pipeline/naive)':28s}{p_rate / n_rate:12.1f}x")
    p_cpu, n_cpu = pipe["n"] / pipe["cpu_s"], naive["n"] / naive["cpu_s"]
    print(f"{'photos per CPU-second':28s}{p_cpu:12.1f}{n_cpu:12.2f}   (load-independent)")
    print(f"{'speed-up per CPU-second':28s}{p_cpu / n_cpu:12.1f}x")
    print(
        f"{'decode share of CPU time':28s}{pipe['decode_cpu_s'] / pipe['cpu_s']:12.0%}"
        f"{naive['decode_s'] / naive['wall_s']:12.0%}"
    )
    print(
        f"{'decode share of wall':28s}{pipe['decode_s'] / pipe['wall_s'] / workers:12.0%}"
        f"{naive['decode_s'] / naive['wall_s']:12.0%}"
        f"   (pipeline: decode thread-seconds / wall / {workers} threads, overlapped)"
    )
    print(
        f"{'inference share of wall':28s}{pipe['infer_s'] / pipe['wall_s']:12.0%}"
        f"{naive['infer_s'] / naive['wall_s']:12.0%}"
    )
    print(f"{'inference stalled on decode':28s}{pipe['wait_s'] / pipe['wall_s']:12.0%}")
    print(f"{'metadata read share of wall':28s}{pipe['metadata_s'] / pipe['wall_s']:12.0%}")
    dec, enc = pipe["decode_cpu_s"] / pipe["n"], pipe["encoder_cpu_per_photo"]
    bound = workers / (dec + enc)
    print(
        f"bound of {workers} cores: {bound:.1f} photos/s (decode {dec * 1e3:.0f} + encoder "
        f"{enc * 1e3:.0f} CPU-ms per photo); end to end at {p_rate / bound:.0%} of it by "
        f"wall time (lower when other work takes the cores)"
    )
    print(
        f"per CPU-second: end to end {p_cpu:.2f} photos, the bound {1 / (dec + enc):.2f}: "
        f"{_bound_share_cpu(pipe):.0%} of it, whatever the load"
    )
    print(
        f"{'CPU use (cores busy)':28s}{pipe['cpu_s'] / pipe['wall_s']:12.2f}"
        f"{naive['cpu_s'] / naive['wall_s']:12.2f}"
    )
    print(f"{'peak RSS MB':28s}{pipe['peak_rss_mb']:12.0f}{naive['peak_rss_mb']:12.0f}")
    print(f"naive engine: {naive['engine']}")
    if one is not None:
        o_rate = one["n"] / one["wall_s"]
        print(
            f"pipeline with its centre view only: {o_rate:.1f} photos/s, "
            f"{one['n'] / one['cpu_s']:.1f} per CPU-second; the {pipe['views']} views cost "
            f"{o_rate / p_rate:.2f}x the time of one"
        )
    print(f"1-min load average at the end: {load:.1f} (other processes share the CPUs)")
    if big is not None:
        growth = (big["peak_rss_mb"] - pipe["peak_rss_mb"]) / (big["n"] - pipe["n"])
        est = pipe["peak_rss_mb"] + max(growth, 0.0) * (5000 - pipe["n"])
        print(
            f"peak RSS {pipe['peak_rss_mb']:.0f} MB at {pipe['n']} photos, "
            f"{big['peak_rss_mb']:.0f} MB at {big['n']} ({big['n'] / big['wall_s']:.1f} photos/s): "
            f"{growth * 1024:.1f} KB/photo -> ~{est:.0f} MB extrapolated to 5,000 photos"
        )


def _bound_share_cpu(run: dict) -> float:
    """The share of a pipeline run's CPU time that went to decode + encoder work, the
    bound's only costs: (decode + encoder CPU-s per photo) / (process CPU-s per photo)."""
    return (run["decode_cpu_s"] + run["encoder_cpu_per_photo"] * run["n"]) / run["cpu_s"]


def paired(args: argparse.Namespace) -> None:
    """The pipeline of ``args.baseline`` and of this tree in turn, ``args.pairs`` times."""
    import statistics

    rows = []
    for i in range(args.pairs):
        base = _child(args, "pipeline", args.n, src=args.baseline)
        this = _child(args, "pipeline", args.n)
        r = [x["n"] / x["wall_s"] for x in (base, this)]
        c = [x["n"] / x["cpu_s"] for x in (base, this)]
        b = [_bound_share_cpu(x) for x in (base, this)]
        rows.append((r[1] / r[0], c[1] / c[0]))
        print(
            f"pair {i + 1}: baseline {r[0]:.2f} photos/s ({c[0]:.2f}/CPU-s, {b[0]:.0%} "
            f"of its bound per CPU-s), this tree {r[1]:.2f} photos/s ({c[1]:.2f}/CPU-s, "
            f"{b[1]:.0%}): {r[1] / r[0]:.3f}x, per CPU-s {c[1] / c[0]:.3f}x; "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    print(
        f"median of {args.pairs} pairs, this tree / baseline: photos/s "
        f"{statistics.median(x[0] for x in rows):.3f}x, per CPU-second "
        f"{statistics.median(x[1] for x in rows):.3f}x"
    )


if __name__ == "__main__":
    main()
