"""The write journal: a signed record of every change GeoScope makes to a photo.

A journal is a JSON-lines file in a folder only the user can enter (0700): a
header, one line per change (fsynced as soon as it is written) and an end line
when the batch finishes. Every line carries an HMAC-SHA256 over the journal's
random id, the line's position and its canonical JSON, keyed by a per-user
secret (``settings.state_dir()/journal.key``, 0600): a journal GeoScope did not
write, or one whose lines were edited, reordered or spliced, is refused as a
whole, so undo only ever touches files GeoScope itself changed.

Each change names the file it modified (the photo itself, or its XMP sidecar),
its SHA-256 before and after, the metadata values it replaced, and a backup of
the original bytes in ``<journal name>.backup/`` next to the journal (with the
photo's permissions, never wider than the photo's).

Order of operations for one file (see ``writer.py``): backup written and
fsynced -> new version written to a temporary file and fsynced -> journal line
written and fsynced -> temporary file renamed over the original. A crash at any
point leaves the original or the complete new file, and a journal that can undo
whatever happened.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from geoscope_core import settings
from geoscope_core.errors import GeoScopeError, JournalError
from geoscope_core.fsio import (
    fsync_dir,
    sha256_file,
    write_private,
    write_xattrs,
)
from geoscope_core.photos.metadata import sidecar_path

log = logging.getLogger(__name__)

JOURNAL_VERSION = 2
JOURNAL_SUFFIX = ".jsonl"
BACKUP_SUFFIX = ".backup"
KEY_NAME = "journal.key"
#: Largest mtime a journal may ask undo to set (ns): year 2262, the int64 limit.
MAX_MTIME_NS = (1 << 63) - 1
_SHA = re.compile(r"^[0-9a-f]{64}$")
#: How a backup is named in a journal's backup folder: a 6-digit sequence number, a dash,
#: the original's name (shortened).
BACKUP_NAME = re.compile(r"^\d{6}-.")


class BackupMismatchError(GeoScopeError):
    """A backup does not hash to the original it was made from (that one file fails)."""


class ChangeKind(str, enum.Enum):
    """What a journal entry changed: the photo itself, or its XMP sidecar."""

    IN_PLACE = "in-place"
    SIDECAR = "sidecar"


def default_journal_dir() -> Path:
    """Where ``scan --write`` and the app keep journals: ``settings.cache_dir()/journals``."""
    return settings.cache_dir() / "journals"


@dataclass(frozen=True)
class JournalEntry:
    """One recorded change.

    ``path``: the photo (absolute, symlinks resolved); ``target``: the file
    changed (the photo, or its sidecar); ``before_sha256`` (None for a sidecar
    GeoScope created) and ``after_sha256``: hex digests; ``backup``: the
    original's copy, relative to the journal's folder (None when there was no
    original); ``mode``: the original's permission bits; ``mtime_ns``: its
    modification time (ns); ``old``: metadata values replaced (exiv2 key ->
    string); ``written``: what was written (lat/lon in degrees, model, source).
    """

    path: Path
    target: Path
    kind: ChangeKind
    after_sha256: str
    before_sha256: str | None = None
    backup: str | None = None
    mode: int | None = None
    mtime_ns: int | None = None
    old: dict[str, str] = field(default_factory=dict)
    written: dict[str, Any] = field(default_factory=dict)

    @property
    def sidecar_created(self) -> bool:
        return self.kind is ChangeKind.SIDECAR and self.before_sha256 is None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "target": str(self.target),
            "kind": self.kind.value,
            "before_sha256": self.before_sha256,
            "after_sha256": self.after_sha256,
            "backup": self.backup,
            "sidecar_created": self.sidecar_created,
            "mode": self.mode,
            "mtime_ns": self.mtime_ns,
            "old": dict(self.old),
            "written": dict(self.written),
        }

    @classmethod
    def from_json(cls, d: Any, backup_dir: str) -> JournalEntry:
        """Parse and check one change line; ``backup_dir`` is the only folder (relative to
        the journal's) a backup may be in. Raises JournalError."""
        if not isinstance(d, dict):
            raise JournalError(f"a change must be a JSON object, not {type(d).__name__}")
        try:
            path, target = Path(_text(d, "path")), Path(_text(d, "target"))
            kind = ChangeKind(d.get("kind"))
        except ValueError as e:
            raise JournalError(f"invalid change: {e}") from e
        if not (path.is_absolute() and target.is_absolute()):
            raise JournalError("a change must name absolute paths")
        expected = path if kind is ChangeKind.IN_PLACE else sidecar_path(path)
        if target != expected:
            raise JournalError(f"{target} is not the file GeoScope writes for {path}")
        after = _sha(d.get("after_sha256"), "after_sha256")
        before = d.get("before_sha256")
        before = None if before is None else _sha(before, "before_sha256")
        if kind is ChangeKind.IN_PLACE and before is None:
            raise JournalError("an in-place change needs before_sha256")
        backup = d.get("backup")
        if before is not None:
            parts = PurePosixPath(str(backup)).parts if isinstance(backup, str) else ()
            if len(parts) != 2 or parts[0] != backup_dir or parts[1] in ("..", "."):
                raise JournalError(f"backup {backup!r} is not in this journal's {backup_dir}/")
        elif backup is not None:
            raise JournalError("a created sidecar has no backup")
        mode, mtime = d.get("mode"), d.get("mtime_ns")
        if mode is not None and (type(mode) is not int or not 0 <= mode <= 0o777):
            raise JournalError(f"mode {mode!r} is not a permission value (0-0o777)")
        if mtime is not None and (type(mtime) is not int or not 0 <= mtime <= MAX_MTIME_NS):
            raise JournalError(f"mtime_ns {mtime!r} is out of range")
        old, written = d.get("old", {}), d.get("written", {})
        if not isinstance(old, dict) or not isinstance(written, dict):
            raise JournalError("old/written must be JSON objects")
        return cls(path, target, kind, after, before, backup, mode, mtime, old, written)


def _text(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value or "\x00" in value:
        raise JournalError(f"{key} must be a non-empty string")
    return value


def _sha(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _SHA.match(value):
        raise JournalError(f"{key} must be a sha256 hex digest")
    return value


# --------------------------------------------------------------------------- signing


def _key_path() -> Path:
    return settings.state_dir() / KEY_NAME


def signing_key(create: bool = False) -> bytes:
    """The per-user secret that signs journals (32 bytes); created (0600) when
    ``create`` and missing. Raises JournalError when it is missing, or readable or
    writable by others (then no journal signed with it can be trusted)."""
    path = _key_path()
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{KEY_NAME}.{secrets.token_hex(4)}")
        write_private(tmp, secrets.token_hex(32).encode("ascii"))
        try:
            os.link(tmp, path)  # atomic; another process may have won the race
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        st = path.lstat()
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise JournalError(
            f"no journal signing key ({path}): this journal was not written by GeoScope "
            "for this user"
        ) from e
    except OSError as e:
        raise JournalError(f"cannot read the journal signing key {path}: {e}") from e
    if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077:
        raise JournalError(f"journal signing key {path} must be a file only you can read (0600)")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise JournalError(f"journal signing key {path} belongs to another user")
    try:
        return bytes.fromhex(raw.decode("ascii").strip())
    except ValueError as e:
        raise JournalError(f"journal signing key {path} is corrupt") from e


def _mac(key: bytes, journal_id: str, seq: int, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    msg = f"{journal_id}\n{seq}\n{canonical}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- writing


class JournalWriter:
    """Appends signed change records to a journal; the file is created on first use.

    No I/O happens until :meth:`backup` or :meth:`record` is called, so a batch
    that changes nothing leaves no journal behind. Errors writing the journal
    (a full disk) raise JournalError: the caller stops writing photos.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        self.id = secrets.token_hex(8)
        self.path = self.folder / f"geoscope-{stamp}-{self.id[:6]}{JOURNAL_SUFFIX}"
        self.backup_dir = self.path.with_suffix(BACKUP_SUFFIX)
        self._seq = 0
        self._backups = 0
        self._key = b""
        self._opened = False

    @property
    def opened(self) -> bool:
        return self._opened

    def _open(self) -> None:
        if self._opened:
            return
        try:
            self._key = signing_key(create=True)
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.backup_dir.mkdir(mode=0o700)
        except OSError as e:
            raise _journal_error(self.folder, e) from e
        self._opened = True
        self._append(
            {
                "type": "header",
                "version": JOURNAL_VERSION,
                "id": self.id,
                "backup_dir": self.backup_dir.name,
                "created": datetime.now(timezone.utc).isoformat(),
            }
        )
        fsync_dir(self.folder)

    def _append(self, body: dict[str, Any]) -> None:
        line = {**body, "mac": _mac(self._key, self.id, self._seq, body)}
        text = json.dumps(line, ensure_ascii=True, sort_keys=True) + "\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise _journal_error(self.path, e) from e
        self._seq += 1

    def backup(
        self,
        data: bytes,
        name: str,
        sha256: str,
        mode: int = 0o600,
        xattrs: Mapping[str, bytes] | None = None,
    ) -> str:
        """Store ``data`` (original bytes, whose hex SHA-256 is ``sha256``) durably with
        the original's permission bits ``mode`` (owner-readable at least) and its
        extended attributes ``xattrs`` (where the journal's file system keeps them);
        returns its path relative to ``self.folder``. The stored copy is read back and
        must hash to ``sha256``, else BackupMismatchError (that file is not written):
        with ``sha256`` taken as the original was read, before any editor had the bytes,
        this also catches bytes altered in memory since."""
        self._open()
        self._backups += 1
        dest = self.backup_dir / f"{self._backups:06d}-{_portable(name)}"
        try:
            write_private(dest, data, (mode & 0o777) | 0o400)
            stored = sha256_file(dest)
        except OSError as e:
            raise _journal_error(dest, e) from e
        if xattrs and write_xattrs(dest, xattrs):
            log.info("%s: not every extended attribute could be kept in the backup", dest)
        fsync_dir(self.backup_dir)
        if stored != sha256:
            self.discard(f"{self.backup_dir.name}/{dest.name}")
            raise BackupMismatchError(
                "its backup does not match the original as read from disk; the file was not written"
            )
        return f"{self.backup_dir.name}/{dest.name}"

    def discard(self, backup: str) -> None:
        """Remove a backup :meth:`backup` made for a file that was then not changed."""
        with contextlib.suppress(OSError):
            (self.folder / backup).unlink()

    def record(self, entry: JournalEntry) -> None:
        """Append one change record (fsynced before returning)."""
        self._open()
        self._append({"type": "change", **entry.to_json()})

    def close(self) -> None:
        """Mark the batch complete (an end line) if anything was recorded; a journal
        that recorded no change is removed with its (empty) backup folder."""
        if not self._opened:
            return
        if self._seq > 1:
            self._append({"type": "end", "changes": self._seq - 1})
            return
        with contextlib.suppress(OSError):
            shutil.rmtree(self.backup_dir)
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._opened = False


def _portable(name: str, limit: int = 100) -> str:
    """A backup's name from the original's: ASCII letters, digits, ``.-_`` (others
    become ``_``), at most ``limit`` characters with the suffix kept, so no name of a
    photo (too long, not UTF-8) can fail on the journal's file system."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    if len(safe) <= limit:
        return safe
    suffix = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).suffix)[:16]
    return safe[: limit - len(suffix)] + suffix


def _journal_error(where: Path, e: OSError) -> JournalError:
    if e.errno == errno.ENOSPC:
        return JournalError(f"the journal's disk is full ({where}); nothing more was written")
    return JournalError(f"cannot write the journal {where}: {e.strerror or e}")


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Journal:
    """A verified journal: its changes in the order written; ``complete`` is False when
    it has no end line (the batch was interrupted, or the file was cut short)."""

    path: Path
    entries: list[JournalEntry]
    complete: bool
    backup_dir: Path


def read_journal(journal: Path) -> Journal:
    """Read and verify a journal (signature of every line, then each change's fields).

    A torn last line (a kill while appending: that change was never applied) is
    ignored. Anything else that is not a valid signed GeoScope journal raises
    JournalError.
    """
    journal = Path(journal)
    try:
        st = journal.stat()
        if not stat.S_ISREG(st.st_mode):
            raise JournalError(f"{journal}: not a journal file")
        raw = journal.read_bytes()
    except OSError as e:
        raise JournalError(f"{journal}: cannot read journal: {e.strerror or e}") from e
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise JournalError(f"{journal}: not a GeoScope journal (not text)") from e
    if not lines:
        raise JournalError(f"{journal}: empty journal")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("type") != "header":
        raise JournalError(f"{journal}: not a GeoScope journal (it has no journal header)")
    if header.get("version") != JOURNAL_VERSION:
        raise JournalError(
            f"{journal}: journal version {header.get('version')!r} is not supported "
            f"(this GeoScope reads version {JOURNAL_VERSION})"
        )
    key = signing_key()
    journal_id = str(header.get("id", ""))
    backup_dir = str(header.get("backup_dir", ""))
    entries: list[JournalEntry] = []
    complete = False
    for i, line in enumerate(lines):
        body = header if i == 0 else _parse_line(journal, line, i + 1, last=i == len(lines) - 1)
        if body is None:
            break
        if not isinstance(body, dict):
            raise JournalError(f"{journal}:{i + 1}: not a journal record")
        mac = body.pop("mac", None)
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, journal_id, i, body)):
            raise JournalError(
                f"{journal}:{i + 1}: signature does not match: this journal was not written "
                "by GeoScope for this user, or it was edited; nothing was undone"
            )
        if i == 0:
            continue
        if complete:
            raise JournalError(f"{journal}:{i + 1}: record after the end of the journal")
        kind = body.pop("type", None)
        if kind == "end":
            complete = True
        elif kind == "change":
            try:
                entries.append(JournalEntry.from_json(body, backup_dir))
            except JournalError as e:
                raise JournalError(f"{journal}:{i + 1}: {e}") from e
        else:
            raise JournalError(f"{journal}:{i + 1}: unknown record type {kind!r}")
    if backup_dir != journal.with_suffix(BACKUP_SUFFIX).name:
        raise JournalError(f"{journal}: backup folder {backup_dir!r} is not the journal's own")
    return Journal(journal, entries, complete, journal.with_suffix(BACKUP_SUFFIX))


def _parse_line(journal: Path, line: str, number: int, *, last: bool) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        if last and number > 1:
            log.warning("%s: ignoring an incomplete last line", journal)
            return None
        raise JournalError(f"{journal}:{number}: not a journal line: {e}") from e
