"""Build the one-folder desktop app with PyInstaller and optionally run its self-test.

    python packaging/build_desktop.py [--bundle DIR] [--dist DIR] [--self-test]

The default model bundle (``geoscope_core/models/geoscope-lite``) and the
sample photos (``geoscope_core.samples``) are packed inside; torch and the
training stack are excluded. Prints the build's size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "geoscope-desktop.spec"
NAME = "geoscope-desktop"


def folder_size(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def build(bundle: Path, dist: Path, work: Path) -> Path:
    """Run PyInstaller; returns the app folder (``dist/geoscope-desktop``)."""
    from geoscope_core.runtime.bundle import load_bundle
    from geoscope_core.samples import make_sample_folder

    bundle = bundle.resolve()
    load_bundle(bundle, verify=True)  # never package a broken model
    samples = make_sample_folder(work / "samples")
    # geoscope_desktop lives in desktop/ (a setuptools package-dir mapping PyInstaller
    # cannot follow): stage it under its import name.
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(
        ROOT / "desktop", src / "geoscope_desktop", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {
        **os.environ,
        "GEOSCOPE_BUILD_BUNDLE": str(bundle),
        "GEOSCOPE_BUILD_SAMPLES": str(samples),
        "GEOSCOPE_BUILD_SRC": str(src),
    }
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        str(SPEC),
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(dist),
        "--workpath",
        str(work / "pyinstaller"),
    ]
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    app = dist / NAME
    if not (app / NAME).is_file():
        raise SystemExit(f"PyInstaller produced no {app / NAME}")
    return app


def main(argv: list[str] | None = None) -> int:
    from geoscope_core.settings import DEFAULT_MODEL, models_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=models_dir() / DEFAULT_MODEL)
    p.add_argument("--dist", type=Path, default=ROOT / "dist")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "desktop")
    p.add_argument("--self-test", action="store_true", help="run the frozen app's self-test")
    args = p.parse_args(argv)
    if not args.bundle.is_dir():
        print(f"no model bundle at {args.bundle} (pass --bundle DIR)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    app = build(args.bundle, args.dist, args.work)
    built_s = time.perf_counter() - t0
    size = folder_size(app)
    print(f"built {app} in {built_s:.0f} s: {size / 1e6:.1f} MB")
    leaked = sorted(p.name for p in (app / "_internal").iterdir() if p.name.startswith("torch"))
    if leaked:
        print(f"torch leaked into the build: {leaked}", file=sys.stderr)
        return 1
    if args.self_test:
        t1 = time.perf_counter()
        proc = subprocess.run([str(app / NAME), "--self-test"], check=False)
        print(f"self-test exit {proc.returncode} in {time.perf_counter() - t1:.1f} s")
        return proc.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
