"""Desktop app benchmarks (printed, never asserted).

1. Launch: wall time from starting ``python -m geoscope_desktop`` to its main window
   shown (target <= 2 s), median of ``--runs`` launches.
2. Memory: RSS of the app process while it scans ``--photos`` photos through the window
   (target <= 500 MB after 2,000): the RSS at each step (window shown, folder opened,
   model loaded, first result, scan done) and the peak.
3. Parts: where the memory goes, each part loaded in turn in one fresh process (Qt, the
   window, the gazetteer, the map's towns and place search, place naming's KD-tree, the
   model's session, one scan batch as the app runs it), as RSS added by each.

The photos are the shared data's real photos (``geo/labels.csv``, the first N rows:
Street View and Flickr JPEGs of at most 448 px, copied into a temporary folder), not
camera-size ones: bench_scan.py measures decoding 12 MP photos.

The gazetteer's tables are parsed once before the runs, as every run after the first
finds them; ``--cold`` makes each run parse them, as the first run after install does.

``--baseline SRC`` (a source tree of another commit: ``git archive REV | tar -x -C SRC``)
runs every measurement on SRC's code and on this tree's in turn, with the same photos
and model, and prints them side by side with their ratio (this tree / SRC): the
machine's other load weighs on both alike.

    QT_QPA_PLATFORM=offscreen python bench/bench_desktop.py [--photos 300 2000]
        [--runs 3] [--model PATH] [--baseline /tmp/geoscope-old] [--cold]

Uses the default model when it is installed, else a tiny test bundle (then the RSS
figures say little about the real model, and the output says so).
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
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: package name -> folder in a source tree (the distribution's package-dir)
PACKAGE_DIRS = {"geoscope_desktop": "desktop", "geoscope_export": "export"}
TARGET_LAUNCH_S = 2.0
TARGET_RSS_MB = 500.0


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return -1.0


def _rss() -> float:
    return _status_mb("VmRSS")


# -- the trees ------------------------------------------------------------------------
def tree_env(src: Path, tmp: Path) -> dict[str, str]:
    """The environment that makes a child import ``src``'s code (every package), whatever
    the installed distribution points at."""
    links = tmp / f"links-{abs(hash(str(src)))}"
    links.mkdir(parents=True, exist_ok=True)
    for name, folder in PACKAGE_DIRS.items():
        link = links / name
        if not link.exists():
            link.symlink_to(src / folder)
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(links)])
    env["GEOSCOPE_CACHE_DIR"] = str(tmp / "cache")
    return env


def fresh_scan_cache(cache: Path, cold: bool = False) -> None:
    """Empty the cache folder but for the gazetteer's tables: each scan starts with no scan
    cache and no kept decisions, and every tree reads the same parsed gazetteer (its first
    parse, once per install, is a transient of its own: ``cold`` removes it too)."""
    for entry in cache.glob("*"):
        if cold or not entry.name.startswith("gazetteer-"):
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def warm_gazetteer(env: dict[str, str]) -> None:
    code = "from geoscope_core.geo.gazetteer import get_gazetteer; get_gazetteer()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)


def _child(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run this script's child mode ``args`` under ``env``; its last stdout line (JSON)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=7200,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def launch_once(env: dict[str, str], settings: Path) -> float:
    t0 = time.time()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geoscope_desktop",
            "--exit-when-shown",
            "--settings",
            str(settings),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    shown = next(ln for ln in proc.stdout.splitlines() if ln.startswith("shown "))
    return float(shown.split()[1]) - t0


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


# -- children (run on one tree's code) ------------------------------------------------
def _join_thread(name: str, timeout: float = 120.0) -> None:
    for t in threading.enumerate():
        if t.name == name:
            t.join(timeout)


def scan_child(folder: Path, model: str | None, settings: Path) -> dict[str, Any]:
    """Scan ``folder`` in the window; the RSS at each step (MB) and the peak."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from geoscope_desktop.items import PhotoStatus
    from geoscope_desktop.main_window import MainWindow
    from geoscope_desktop.settings_store import make_settings
    from geoscope_desktop.workers import ModelChoice

    steps: dict[str, float] = {}
    app = QApplication([sys.argv[0]])
    window = MainWindow(make_settings(settings), ModelChoice(model, "cpu"))
    errors: list[str] = []
    window.dialogs.error = lambda title, text, details="": errors.append(text)  # type: ignore[method-assign]
    window.show()
    app.processEvents()
    steps["window shown"] = _rss()
    window.open_folder(folder)
    app.processEvents()
    steps["folder opened"] = _rss()
    window.scanner.model_ready.connect(lambda _p: steps.setdefault("model loaded", _rss()))
    window.scan_progress.connect(lambda _d, _t: steps.setdefault("first result", _rss()))
    loop = QEventLoop()
    window.scan_finished.connect(lambda _c: loop.quit())
    QTimer.singleShot(3_600_000, loop.quit)
    t0 = time.perf_counter()
    if window.start_scan():
        loop.exec()
    wall = time.perf_counter() - t0
    app.processEvents()
    steps["scan done"] = _rss()
    counts = window.model.counts()
    out = {
        "photos": len(window.model),
        "estimated": counts[PhotoStatus.ESTIMATED],
        "errors": counts[PhotoStatus.ERROR],
        "scan_s": wall,
        "steps": steps,
        "peak": _status_mb("VmHWM"),
        "model": window.models.predictor.model_id if window.models.predictor else "?",
        "dialog_errors": errors,
    }
    window.close()
    return out


def parts_child(folder: Path, model: str | None, settings: Path) -> dict[str, Any]:
    """Load the app's parts one after another; the RSS each adds (MB) and the peak."""
    parts: dict[str, float] = {}
    last = _rss()

    def part(name: str) -> None:
        nonlocal last
        now = _rss()
        parts[name] = now - last
        last = now

    parts["interpreter"] = last
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    part("Qt (PySide6, QApplication)")
    from geoscope_desktop.main_window import MainWindow
    from geoscope_desktop.settings_store import make_settings
    from geoscope_desktop.workers import ModelChoice, ScanWorker, load_predictor

    part("app modules (numpy, geoscope_core)")
    window = MainWindow(make_settings(settings), ModelChoice(model, "cpu"))
    window.show()
    app.processEvents()
    part("window shown")
    from geoscope_core.geo.gazetteer import get_gazetteer

    tables = get_gazetteer().tables
    part(f"gazetteer tables ({len(tables.city_names):,} towns)")
    from geoscope_desktop.map_layers import MapLayers

    MapLayers.preload()
    _join_thread("geoscope-basemap")
    part("map preload (layers, towns, what it builds)")
    from geoscope_core.geo.gazetteer import warm_up

    warm_up()
    _join_thread("geoscope-gazetteer")
    part("place naming (scipy KD-tree)")
    predictor = load_predictor(ModelChoice(model, "cpu"))
    part("model (ONNX Runtime session)")
    paths = sorted(folder.iterdir())
    worker = ScanWorker(paths, ModelChoice(model, "cpu"), window.scanner.options, predictor)
    worker.run()  # in this thread: the app's scan options, batch after batch
    part(f"scan of {len(paths)} photos (ONNX Runtime's arena)")
    window.close()
    return {"parts": parts, "peak": _status_mb("VmHWM")}


# -- printing -------------------------------------------------------------------------
def _ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}" if old else "-"


def _side(label: str, new: float, old: float | None, unit: str, fmt: str = ".0f") -> str:
    if old is None:
        return f"  {label:48s}{new:10{fmt}} {unit}"
    return f"  {label:48s}{old:10{fmt}}{new:10{fmt}} {unit}  ({_ratio(new, old)})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, nargs="*", default=[300, 2000], help="scan sizes")
    p.add_argument("--runs", type=int, default=3, help="launches per tree")
    p.add_argument("--model", default=None, help="bundle folder (default: the shipped model)")
    p.add_argument("--baseline", type=Path, default=None, help="source tree to compare with")
    p.add_argument("--no-parts", action="store_true", help="skip the memory breakdown")
    p.add_argument(
        "--cold",
        action="store_true",
        help="each scan parses the gazetteer's source first, as the first run after install",
    )
    p.add_argument("--child", nargs=4, metavar=("KIND", "FOLDER", "MODEL", "SETTINGS"))
    args = p.parse_args()
    if args.child:
        kind, folder, model, settings = args.child
        fn = scan_child if kind == "scan" else parts_child
        print(json.dumps(fn(Path(folder), model or None, Path(settings))), flush=True)
        return 0

    from geoscope_core.settings import DEFAULT_MODEL, models_dir

    with tempfile.TemporaryDirectory(prefix="geoscope-bench-") as tmp_name:
        tmp = Path(tmp_name)
        trees = {"this tree": tree_env(ROOT, tmp)}
        if not args.cold:
            warm_gazetteer(trees["this tree"])
        if args.baseline is not None:
            trees = {"baseline": tree_env(args.baseline.resolve(), tmp), **trees}
        header = "  " + " " * 48 + "".join(f"{k:>10s}" for k in trees)
        roots = {k: env["PYTHONPATH"].split(os.pathsep)[0] for k, env in trees.items()}
        print("trees: " + ", ".join(f"{k} {r}" for k, r in roots.items()))

        launch: dict[str, list[float]] = {k: [] for k in trees}
        for i in range(args.runs):
            for name, env in trees.items():
                launch[name].append(launch_once(env, tmp / f"launch-{name}-{i}.ini"))
        print(f"launch to window shown (s), median of {args.runs} (target <= {TARGET_LAUNCH_S} s):")
        print(header)
        med = {k: statistics.median(v) for k, v in launch.items()}
        old = med.get("baseline")
        print(_side("median", med["this tree"], old, "s", ".2f"))
        for k, v in launch.items():
            print(f"    {k} runs: {', '.join(f'{t:.2f}' for t in v)}")

        model = args.model
        note = ""
        if model is None and not (models_dir() / DEFAULT_MODEL).is_dir():
            sys.path.insert(0, str(ROOT))
            from tests.bundles import make_bundle

            model = str(make_bundle(tmp / "tiny", name="tiny-bench"))
            note = " (tiny test bundle: the shipped model is not installed)"

        if not args.no_parts:
            copy_photos(tmp / "parts", 48)
            res = {}
            for k, env in trees.items():
                fresh_scan_cache(tmp / "cache", args.cold)
                res[k] = _child(
                    env, "parts", str(tmp / "parts"), model or "", str(tmp / f"p-{k}.ini")
                )
            print("where the memory goes: RSS added by each part, loaded in turn (MB):")
            print(header)
            base = res.get("baseline")
            for name, mb in res["this tree"]["parts"].items():
                print(_side(name, mb, base["parts"].get(name) if base else None, "MB"))
            print(_side("peak", res["this tree"]["peak"], base["peak"] if base else None, "MB"))

        for n_photos in args.photos:
            folder = tmp / f"photos-{n_photos}"
            n = copy_photos(folder, n_photos)
            res = {}
            for k, env in trees.items():
                fresh_scan_cache(tmp / "cache", args.cold)
                res[k] = _child(env, "scan", str(folder), model or "", str(tmp / f"s-{k}.ini"))
            new, base = res["this tree"], res.get("baseline")
            print(
                f"scan of {n} shared-data photos in the app, model {new['model']}{note}: "
                f"RSS (MB; target <= {TARGET_RSS_MB:.0f} MB peak)"
            )
            print(header)
            for step, mb in new["steps"].items():
                print(_side(f"after {step}", mb, base["steps"].get(step) if base else None, "MB"))
            print(_side("peak", new["peak"], base["peak"] if base else None, "MB"))
            print(
                _side(
                    "photos/s",
                    new["photos"] / new["scan_s"],
                    base["photos"] / base["scan_s"] if base else None,
                    "",
                    ".1f",
                )
            )
            for k, r in res.items():
                print(
                    f"    {k}: {r['estimated']} estimated, {r['errors']} errors of {r['photos']}"
                    + (f"; errors shown: {r['dialog_errors']}" if r["dialog_errors"] else "")
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
