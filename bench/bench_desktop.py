"""Desktop app benchmarks (printed, never asserted).

1. Launch: wall time from starting ``python -m geoscope_desktop`` to its main
   window shown (target <= 2 s), median of ``--runs`` cold-ish launches.
2. Memory: peak and final RSS of the app process after scanning ``--photos``
   real photos (copied from the shared data) through the window (target <= 500 MB).

    QT_QPA_PLATFORM=offscreen python bench/bench_desktop.py [--photos 2000] [--model PATH]

Uses the default model when it is installed, else a tiny test bundle (then
the RSS figure says little about the real model, and the output says so).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def bench_launch(runs: int, tmp: Path) -> list[float]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    env["GEOSCOPE_CACHE_DIR"] = str(tmp / "cache")
    times = []
    for i in range(runs):
        t0 = time.time()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "geoscope_desktop",
                "--exit-when-shown",
                "--settings",
                str(tmp / f"launch{i}.ini"),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        shown = next(ln for ln in proc.stdout.splitlines() if ln.startswith("shown "))
        times.append(float(shown.split()[1]) - t0)
    return times


def copy_photos(dest: Path, n: int) -> int:
    from geoscope_core.settings import data_dir

    labels = data_dir() / "geo" / "labels.csv"
    if not labels.is_file():
        raise SystemExit(f"shared data missing: {labels} (set $GEOSCOPE_DATA)")
    with open(labels, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    dest.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        src = data_dir() / "geo" / row["path"]
        shutil.copyfile(src, dest / f"{i:05d}_{src.name}")
    return len(rows)


def scan_child(folder: Path, model: str | None, settings: Path) -> None:
    """Runs in a fresh process: scan ``folder`` in the window, print a JSON line."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from geoscope_desktop.items import PhotoStatus
    from geoscope_desktop.main_window import MainWindow
    from geoscope_desktop.settings_store import make_settings
    from geoscope_desktop.workers import ModelChoice

    app = QApplication([sys.argv[0]])
    window = MainWindow(make_settings(settings), ModelChoice(model, "cpu"))
    errors: list[str] = []
    window.dialogs.error = lambda title, text, details="": errors.append(text)  # type: ignore[method-assign]
    window.show()
    rss_idle = _status_kb("VmRSS")
    window.open_folder(folder)
    loop = QEventLoop()
    window.scan_finished.connect(lambda _c: loop.quit())
    QTimer.singleShot(3_600_000, loop.quit)
    t0 = time.perf_counter()
    if window.start_scan():
        loop.exec()
    wall = time.perf_counter() - t0
    app.processEvents()
    counts = window.model.counts()
    print(
        json.dumps(
            {
                "photos": len(window.model),
                "estimated": counts[PhotoStatus.ESTIMATED],
                "errors": counts[PhotoStatus.ERROR],
                "scan_s": wall,
                "rss_idle_mb": rss_idle / 1024,
                "rss_after_mb": _status_kb("VmRSS") / 1024,
                "rss_peak_mb": _status_kb("VmHWM") / 1024,
                "model": window.models.predictor.model_id if window.models.predictor else "?",
                "dialog_errors": errors,
            }
        ),
        flush=True,
    )
    window.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=2000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--model", default=None, help="bundle folder (default: the shipped model)")
    p.add_argument(
        "--child", nargs=3, metavar=("FOLDER", "MODEL", "SETTINGS"), help=argparse.SUPPRESS
    )
    args = p.parse_args()
    if args.child:
        folder, model, settings = args.child
        scan_child(Path(folder), model or None, Path(settings))
        return 0

    from geoscope_core.settings import DEFAULT_MODEL, models_dir

    with tempfile.TemporaryDirectory(prefix="geoscope-bench-") as tmp_name:
        tmp = Path(tmp_name)
        launch = bench_launch(args.runs, tmp)
        print(
            f"launch to window shown: median {statistics.median(launch):.2f} s "
            f"(runs: {', '.join(f'{t:.2f}' for t in launch)}; target <= 2 s, "
            f"ratio {statistics.median(launch) / 2.0:.2f} of target)"
        )
        model = args.model
        note = ""
        if model is None and not (models_dir() / DEFAULT_MODEL).is_dir():
            sys.path.insert(0, str(ROOT))
            from tests.bundles import make_bundle

            model = str(make_bundle(tmp / "tiny", name="tiny-bench"))
            note = " (tiny test bundle: the shipped model is not installed)"
        n = copy_photos(tmp / "photos", args.photos)
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        env["GEOSCOPE_CACHE_DIR"] = str(tmp / "cache")
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(tmp / "photos"),
                model or "",
                str(tmp / "scan.ini"),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"scan of {n} photos in the app: {res['scan_s']:.1f} s "
            f"({res['photos'] / res['scan_s']:.1f} photos/s), {res['estimated']} estimated, "
            f"{res['errors']} errors, model {res['model']}{note}"
        )
        print(
            f"RSS: idle window {res['rss_idle_mb']:.0f} MB, after the scan "
            f"{res['rss_after_mb']:.0f} MB, peak {res['rss_peak_mb']:.0f} MB "
            f"(target <= 500 MB, ratio {res['rss_peak_mb'] / 500:.2f} of target)"
        )
        if res["dialog_errors"]:
            print(f"errors shown: {res['dialog_errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
