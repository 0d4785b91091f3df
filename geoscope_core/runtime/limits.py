"""How much a bundle may make the runtime read, allocate and unpack, checked before
anything is allocated: a bundle is input like any other, and a small file must never
expand into gigabytes of memory or disk.

* JSON (manifest, label files): a regular file of at most ``max_bytes``, nested at
  most ``MAX_JSON_DEPTH`` deep; a parse error, deep nesting (RecursionError) or a
  number too long to convert (ValueError) is a BundleError naming the file.
* Zip archives (a bundle .zip, a gallery .npz): at most ``max_members`` entries, and
  the sizes their central directory declares (which ``zipfile`` never reads past)
  at most ``max_bytes`` in all and at most ``MAX_ZIP_RATIO`` times the archive's
  own size beyond ``ZIP_RATIO_FLOOR`` bytes, so a zip bomb is refused from its
  directory alone.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from geoscope_core.errors import BundleError

#: Largest manifest.json (bytes); the shipped one is about 0.4 MB.
MAX_MANIFEST_BYTES = 16 << 20
#: Largest label file (bytes): a million labels of ~200 bytes.
MAX_LABELS_BYTES = 256 << 20
#: Deepest nesting of lists and objects in a bundle's JSON files.
MAX_JSON_DEPTH = 64
#: Most entries in a bundle .zip (a bundle holds about ten files).
MAX_ZIP_MEMBERS = 1000
#: Most bytes a bundle .zip may unpack to.
MAX_BUNDLE_BYTES = 4 << 30
#: Most bytes a gallery's arrays may take (uncompressed).
MAX_GALLERY_BYTES = 1 << 30
#: Most times a zip's content may exceed the zip's own size ...
MAX_ZIP_RATIO = 20
#: ... once the content is larger than this (small label files compress well).
ZIP_RATIO_FLOOR = 64 << 20


def open_regular(path: Path, what: str, max_bytes: int) -> IO[bytes]:
    """``path`` opened for reading in binary, refused (BundleError) unless it is a regular
    file of at most ``max_bytes``: a FIFO, a device or a folder never blocks or streams."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as e:
        raise BundleError(f"missing {what} {path}") from e
    except OSError as e:
        raise BundleError(f"unreadable {what} {path}: {e}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(f"{what} {path} is not a regular file")
        if st.st_size > max_bytes:
            raise BundleError(
                f"{what} {path} is {st.st_size:,} bytes, more than the {max_bytes:,} allowed"
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_json(path: Path, what: str, max_bytes: int) -> Any:
    """The JSON document in the regular file ``path`` (``what`` names it in errors),
    refused with a BundleError when it is larger than ``max_bytes``, not JSON, nested
    deeper than ``MAX_JSON_DEPTH`` or holds an integer too long to convert."""
    with open_regular(path, what, max_bytes) as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BundleError(f"{what} {path} grew past the {max_bytes:,} bytes allowed")
    try:
        doc = json.loads(raw)
    except RecursionError as e:
        raise BundleError(f"{what} {path} is nested too deeply to read") from e
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise BundleError(f"{what} {path} is not valid JSON: {e}") from e
    if json_depth(doc) > MAX_JSON_DEPTH:
        raise BundleError(f"{what} {path} is nested deeper than {MAX_JSON_DEPTH} levels")
    return doc


def json_depth(doc: Any) -> int:
    """How deep lists and objects nest in ``doc`` (a scalar: 0), counted without recursion
    and stopping once past ``MAX_JSON_DEPTH``."""
    deepest = 0
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def read_npy_header(fp: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the .npy header at ``fp``'s position (left just after it),
    read without allocating the array; BundleError for anything but a plain .npy
    (version 1 or 2, no Python objects)."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise BundleError(f"{where} has .npy version {version}")
    except (ValueError, OSError, EOFError) as e:
        raise BundleError(f"{where} is not a readable .npy array: {e}") from e
    if dtype.hasobject:
        raise BundleError(f"{where} holds Python objects ({dtype})")
    return tuple(shape), dtype


def check_zip_budget(
    zf: zipfile.ZipFile, archive_bytes: int, where: str | Path, max_bytes: int
) -> int:
    """The total uncompressed size (bytes) of ``zf``'s members; BundleError, from the
    central directory alone, when it has more than ``MAX_ZIP_MEMBERS`` entries or
    unpacks to more than ``max_bytes``, or to more than ``MAX_ZIP_RATIO`` times its
    ``archive_bytes`` once past ``ZIP_RATIO_FLOOR``."""
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise BundleError(
            f"{where} has {len(infos):,} entries, more than the {MAX_ZIP_MEMBERS} allowed"
        )
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise BundleError(
            f"{where} would unpack to {total:,} bytes, more than the {max_bytes:,} allowed"
        )
    if total > max(ZIP_RATIO_FLOOR, MAX_ZIP_RATIO * archive_bytes):
        raise BundleError(
            f"{where} would unpack to {total:,} bytes, {total / max(archive_bytes, 1):.0f} "
            f"times its size (a zip bomb?): refused"
        )
    return total
