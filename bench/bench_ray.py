"""Ray benchmark: the same photos scanned in one process and on Ray (local workers).

Copies ``--n`` small photos of the shared geo set (256-448 px; default 5,000) into
folders of ``--per-folder`` OUTSIDE the repository (default /tmp/geoscope-bench-ray),
then, each in a fresh child process, with the same bundle and no cache:

* local: ``Scanner.scan`` in this process (decode threads + ONNX Runtime on all cores);
* ray: ``scan_on_ray`` on a local Ray instance of ``--cpus`` CPUs with ``--workers``
  actors of one CPU each; its photos/s are timed from the first folder sent (the
  instance's start-up, printed apart, is paid once per job, not per photo);
* with ``--s3``: both again on the same photos in a bucket of an S3 server this script
  starts (moto's, on 127.0.0.1; the dev extra), read through pyarrow as a scan of
  ``s3://`` does: each folder's objects fetched into a temporary folder, then scanned.
  Its ratio to the disk figures is the cost of fetching (from a local Python server: an
  upper bound for the fetch code's own cost, not a figure for a real store's network);
* kill and resume: ``geoscope scan --engine ray --out SHARDS`` (a local instance on
  every CPU) killed (SIGKILL of its
  process group) once a few shards are written, then run again to the end; counts the
  rows of the shard folder and the distinct photos among them.

Prints photos/s of both and their ratio. Figures only; nothing is asserted.

    python bench/bench_ray.py [--n 5000] [--per-folder 100] [--bundle NAME|PATH] [--s3]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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


def child(mode: str, archive: str, bundle: str | None, workers: int, cpus: int) -> dict:
    """Scan ``archive`` (a folder, or an s3:// URI) in this process (``mode`` "local") or
    on Ray ("ray"); photos, seconds, and the Ray instance's start-up seconds."""
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.store import ObjectStore, open_target, scan_any
    from geoscope_core.scan.types import ScanOptions

    target = open_target(archive)
    stores = {target.root: target} if isinstance(target, ObjectStore) else {}
    photos = target.list_photos() if isinstance(target, ObjectStore) else _photos(target)
    options = ScanOptions(use_cache=False)
    if mode == "local":
        from geoscope_core.scan.pipeline import Scanner

        predictor = Predictor.load(bundle, provider="cpu")
        t = time.perf_counter()
        n = sum(1 for _ in scan_any(Scanner(predictor, options), photos, stores))
        return {"n": n, "s": time.perf_counter() - t, "startup_s": 0.0}
    import ray

    from geoscope_core.scan.ray_engine import RayOptions, scan_on_ray

    predictor = Predictor.load(bundle, provider="cpu")
    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - t0
    shards = Path(tempfile.gettempdir()) / f"geoscope-bench-shards-{os.getpid()}"
    t = time.perf_counter()
    results = scan_on_ray(
        photos,
        predictor.bundle.path,
        predictor.model_id,
        "cpu",
        options,
        RayOptions(workers=workers),
        shards,
        stores=stores,
    )
    n = sum(1 for _ in results)
    s = time.perf_counter() - t
    ray.shutdown()
    shutil.rmtree(shards, ignore_errors=True)
    return {"n": n, "s": s, "startup_s": startup}


def _run_child(args: argparse.Namespace, mode: str, archive: Path | str) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(archive), "--workers", str(args.workers)]
    cmd += ["--cpus", str(args.cpus)] + (["--bundle", args.bundle] if args.bundle else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{mode} run failed")
    return json.loads(line[len("RESULT ") :])


@contextlib.contextmanager
def s3_bucket(archive: Path) -> Iterator[str]:
    """The photos of ``archive`` uploaded to a bucket of an S3 server on 127.0.0.1 (moto,
    stopped on exit); its URI. The credentials go in this process's environment, which
    the children (and the Ray instances they start) inherit."""
    import logging

    from moto.server import ThreadedMotoServer
    from pyarrow import fs

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true"
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = fs.S3FileSystem(
            endpoint_override=f"{host}:{port}",
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        s3.create_dir("bench")
        for p in _photos(archive):
            with s3.open_output_stream(f"bench/{Path(p).relative_to(archive).as_posix()}") as f:
                f.write(Path(p).read_bytes())
        yield f"s3://bench?endpoint_override={host}:{port}&scheme=http&region=us-east-1"
    finally:
        server.stop()


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
    ap.add_argument(
        "--s3", action="store_true", help="also scan the photos from a local S3 server (moto)"
    )
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, archive = args.child
        res = child(mode, archive, args.bundle, args.workers, args.cpus)
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
    if args.s3:
        with s3_bucket(archive) as uri:
            s3_l = _run_child(args, "local", uri)
            s3_r = _run_child(args, "ray", uri)
        rate_sl, rate_sr = s3_l["n"] / s3_l["s"], s3_r["n"] / s3_r["s"]
        print(
            f"from S3, single process: {rate_sl:7.1f} photos/s ({rate_sl / rate_l:.3f} of "
            f"disk); ray: {rate_sr:7.1f} photos/s ({rate_sr / rate_r:.3f} of disk)"
        )
    if not args.no_resume:
        kill_and_resume(args, archive)


if __name__ == "__main__":
    main()
