"""Where a bundle is: a name in the models folder, a folder, or a .zip extracted once
into ``settings.cache_dir()/bundles/<sha256 of the zip>`` (entries that are not plain
relative POSIX paths are refused, and so is a zip whose directory says it unpacks to
more than ``runtime.limits`` allows, before anything is written)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from geoscope_core import settings
from geoscope_core.errors import BundleError
from geoscope_core.fsio import sha256_file
from geoscope_core.runtime.limits import MAX_BUNDLE_BYTES, check_zip_budget
from geoscope_core.runtime.manifest import MANIFEST_NAME, is_plain_path

log = logging.getLogger(__name__)


def safe_join(root: Path, rel: str) -> Path:
    """``root`` / ``rel`` for a bundle-relative POSIX path; BundleError unless it is a
    plain relative path (``manifest.is_plain_path``), which never escapes ``root``."""
    if not is_plain_path(rel):
        raise BundleError(f"bundle path {rel!r} escapes the bundle folder")
    return Path(root).joinpath(*PurePosixPath(rel).parts)


def shipped_default() -> Path:
    """Where the default bundle ships: ``settings.models_dir()/settings.DEFAULT_MODEL``."""
    return settings.models_dir() / settings.DEFAULT_MODEL


def is_shipped_default(path: Path) -> bool:
    """Whether ``path`` is the shipped default bundle (its folder or a .zip of it), the
    one whose model id ``settings.DEFAULT_MODEL_SHA256`` pins."""
    default = shipped_default()
    try:
        real = Path(path).resolve()
        return real in (default.resolve(), default.with_name(default.name + ".zip").resolve())
    except OSError:
        return False


def resolve_bundle_path(path_or_name: str | Path | None = None) -> Path:
    """Bundle location for a name (looked up in ``settings.models_dir()``) or a path.

    ``None`` means the shipped default bundle (``settings.DEFAULT_MODEL`` in the models
    folder, never a folder of that name in the working directory). A name may resolve
    to ``<models_dir>/<name>`` or ``<models_dir>/<name>.zip``.
    """
    if path_or_name is None or str(path_or_name) == "":
        default = shipped_default()
        for p in (default, default.with_name(default.name + ".zip")):
            if p.exists():
                return p
        raise BundleError(f"the default bundle is missing from {default.parent}")
    candidate = Path(path_or_name).expanduser()
    if candidate.exists():
        return candidate
    text = str(path_or_name)
    if "/" not in text and os.sep not in text:
        models = settings.models_dir()
        for p in (models / text, models / f"{text}.zip"):
            if p.exists():
                return p
        available = sorted(
            p.name.removesuffix(".zip")
            for p in (models.iterdir() if models.is_dir() else ())
            if p.is_dir() or p.suffix == ".zip"
        )
        raise BundleError(
            f"no bundle named {text!r} in {models} "
            f"(available: {', '.join(available) or 'none'}); pass a bundle folder or .zip path"
        )
    raise BundleError(f"bundle {text!r} does not exist")


def _extract_zip(zip_path: Path) -> Path:
    """Extract a bundle zip into the cache (once per zip content); returns the bundle root."""
    digest = sha256_file(zip_path)
    dest = settings.cache_dir() / "bundles" / digest[:24]
    marker = dest.with_name(dest.name + ".complete")
    if not marker.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest.parent))
        try:
            with zipfile.ZipFile(zip_path) as zf:
                bad = [i.filename for i in zf.infolist() if not _plain_zip_name(i)]
                if bad:
                    raise BundleError(
                        f"bundle zip {zip_path} has entries that are not plain relative "
                        f"paths (refused): {', '.join(map(repr, bad[:5]))}"
                    )
                total = check_zip_budget(
                    zf, zip_path.stat().st_size, f"bundle zip {zip_path}", MAX_BUNDLE_BYTES
                )
                free = shutil.disk_usage(tmp).free
                if total > free:
                    raise BundleError(
                        f"bundle zip {zip_path} unpacks to {total:,} bytes; only {free:,} "
                        f"are free in {dest.parent}"
                    )
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    target = safe_join(tmp, info.filename)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
            if dest.exists():
                shutil.rmtree(dest)
            tmp.rename(dest)
            marker.write_text(digest + "\n", encoding="utf-8")
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BundleError(f"cannot extract bundle zip {zip_path}: {e}") from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if (dest / MANIFEST_NAME).exists():
        return dest
    subdirs = [p for p in dest.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and (subdirs[0] / MANIFEST_NAME).exists():
        return subdirs[0]
    raise BundleError(f"bundle zip {zip_path} holds no manifest.json")


def _plain_zip_name(info: zipfile.ZipInfo) -> bool:
    """Whether a zip entry is a plain file or folder at a relative POSIX path: no
    backslashes, drive letters, absolute or ``..`` parts, control characters,
    symbolic links or duplicate separators."""
    name = info.filename[:-1] if info.is_dir() else info.filename
    if not is_plain_path(name):
        return False
    mode = info.external_attr >> 16
    return not (mode and (mode & 0o170000) == 0o120000)  # a symlink entry


def discard_extraction(root: Path) -> None:
    """Remove a refused bundle's extraction from the cache (nothing when ``root`` is not
    one), so a refused zip leaves nothing behind."""
    cache = (settings.cache_dir() / "bundles").resolve()
    try:
        rel = Path(root).resolve().relative_to(cache)
    except (OSError, ValueError):
        return
    if not rel.parts:
        return
    top = cache / rel.parts[0]
    top.with_name(top.name + ".complete").unlink(missing_ok=True)
    shutil.rmtree(top, ignore_errors=True)
    log.info("removed the refused bundle's extraction %s", top)


def bundle_root(path: Path) -> Path:
    """The folder holding the bundle at ``path``: the folder itself, or a zip extracted
    into the cache."""
    if path.is_file() and path.suffix.lower() == ".zip":
        return _extract_zip(path)
    if path.is_dir():
        return path
    raise BundleError(f"{path} is neither a bundle folder nor a .zip")
