"""The write journal: a record of every change GeoScope makes to a photo, and undo.

A journal is a JSON-lines file; the first line is a header, every other line
one change, fsynced as soon as it is written. Each change names the file it
modified (the photo itself, or its XMP sidecar), its SHA-256 before and after,
the metadata values it replaced, and a backup copy of the original bytes kept
in the folder ``<journal name>.backup/`` next to the journal: the backup is what
makes a byte-for-byte undo possible.

Order of operations for one file (see ``writer.py``): backup written and
fsynced -> new version written to a temporary file and fsynced -> journal line
written and fsynced -> temporary file renamed over the original. A crash at any
point leaves the original or the complete new file, and a journal that can undo
whatever happened.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from geoscope_core.errors import JournalError

log = logging.getLogger(__name__)

JOURNAL_VERSION = 1
JOURNAL_SUFFIX = ".jsonl"
#: Temporary files GeoScope writes next to a photo carry this suffix.
TEMP_SUFFIX = ".geoscope-tmp"


@dataclass(frozen=True)
class UndoResult:
    """What undo did to one file: ``action`` is "restored", "removed-sidecar",
    "refused" (the file changed since GeoScope wrote it) or "failed"."""

    path: Path
    action: str
    reason: str = ""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(
    target: Path,
    data: bytes,
    *,
    mode: int | None = None,
    owner: tuple[int, int] | None = None,
    times_ns: tuple[int, int] | None = None,
    before_replace: Any = None,
) -> None:
    """Write ``data`` to ``target`` atomically: temporary file in the same folder,
    fsync, optional permission/owner/mtime copy, rename, fsync of the folder.

    ``before_replace`` is called (no arguments) after the temporary file is
    durable and before the rename; it may raise to abort (the temporary file is
    then removed and ``target`` untouched). Raises OSError.
    """
    folder = target.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode & 0o7777)
            if owner is not None:
                with contextlib.suppress(PermissionError):
                    os.fchown(f.fileno(), owner[0], owner[1])
            os.fsync(f.fileno())
        if times_ns is not None:
            os.utime(tmp, ns=times_ns)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(folder)


class JournalWriter:
    """Appends change records to a journal; the file is created on first use.

    No I/O happens until :meth:`backup` or :meth:`record` is called, so a batch
    that changes nothing leaves no journal behind.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        self.path = self.folder / f"geoscope-{stamp}-{secrets.token_hex(3)}{JOURNAL_SUFFIX}"
        self.backup_dir = self.path.with_suffix(".backup")
        self._count = 0
        self._opened = False

    @property
    def opened(self) -> bool:
        return self._opened

    def _open(self) -> None:
        if self._opened:
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        header = {
            "type": "header",
            "version": JOURNAL_VERSION,
            "created": datetime.now(timezone.utc).isoformat(),
        }
        self._append(header)
        fsync_dir(self.folder)
        self._opened = True

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=True, sort_keys=True) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def backup(self, data: bytes, name: str) -> str:
        """Store ``data`` (original bytes) durably; returns its path relative to ``self.folder``."""
        self._open()
        self._count += 1
        dest = self.backup_dir / f"{self._count:06d}-{name}"
        with dest.open("xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(self.backup_dir)
        return str(dest.relative_to(self.folder))

    def record(self, entry: dict[str, Any]) -> None:
        """Append one change record (fsynced before returning)."""
        self._open()
        self._append({"type": "change", **entry})


def read_journal(journal: Path) -> list[dict[str, Any]]:
    """The change records of a journal, in the order they were written.

    A torn last line (a crash while appending) is ignored; anything else that
    is not valid raises JournalError.
    """
    journal = Path(journal)
    try:
        lines = journal.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise JournalError(f"{journal}: cannot read journal: {e}") from e
    if not lines:
        raise JournalError(f"{journal}: empty journal")
    entries: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines) - 1:
                log.warning("%s: ignoring an incomplete last line", journal)
                break
            raise JournalError(f"{journal}:{i + 1}: invalid journal line: {e}") from e
        if i == 0:
            if entry.get("type") != "header" or entry.get("version") != JOURNAL_VERSION:
                raise JournalError(f"{journal}: not a GeoScope journal (version 1)")
            continue
        if entry.get("type") == "change":
            entries.append(entry)
    return entries


def _undo_one(entry: dict[str, Any], folder: Path) -> UndoResult:
    target = Path(entry["target"])
    before = entry.get("before_sha256")
    after = entry["after_sha256"]
    if not target.exists():
        if entry.get("sidecar_created"):
            return UndoResult(target, "removed-sidecar", "already gone")
        return UndoResult(target, "refused", "file no longer exists")
    current = sha256_file(target)
    if entry.get("sidecar_created"):
        if current != after:
            return UndoResult(target, "refused", "sidecar changed since GeoScope wrote it")
        target.unlink()
        fsync_dir(target.parent)
        return UndoResult(target, "removed-sidecar")
    if current == before:
        return UndoResult(target, "restored", "already the original")
    if current != after:
        return UndoResult(target, "refused", "file changed since GeoScope wrote it")
    backup = folder / entry["backup"]
    try:
        data = backup.read_bytes()
    except OSError as e:
        return UndoResult(target, "failed", f"backup unreadable: {e}")
    if sha256_bytes(data) != before:
        return UndoResult(target, "failed", "backup does not match the original's hash")
    st = target.stat()
    mtime = entry.get("mtime_ns")
    times = (st.st_atime_ns, int(mtime)) if mtime is not None else None
    atomic_write_bytes(
        target,
        data,
        mode=entry.get("mode", st.st_mode),
        owner=(st.st_uid, st.st_gid),
        times_ns=times,
    )
    return UndoResult(target, "restored")


def undo(journal: Path) -> list[UndoResult]:
    """Undo every change a journal recorded, newest first.

    A file is restored byte for byte from its backup only if its current
    SHA-256 equals the journal's after-hash; otherwise it is "refused" (someone
    changed it since). Sidecars GeoScope created are removed. Per-file problems
    are results, not exceptions; an unreadable journal raises JournalError.
    """
    journal = Path(journal)
    entries = read_journal(journal)
    results: list[UndoResult] = []
    for entry in reversed(entries):
        try:
            results.append(_undo_one(entry, journal.parent))
        except (OSError, KeyError, TypeError, ValueError) as e:
            target = Path(str(entry.get("target", "?")))
            log.warning("undo of %s failed: %s", target, e)
            results.append(UndoResult(target, "failed", f"{type(e).__name__}: {e}"))
    return results
