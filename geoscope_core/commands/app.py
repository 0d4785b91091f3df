"""``geoscope app``: open the desktop app (needs the 'desktop' extra: PySide6).

PySide6 is imported inside ``run`` so building the CLI parser stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from geoscope_core.commands.checks import require_extra
from geoscope_core.errors import ConfigError
from geoscope_core.runtime.session import PROVIDER_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, nargs="?", default=None, help="photo folder to open")
    parser.add_argument("--model", default=None, help="bundle name or path (default geoscope-lite)")
    parser.add_argument("--provider", choices=PROVIDER_NAMES, default=None)
    parser.add_argument(
        "--scan", action="store_true", help="start scanning the folder as soon as it opens"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="scan the sample photos headlessly and exit 0 when everything works",
    )


def run(args: argparse.Namespace) -> int:
    require_extra("PySide6", "desktop", "geoscope app")
    try:
        from geoscope_desktop.app import main
    except ImportError as e:
        raise ConfigError(
            f"geoscope app needs the 'desktop' extra (pip install 'geoscope[desktop]'): {e}"
        ) from e

    argv: list[str] = []
    if args.folder is not None:
        argv.append(str(args.folder))
    if args.model:
        argv += ["--model", str(args.model)]
    if args.provider:
        argv += ["--provider", args.provider]
    if args.scan:
        argv.append("--scan")
    if args.self_test:
        argv.append("--self-test")
    return main(argv)
