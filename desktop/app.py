"""Entry point of the desktop app (``geoscope-desktop``, ``geoscope app``).

``--self-test`` scans the bundled sample photos headlessly and exits 0 when the
model loads, every photo is handled and the window renders.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from geoscope_core.errors import ConfigError
from geoscope_core.runtime.session import PROVIDER_NAMES

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The app's options: ``geoscope-desktop`` and ``geoscope app`` both take these."""
    p.add_argument("folder", type=Path, nargs="?", default=None, help="photo folder to open")
    p.add_argument("--model", default=None, help="bundle name or path (default geoscope-lite)")
    p.add_argument(
        "--provider", choices=PROVIDER_NAMES, default=None, help="default: the app's setting"
    )
    p.add_argument(
        "--scan", action="store_true", help="start scanning the folder as soon as it opens"
    )
    p.add_argument(
        "--self-test",
        action="store_true",
        help="scan the sample photos headlessly and exit 0 when everything works",
    )
    p.add_argument(
        "--settings", type=Path, default=None, help="use this INI file for the app's settings"
    )
    p.add_argument(
        "--exit-when-shown",
        action="store_true",
        help="print the wall-clock time the window was shown, then quit (benchmarks)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="geoscope-desktop", description="GeoScope desktop app")
    add_arguments(p)
    # `geoscope -v app` takes it as the geoscope command's own option
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    return p


def _install_excepthook() -> None:
    """Unexpected errors become a dialog with details instead of a crash."""
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error:\n%s", details)
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        try:
            from PySide6.QtWidgets import QApplication, QMessageBox

            if QApplication.instance() is not None:
                box = QMessageBox(QApplication.activeWindow())
                box.setIcon(QMessageBox.Icon.Critical)
                box.setWindowTitle("GeoScope — unexpected error")
                box.setText(f"Something went wrong: {exc}")
                box.setInformativeText("GeoScope keeps running; your photos were not changed.")
                box.setDetailedText(details)
                box.exec()
        except Exception:  # the hook itself must never raise
            previous(exc_type, exc, tb)

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app; a setup problem (no display, missing libraries) is one clear line
    on stderr and exit status 2."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except ConfigError as e:
        print(f"geoscope-desktop: error: {e}", file=sys.stderr)
        return 2


def _refuse_missing_xcb() -> None:
    """A ConfigError naming the packages to install when Qt would load its X11 plugin
    without the system libraries it needs (Qt itself would abort the process)."""
    from geoscope_desktop.system_libs import missing_libraries, uses_xcb, xcb_problem

    if uses_xcb():
        problem = xcb_problem(missing_libraries())
        if problem:
            raise ConfigError(problem)


def run(args: argparse.Namespace) -> int:
    """Open the app (or run the self-test) as ``args`` (``add_arguments``) ask;
    ConfigError for a setup problem."""
    if args.self_test:
        from geoscope_desktop.selftest import run_self_test

        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # headless unless chosen
        _refuse_missing_xcb()
        return run_self_test(args.folder, model=args.model, provider=args.provider or "auto")

    from geoscope_desktop.bindings import bindings_problem

    problem = bindings_problem()
    if problem:
        log.warning("%s", problem)
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        raise ConfigError(
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
            "run it from a desktop session, or use --self-test for a headless check"
        )
    _refuse_missing_xcb()

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from geoscope_desktop.main_window import MainWindow
    from geoscope_desktop.settings_store import APPLICATION, ORGANIZATION, make_settings
    from geoscope_desktop.workers import ModelChoice

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    QApplication.setApplicationDisplayName("GeoScope")  # a static of QGuiApplication
    settings = make_settings(args.settings)
    choice = settings.model_choice()
    if args.model or args.provider:
        choice = ModelChoice(args.model or choice.model, args.provider or choice.provider)
    window = MainWindow(settings, choice)
    _install_excepthook()
    window.show()
    if args.exit_when_shown:
        app.processEvents()
        print(f"shown {time.time():.6f}", flush=True)
        window.close()
        return 0
    if args.folder is not None and window.open_folder(args.folder) and args.scan:
        QTimer.singleShot(0, window.start_scan)
    return int(app.exec())


if __name__ == "__main__":
    if getattr(sys, "frozen", False) and "--self-test" in sys.argv:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.exit(main())
