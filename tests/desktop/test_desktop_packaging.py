"""Builds the one-folder desktop app with PyInstaller and runs its --self-test."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from geoscope_core.settings import DEFAULT_MODEL, models_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_frozen_app_builds_without_torch_and_passes_its_self_test(tmp_path: Path) -> None:
    bundle = models_dir() / DEFAULT_MODEL
    if not bundle.is_dir():
        from tests.bundles import make_bundle

        warnings.warn(
            f"no default model at {bundle}: packaging a tiny test bundle instead", stacklevel=1
        )
        bundle = make_bundle(tmp_path / "bundle", name="tiny-packaged")
    dist = tmp_path / "dist"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "packaging" / "build_desktop.py"),
            "--bundle",
            str(bundle),
            "--dist",
            str(dist),
            "--work",
            str(tmp_path / "work"),
            "--self-test",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "self-test passed" in proc.stdout
    app = dist / "geoscope-desktop"
    internal = app / "_internal"
    names = {p.name for p in internal.iterdir()}
    assert not {n for n in names if n.startswith(("torch", "transformers", "matplotlib"))}
    assert (internal / "geoscope_core" / "models" / DEFAULT_MODEL / "manifest.json").is_file()
    assert (internal / "geoscope_desktop" / "resources" / "world_outlines.json").is_file()
    assert (internal / "geoscope_desktop" / "resources" / "basemap.npz").is_file()
    assert (internal / "samples").is_dir()
    size_mb = (
        sum(p.stat().st_size for p in app.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )
    print(f"frozen app: {size_mb:.0f} MB, build + self-test {elapsed:.0f} s")
    shutil.rmtree(tmp_path / "work", ignore_errors=True)  # ~1 GB of build output
    shutil.rmtree(dist, ignore_errors=True)
