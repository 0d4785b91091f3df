"""Undo a write journal byte for byte, and prune old journals and their backups.

Undo touches only what a verified journal (see ``journal.py``) names, and only
when the file is exactly what GeoScope left there: a regular file (never a
symlink, FIFO or device), at a path that still resolves to itself, whose
SHA-256 equals the journal's after-hash. The original comes from the backup
in the journal's own backup folder, checked against the before-hash.
"""

from __future__ import annotations

import enum
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from geoscope_core.errors import JournalError
from geoscope_core.fsio import (
    atomic_write_bytes,
    fsync_dir,
    read_xattrs,
    sha256_bytes,
    sha256_file,
)
from geoscope_core.photos.journal import (
    BACKUP_NAME,
    BACKUP_SUFFIX,
    JOURNAL_SUFFIX,
    Journal,
    JournalEntry,
    default_journal_dir,
    read_journal,
)

log = logging.getLogger(__name__)

#: ``geoscope undo --prune`` removes journals older than this by default (days).
DEFAULT_PRUNE_DAYS = 30.0


class UndoAction(str, enum.Enum):
    """What undo did to one file."""

    RESTORED = "restored"
    REMOVED_SIDECAR = "removed-sidecar"
    REFUSED = "refused"  # the file changed since GeoScope wrote it, or is not safe to touch
    FAILED = "failed"
    INCOMPLETE = "incomplete"  # the journal has no end line: changes may be missing


#: Actions that leave a file as GeoScope found it.
UNDONE = frozenset({UndoAction.RESTORED, UndoAction.REMOVED_SIDECAR})


@dataclass(frozen=True)
class UndoResult:
    """What undo did to one file (``path``), with the reason when it did not restore it."""

    path: Path
    action: UndoAction
    reason: str = ""


def _regular(target: Path) -> os.stat_result | None:
    """lstat of ``target`` if it is a regular file reached without symlinks, else None."""
    st = target.lstat()
    if not stat.S_ISREG(st.st_mode):
        return None
    if Path(os.path.realpath(target)) != target:
        return None
    return st


def _undo_one(entry: JournalEntry, journal: Journal) -> UndoResult:
    target = entry.target
    if not os.path.lexists(target):
        if entry.sidecar_created:
            return UndoResult(target, UndoAction.REMOVED_SIDECAR, "already gone")
        return UndoResult(target, UndoAction.REFUSED, "file no longer exists")
    st = _regular(target)
    if st is None:
        return UndoResult(
            target, UndoAction.REFUSED, "no longer a regular file at that path (link or device)"
        )
    current = sha256_file(target)
    if entry.sidecar_created:
        if current != entry.after_sha256:
            return UndoResult(target, UndoAction.REFUSED, "sidecar changed since GeoScope wrote it")
        target.unlink()
        fsync_dir(target.parent)
        return UndoResult(target, UndoAction.REMOVED_SIDECAR)
    if current == entry.before_sha256:
        return UndoResult(target, UndoAction.RESTORED, "already the original")
    if current != entry.after_sha256:
        return UndoResult(target, UndoAction.REFUSED, "file changed since GeoScope wrote it")
    backup = journal.path.parent / (entry.backup or "")
    if (
        entry.backup is None
        or backup.parent != journal.backup_dir
        or not backup.is_file()
        or backup.is_symlink()
    ):
        return UndoResult(target, UndoAction.FAILED, "backup missing from the journal's folder")
    try:
        data = backup.read_bytes()
    except OSError as e:
        return UndoResult(target, UndoAction.FAILED, f"backup unreadable: {e.strerror or e}")
    if sha256_bytes(data) != entry.before_sha256:
        return UndoResult(target, UndoAction.FAILED, "backup does not match the original's hash")
    times = (st.st_atime_ns, entry.mtime_ns) if entry.mtime_ns is not None else None
    atomic_write_bytes(
        target,
        data,
        mode=entry.mode if entry.mode is not None else stat.S_IMODE(st.st_mode),
        owner=(st.st_uid, st.st_gid),
        times_ns=times,
        # the original's extended attributes (kept with its backup) over today's
        xattrs={**read_xattrs(target), **read_xattrs(backup)},
    )
    return UndoResult(target, UndoAction.RESTORED)


def undo(journal: Path) -> list[UndoResult]:
    """Undo every change a journal recorded, newest first.

    A file is restored byte for byte from its backup only if its current
    SHA-256 equals the journal's after-hash; otherwise it is "refused" (someone
    changed it since). Sidecars GeoScope created are removed. A journal without
    its end line adds an "incomplete" result. Per-file problems are results, not
    exceptions; a journal that is unreadable, unsigned or edited raises
    JournalError before anything is touched.
    """
    verified = read_journal(Path(journal))
    results: list[UndoResult] = []
    for entry in reversed(verified.entries):
        try:
            results.append(_undo_one(entry, verified))
        except OSError as e:
            log.warning("undo of %s failed: %s", entry.target, e)
            results.append(UndoResult(entry.target, UndoAction.FAILED, e.strerror or str(e)))
    if not verified.complete:
        results.append(
            UndoResult(
                verified.path,
                UndoAction.INCOMPLETE,
                "the journal has no end record: the batch was interrupted or the journal "
                "was cut short; files changed after its last record may still be changed",
            )
        )
    return results


# --------------------------------------------------------------------------- pruning


@dataclass(frozen=True)
class JournalInfo:
    """A journal on disk: its age (days) and the bytes it and its backups take."""

    path: Path
    age_days: float
    size_bytes: int


def backup_size(journal: Path) -> int:
    """Bytes the backups of ``journal`` take."""
    return _tree_size(Path(journal).with_suffix(BACKUP_SUFFIX))


def _tree_size(path: Path) -> int:
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def list_journals(folder: Path | None = None) -> list[JournalInfo]:
    """The journals GeoScope wrote for this user in ``folder`` (default: where ``scan
    --write`` keeps them), oldest first: regular files named like a journal whose
    every line carries this user's signature; anything else is left out (logged)."""
    folder = Path(folder) if folder is not None else default_journal_dir()
    now = time.time()
    out = []
    for p in sorted(folder.glob(f"geoscope-*{JOURNAL_SUFFIX}")) if folder.is_dir() else []:
        st = p.lstat()
        if not stat.S_ISREG(st.st_mode):
            continue
        try:
            read_journal(p)
        except JournalError as e:
            log.info("not a GeoScope journal, left alone: %s", e)
            continue
        size = st.st_size + _tree_size(p.with_suffix(BACKUP_SUFFIX))
        out.append(JournalInfo(p, (now - st.st_mtime) / 86400.0, size))
    return sorted(out, key=lambda j: -j.age_days)


def _remove_backups(journal: Journal) -> None:
    """Delete the backups a verified journal made (files named as GeoScope names them in
    its own backup folder, never through a link) and the folder once empty."""
    folder = journal.backup_dir
    if folder.is_symlink() or not folder.is_dir():
        return
    for entry in os.scandir(folder):
        if BACKUP_NAME.match(entry.name) and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)
    try:
        folder.rmdir()
    except OSError as e:
        log.warning("kept %s: it holds files GeoScope did not put there (%s)", folder, e)


def prune(
    older_than_days: float = DEFAULT_PRUNE_DAYS, folder: Path | None = None
) -> list[JournalInfo]:
    """Delete journals (and their backups) older than ``older_than_days``; after that
    their changes can no longer be undone. Only journals signed for this user and the
    backups they made are deleted. Returns what was removed."""
    if older_than_days < 0:
        raise JournalError(f"age limit must be >= 0 days, not {older_than_days}")
    removed = []
    for info in list_journals(folder):
        if info.age_days < older_than_days:
            continue
        try:
            journal = read_journal(info.path)
        except JournalError as e:  # changed since it was listed
            log.warning("kept %s: %s", info.path, e)
            continue
        _remove_backups(journal)
        info.path.unlink(missing_ok=True)
        removed.append(info)
    return removed
