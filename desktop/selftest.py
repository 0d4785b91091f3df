"""``geoscope-desktop --self-test``: a headless end-to-end check of an installed or frozen app.

Copies the sample photos (bundled with a frozen build; otherwise made by
``geoscope_core.samples``) into a temporary folder, opens it in the real main
window, scans it with the chosen model and checks that every photo got a
result, at least one an estimate, and that the window renders. Prints one line
per photo and exits 0 on success, 1 otherwise.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from geoscope_core.errors import GeoScopeError
from geoscope_core.settings import CACHE_ENV

TIMEOUT_S = 600


def bundled_samples() -> Path | None:
    """The sample folder a frozen build carries (None when not frozen)."""
    base = getattr(sys, "_MEIPASS", None)
    if base is None:
        return None
    folder = Path(base) / "samples"
    return folder if folder.is_dir() else None


def run_self_test(
    folder: Path | None = None, model: str | None = None, provider: str = "auto"
) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="geoscope-selftest-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ[CACHE_ENV] = str(tmp / "cache")
        photos = tmp / "photos"
        src = folder or bundled_samples()
        if src is not None:
            shutil.copytree(src, photos)
        else:
            from geoscope_core.samples import make_sample_folder

            make_sample_folder(photos)
        return _run(photos, tmp, model, provider)


def _run(photos: Path, tmp: Path, model: str | None, provider: str) -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from geoscope_desktop.bindings import bindings_problem
    from geoscope_desktop.items import PhotoStatus, place_text
    from geoscope_desktop.main_window import MainWindow
    from geoscope_desktop.settings_store import make_settings
    from geoscope_desktop.workers import ModelChoice

    problem = bindings_problem()
    if problem:
        print(f"self-test FAILED: {problem}")
        return 1
    try:
        from geoscope_core.runtime.bundle import load_bundle

        load_bundle(model, verify=False)
    except GeoScopeError as e:
        print(f"self-test FAILED: the model cannot be used: {e}")
        return 1
    t0 = time.perf_counter()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(make_settings(tmp / "settings.ini"), ModelChoice(model, provider))
    errors: list[str] = []
    window.dialogs.error = lambda title, text, details="": errors.append(  # type: ignore[method-assign]
        f"{title}: {text}"
    )
    window.show()
    if not window.open_folder(photos):
        print(f"self-test FAILED: cannot open {photos}: {errors}")
        return 1
    loop = QEventLoop()
    outcome: dict[str, bool] = {}

    def on_scan_finished(cancelled: bool) -> None:
        outcome.update(cancelled=cancelled)
        loop.quit()

    window.scan_finished.connect(on_scan_finished)
    QTimer.singleShot(TIMEOUT_S * 1000, loop.quit)
    if not window.start_scan():
        print("self-test FAILED: the scan did not start")
        return 1
    loop.exec()
    items = window.model.items()
    for it in items:
        where = place_text(it.prediction) if it.prediction else it.message
        shows_conf = it.prediction is not None and it.status is not PhotoStatus.HAS_GPS
        conf = f"{it.prediction.confidence:.0%}" if shows_conf and it.prediction else ""
        print(f"{it.name:32s} {it.status.value:10s} {conf:>5s}  {where}")
    shot = window.grab()
    ok = True
    if "cancelled" not in outcome:
        print(f"self-test FAILED: the scan did not finish within {TIMEOUT_S} s")
        ok = False
    if errors:
        print("self-test FAILED: " + "\n".join(errors))
        ok = False
    pending = [it.name for it in items if it.status is PhotoStatus.PENDING]
    failed = [f"{it.name}: {it.message}" for it in items if it.status is PhotoStatus.ERROR]
    estimated = [it for it in items if it.status is PhotoStatus.ESTIMATED]
    if pending or failed or not estimated:
        print(f"self-test FAILED: pending={pending} errors={failed} estimated={len(estimated)}")
        ok = False
    if shot.isNull() or shot.width() < 100:
        print("self-test FAILED: the window did not render")
        ok = False
    model_id = window.models.predictor.model_id if window.models.predictor is not None else "?"
    window.close()
    app.processEvents()
    elapsed = time.perf_counter() - t0
    verdict = "passed" if ok else "FAILED"
    print(f"self-test {verdict}: {len(items)} photos, model {model_id}, {elapsed:.1f} s")
    return 0 if ok else 1
