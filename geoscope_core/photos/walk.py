"""Find the photos under a folder: recursive, sorted, hidden entries skipped, symlink-loop safe.

A photo is a file of a format in ``geoscope_core.formats``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from geoscope_core.formats import is_photo

log = logging.getLogger(__name__)


def iter_photos(root: Path, include_hidden: bool = False) -> Iterator[Path]:
    """Yield the photo files under ``root`` in sorted order (depth first, names sorted).

    ``root`` may be a single file (yielded if it is a photo). Symbolic links to
    folders are followed once: a folder already visited (same device and inode)
    is not entered again, so link loops end. Names starting with "." (files and
    folders) are skipped unless ``include_hidden``. Unreadable folders are
    logged and skipped.
    """
    root = Path(root)
    if root.is_file():
        if is_photo(root):
            yield root
        return
    seen: set[tuple[int, int]] = set()
    yield from _walk(root, include_hidden, seen)


def _walk(folder: Path, include_hidden: bool, seen: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        st = folder.stat()
    except OSError as e:
        log.warning("cannot read folder %s: %s", folder, e)
        return
    key = (st.st_dev, st.st_ino)
    if key in seen:
        log.info("skipping %s: already visited (symlink loop or duplicate link)", folder)
        return
    seen.add(key)
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        log.warning("cannot list folder %s: %s", folder, e)
        return
    for entry in entries:
        if not include_hidden and entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=True):
                yield from _walk(path, include_hidden, seen)
            elif entry.is_file(follow_symlinks=True) and is_photo(path):
                yield path
            elif is_photo(path) and entry.is_symlink() and not os.path.exists(path):
                log.warning("skipping %s: dangling symbolic link", path)
        except OSError as e:
            log.warning("skipping %s: %s", path, e)
