"""Ray benchmark: the same photos scanned in one process and on Ray (local workers).

Copies ``--n`` small photos of the shared geo set (256-448 px; default 5,000) into
folders of ``--per-folder`` OUTSIDE the repository (default /tmp/geoscope-bench-ray),
then, each in a fresh child process, with the same bundle and no cache:

* local: ``Scanner.scan`` in this process (decode threads + ONNX Runtime on all cores);
* ray: ``scan_on_ray`` on a local Ray instance of ``--cpus`` CPUs with ``--workers``
  actors of one CPU each; its photos/s are timed from the first folder sent (the
  instance's start-up, printed apart, is paid once per job, not per photo);
* kill and resume: ``geoscope scan --engine ray --out SHARDS`` (a local instance on
  every CPU) killed (SIGKILL of its
  process group) once a few shards are written, then run again to the end; counts the
  rows of the shard folder and the distinct photos among them.

Prints photos/s of both and their ratio. Figures only; nothing is asserted.

    python bench/bench_ray.py [--n 5000] [--per-folder 100] [--bundle NAME|PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def make_photos(root: Path, n: int, per_folder: int) -> Path:
    """``n`` geo photos in folders ``dNNNN`` of ``per_folder`` (copied once, reused)."""
    from geoscope_core.settings import data_dir

    geo = data_dir() / "geo"
    with (geo / "labels.csv").open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"shared data missing: {geo / 'labels.csv'}")
    archive = root / f"archive-{n}-{per_folder}"
    for i in range(n):
        dst = archive / f"d{i // per_folder:04d}" / f"p{i:06d}.jpg"
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(geo / rows[i % len(rows)]["path"], dst)
    return archive


def _photos(archive: Path) -> list[str]:
    from geoscope_core.photos.walk import iter_photos

    return [os.fspath(p) for p in iter_photos(archive)]


def child(mode: str, archive: Path, bundle: str | None, workers: int, cpus: int) -> dict:
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.types import ScanOptions

    photos = _photos(archive)
    options = ScanOptions(use_cache=False)
    if mode == "local":
        from geoscope_core.scan.pipeline import Scanner

        predictor = Predictor.load(bundle, provider="cpu")
        t = time.perf_counter()
        n = sum(1 for _ in Scanner(predictor, options).scan(photos))
        return {"n": n, "s": time.perf_counter() - t, "startup_s": 0.0}
    import ray

    from geoscope_core.scan.ray_engine import RayOptions, scan_on_ray

    predictor = Predictor.load(bundle, provider="cpu")
    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - t0
    shards = archive.parent / f"shards-{os.getpid()}"
    t = time.perf_counter()
    results = scan_on_ray(
        photos,
        predictor.bundle.path,
        predictor.model_id,
        "cpu",
        options,
        RayOptions(workers=workers),
        shards,
    )
    n = sum(1 for _ in results)
    s = time.perf_counter() - t
    ray.shutdown()
    shutil.rmtree(shards, ignore_errors=True)
    return {"n": n, "s": s, "startup_s": startup}


def _run_child(args: argparse.Namespace, mode: str, archive: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(archive), "--workers", str(args.workers)]
    cmd += ["--cpus", str(args.cpus)] + (["--bundle", args.bundle] if args.bundle else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{mode} run failed")
    return json.loads(line[len("RESULT ") :])


def kill_and_resume(args: argparse.Namespace, archive: Path) -> None:
    from geoscope_core.scan.output import read_results, shard_files

    shards = archive.parent / "shards-resume"
    shutil.rmtree(shards, ignore_errors=True)
    cmd = [sys.executable, "-m", "geoscope_core", "scan", str(archive), "--engine", "ray"]
    cmd += ["--workers", str(args.workers), "--no-cache", "--no-progress", "--out", str(shards)]
    cmd += ["--provider", "cpu"] + (["--model", args.bundle] if args.bundle else [])
    folders = sum(1 for p in archive.iterdir() if p.is_dir())
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    while proc.poll() is None and len(shard_files(shards)) < max(1, folders // 3):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the scan and the Ray instance it started
    proc.wait()
    killed_at = len(shard_files(shards))
    t = time.perf_counter()
    rc = subprocess.run(cmd, capture_output=True, check=False).returncode
    dt = time.perf_counter() - t
    paths = [r.path for r in read_results(shards)]
    print(
        f"kill and resume: killed with {killed_at}/{folders} folder shards written; the "
        f"rerun (exit {rc}, {dt:.0f} s) ends with {len(paths)} rows, {len(set(paths))} "
        f"distinct photos, for {args.n} photos"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--per-folder", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--bundle", default=None, help="bundle name or path (default model)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/geoscope-bench-ray"))
    ap.add_argument("--no-resume", action="store_true", help="skip the kill-and-resume run")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, archive = args.child
        res = child(mode, Path(archive), args.bundle, args.workers, args.cpus)
        print("RESULT " + json.dumps(res))
        return
    archive = make_photos(args.workdir, args.n, args.per_folder)
    local = _run_child(args, "local", archive)
    on_ray = _run_child(args, "ray", archive)
    rate_l = local["n"] / local["s"]
    rate_r = on_ray["n"] / on_ray["s"]
    print(f"{args.n} photos in folders of {args.per_folder}; os.cpu_count()={os.cpu_count()}")
    print(f"single process      : {rate_l:7.1f} photos/s ({local['s']:.1f} s)")
    print(
        f"ray, {args.workers} workers x 1 CPU: {rate_r:7.1f} photos/s ({on_ray['s']:.1f} s; "
        f"+{on_ray['startup_s']:.1f} s to start the local instance)"
    )
    print(f"ray / single process: {rate_r / rate_l:.3f}")
    if not args.no_resume:
        kill_and_resume(args, archive)


if __name__ == "__main__":
    main()
