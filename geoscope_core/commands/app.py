"""``geoscope app``: open the desktop app (needs the 'desktop' extra: PySide6).

Its options are the app's own (``geoscope_desktop.app.add_arguments``), the same as
``geoscope-desktop`` takes; PySide6 is imported inside ``run`` so building the CLI
parser stays light.
"""

from __future__ import annotations

import argparse

from geoscope_core.commands.checks import require_extra
from geoscope_core.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoscope_desktop.app import add_arguments as app_arguments  # no Qt at import

    app_arguments(parser)


def run(args: argparse.Namespace) -> int:
    require_extra("PySide6", "desktop", "geoscope app")
    try:
        import PySide6  # noqa: F401  (the app's own imports of it come later)

        from geoscope_desktop.app import run as run_app
    except ImportError as e:
        raise ConfigError(
            f"geoscope app needs the 'desktop' extra (pip install 'geoscope[desktop]'): {e}"
        ) from e
    return run_app(args)
