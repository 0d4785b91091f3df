"""Review work kept per folder: what the user accepted, rejected, moved or placed.

One JSON file per folder under ``cache_dir()/review`` (named by a hash of the
folder's path) maps each photo (relative path) to its decision and the size and
modification time the file had; a decision on a file that changed since is
dropped. Written atomically (temporary file, rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from geoscope_core.errors import GeoScopeError
from geoscope_desktop.items import PhotoItem

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def store_dir() -> Path:
    from geoscope_core.settings import cache_dir

    return cache_dir() / "review"


def store_path(folder: Path) -> Path:
    key = hashlib.sha256(str(Path(folder).resolve()).encode("utf-8")).hexdigest()[:24]
    return store_dir() / f"{key}.json"


def _stamp(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def save_review(folder: Path, items: Iterable[PhotoItem]) -> Path:
    """Keep the decisions among ``items`` (photos under ``folder``); returns the file.

    Raises OSError when it cannot be written.
    """
    folder = Path(folder)
    photos: dict[str, Any] = {}
    for it in items:
        data = it.saved()
        stamp = _stamp(it.path)
        if data is None or stamp is None:
            continue
        try:
            rel = it.path.relative_to(folder).as_posix()
        except ValueError:
            continue
        photos[rel] = {**data, "stamp": stamp}
    target = store_path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, "folder": str(folder), "photos": photos}
    fd, tmp = tempfile.mkstemp(prefix=".review-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_review(folder: Path, items: Iterable[PhotoItem]) -> list[PhotoItem]:
    """``items`` with the decisions kept for ``folder`` applied (unchanged files only).

    A missing or unreadable store restores nothing (it is logged, never raised).
    """
    folder = Path(folder)
    items = list(items)
    try:
        data = json.loads(store_path(folder).read_text(encoding="utf-8"))
        photos = data["photos"] if data.get("format_version") == FORMAT_VERSION else {}
    except FileNotFoundError:
        return items
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        log.warning("review state for %s unreadable, starting afresh: %s", folder, e)
        return items
    out = []
    for it in items:
        try:
            rel = it.path.relative_to(folder).as_posix()
        except ValueError:
            rel = ""
        saved = photos.get(rel)
        if isinstance(saved, dict) and saved.get("stamp") == _stamp(it.path):
            try:
                it = it.restored(saved)
            except (KeyError, TypeError, ValueError, GeoScopeError) as e:
                log.warning("kept decision for %s unreadable: %s", it.path, e)
        out.append(it)
    return out
