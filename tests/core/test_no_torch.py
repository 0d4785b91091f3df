"""The scan path never imports torch or matplotlib, neither of which the base install
has (checked in a fresh interpreter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CODE = r"""
import importlib, importlib.util, pkgutil, sys
import geoscope_core.runtime, geoscope_core.photos
for pkg in (geoscope_core.runtime, geoscope_core.photos):
    for m in pkgutil.iter_modules(pkg.__path__):
        if m.name != "__main__":
            importlib.import_module(f"{pkg.__name__}.{m.name}")
import geoscope_core.commands.scan, geoscope_core.commands.eval, geoscope_core.commands.bundle
import geoscope_core.cli
geoscope_core.cli.build_parser()
if importlib.util.find_spec("PySide6") is not None:  # the desktop extra
    import geoscope_desktop
    for m in pkgutil.iter_modules(geoscope_desktop.__path__):
        if m.name != "__main__":
            importlib.import_module(f"geoscope_desktop.{m.name}")
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "matplotlib"))
print("IMPORTED", len(sys.modules))
assert not bad, bad
"""


def test_scan_path_does_not_import_torch() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run(
        [sys.executable, "-c", CODE],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "IMPORTED" in r.stdout


def test_predicting_does_not_import_torch(tmp_path: Path) -> None:
    code = f"""
import sys
import numpy as np
from tests.bundles import make_bundle
from geoscope_core.runtime.predictor import Predictor
b = make_bundle({str(tmp_path / "b")!r})
Predictor.load(b).predict(np.zeros((2, 64, 64, 3), np.uint8))
assert "torch" not in sys.modules
"""
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr[-3000:]
