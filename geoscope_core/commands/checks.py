"""Checks every command makes before doing any work: that an output file can be
written where it was asked, and that an optional extra is installed. Each raises
ConfigError (exit 2) with the fix in its message."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path

from geoscope_core.errors import ConfigError


def output_file(path: Path, option: str, suffixes: Iterable[str] = ()) -> Path:
    """``path`` when it can be written as the output of ``option``: its folder exists (a
    typo in a folder name never becomes a new folder) and, given ``suffixes`` (".csv",
    …), it ends in one of them."""
    path = Path(path)
    allowed = tuple(suffixes)
    if allowed and path.suffix.lower() not in allowed:
        raise ConfigError(f"{option} must end in {', '.join(allowed)}, not {path.name!r}")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f"{option} {path}: the folder {folder} {what}; create it first")
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder; give a file name")
    return path


def require_extra(module: str, extra: str, command: str) -> None:
    """Refuse ``command`` when ``module`` (from the ``extra``) is not installed."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or sys.modules[m] = None
        found = False
    if not found:
        raise ConfigError(
            f"{command} needs the '{extra}' extra, which is not installed "
            f"(pip install 'geoscope[{extra}]'; {module} is missing)"
        )
