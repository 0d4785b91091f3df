"""Memory benchmark: peak RSS of ``geoscope scan`` at two archive sizes.

Makes an archive of small JPEGs (64x48, folders of ``--per-folder`` photos; one photo in
ten carries camera GPS, the rest a capture time) OUTSIDE the repository (default
/tmp/geoscope-bench-mem; hard links of a few files, so 100k photos take little disk) and
runs ``geoscope scan ARCHIVE --no-cache --out results.csv`` on the first N of its folders
for each N, each in a fresh child process, printing its peak RSS. A scan holds one
folder's photos at a time, so the figures should be about the same at every size.

The model is a tiny bundle built like the tests' (64 px input, 32-dim embedding), so the
run measures what the pipeline holds per photo, not the model's speed; ``--bundle`` takes
a real one. Figures only; nothing is asserted.

    python bench/bench_memory.py [--sizes 20000 100000] [--per-folder 1000] [--bundle PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def make_archive(root: Path, n: int, per_folder: int) -> None:
    """``n`` photos in folders ``dNNNNN`` of ``per_folder`` each (hard links; reused)."""
    import numpy as np

    from tests.bundles import solid_image, write_jpeg

    src = root / "src"
    sources = []
    for i in range(9):
        rgb = tuple(int(c) for c in np.random.default_rng(i).integers(0, 255, 3))
        taken = f"2024:05:01 10:{i:02d}:00"
        sources.append(
            write_jpeg(src / f"u{i}.jpg", solid_image(rgb), taken_at=taken, size=(64, 48))
        )
    tagged = write_jpeg(
        src / "t.jpg",
        solid_image((90, 120, 200)),
        gps=(45.81, 15.98),
        size=(64, 48),
        taken_at="2024:05:01 10:04:30",
    )
    for i in range(n):
        d = root / "archive" / f"d{i // per_folder:05d}"
        dst = d / f"p{i:06d}.jpg"
        if dst.exists():
            continue
        d.mkdir(parents=True, exist_ok=True)
        os.link(tagged if i % 10 == 0 else sources[i % 9], dst)


def child(archive: Path, folders: int, bundle: str, out: Path) -> None:
    """Scan the first ``folders`` folders through the CLI; print peak RSS (MiB)."""
    from geoscope_core.cli import main

    dirs = sorted(p for p in archive.iterdir() if p.is_dir())[:folders]
    # one folder argument per folder: the CLI walks each, as it walks an archive's tree
    args = ["scan", *map(str, dirs), "--model", bundle, "--no-cache", "--no-progress"]
    t = time.perf_counter()
    code = main([*args, "--out", str(out)])
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT {peak:.1f} {wall:.1f} {code}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    ap.add_argument("--per-folder", type=int, default=1000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/geoscope-bench-mem"))
    ap.add_argument("--bundle", default=None, help="bundle path (default: a tiny test bundle)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        archive, folders, bundle = args.child
        child(Path(archive), int(folders), bundle, args.workdir / f"results-{os.getpid()}.csv")
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    bundle = args.bundle
    if bundle is None:
        from tests.bundles import make_bundle

        b = args.workdir / "tiny-bundle"
        if not (b / "manifest.json").exists():
            make_bundle(b)
        bundle = str(b)
    make_archive(args.workdir, max(args.sizes), args.per_folder)
    rows = []
    for n in args.sizes:
        folders = -(-n // args.per_folder)
        cmd = [sys.executable, __file__, "--workdir", str(args.workdir), "--child"]
        cmd += [str(args.workdir / "archive"), str(folders), bundle]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
        if line is None:
            print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"scan of {n} photos failed")
        peak, wall, code = line.split()[1:]
        rows.append((n, float(peak), float(wall)))
        print(
            f"{n:>7d} photos: peak RSS {float(peak):7.1f} MiB, {n / float(wall):6.1f} photos/s "
            f"(exit {code})",
            flush=True,
        )
    (n0, p0, _), (n1, p1, _) = rows[0], rows[-1]
    print(
        f"peak RSS {n1} vs {n0} photos: {p1 / p0:.3f}x "
        f"({(p1 - p0) * 1024 / max(1, n1 - n0):.2f} KiB per extra photo)"
    )


if __name__ == "__main__":
    main()
