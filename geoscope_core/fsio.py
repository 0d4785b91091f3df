"""File-system safety shared by every layer: one sha256, one atomic write, folder locks.

``atomic_write_bytes`` is the only way GeoScope replaces a file: temporary file
in the same folder (named ``.<name>.<random>.geoscope-tmp``), fsync, mode /
owner / times copied, rename, fsync of the folder. A kill at any moment leaves
the original or the complete new file, plus at worst one temporary file, which
``remove_stale_temps`` deletes on the next write into that folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from geoscope_core.errors import ConfigError, GeoScopeError

log = logging.getLogger(__name__)

#: Temporary files GeoScope writes next to a photo carry this suffix.
TEMP_SUFFIX = ".geoscope-tmp"
#: A temporary file older than this (seconds) belongs to a writer that died.
STALE_TEMP_S = 600.0
#: The lock file ``scan --write`` holds in a folder while it writes there.
LOCK_NAME = ".geoscope.lock"


class FolderLockedError(GeoScopeError):
    """Another GeoScope process is writing into the same folder."""


class FileChangedError(GeoScopeError):
    """A file changed on disk while GeoScope was writing it (nothing was replaced)."""


def is_read_only(st: os.stat_result, path: Path) -> bool:
    """True when the file is read-only by its mode bits (also for root, for whom access() lies)."""
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return True
    return not os.access(path, os.W_OK)


def folder_writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (by its mode bits and access())."""
    try:
        st = folder.stat()
    except OSError:
        return False
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def check_unchanged(path: Path, st: os.stat_result) -> None:
    """Raise FileChangedError when ``path`` no longer has the size, mtime and inode of ``st``."""
    now = path.stat()
    if (now.st_size, now.st_mtime_ns, now.st_ino) != (st.st_size, st.st_mtime_ns, st.st_ino):
        raise FileChangedError("file changed while GeoScope was writing it")


#: a URI's scheme (RFC 3986), two characters or more: a drive letter is not one
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+")


def uri_scheme(target: str) -> str | None:
    """The scheme of ``target`` when it is a URI (``s3``, ``file``; lower case), None for
    a path (``C://`` is a drive, not a URI)."""
    scheme, sep, _ = target.partition("://")
    if not sep or not _URI_SCHEME.fullmatch(scheme):
        return None
    return scheme.lower()


def local_path(target: str) -> Path:
    """The local path a command-line ``target`` names: a path, or a URI of pyarrow's
    local file system (``file:///archive``, resolved by ``pyarrow.fs.FileSystem.from_uri``).
    A URI of another file system (``s3://``: ``scan.store.ObjectStore``) is refused."""
    scheme = uri_scheme(target)
    if scheme is None:
        return Path(target)
    if scheme != "file":
        raise ConfigError(f"{target}: a local path or file:// URI is needed here")
    try:
        from pyarrow import fs
    except ImportError as e:
        raise ConfigError(
            f"{target}: a URI needs the extra: pip install 'geoscope[cluster]'"
        ) from e
    try:
        _, path = fs.FileSystem.from_uri(target)  # file://: a LocalFileSystem
    except (ValueError, OSError) as e:  # pyarrow.ArrowInvalid is a ValueError
        raise ConfigError(f"{target} is not a file system URI pyarrow reads: {e}") from e
    return Path(path)


def path_text(path: Path | str) -> str:
    """``path`` as printable UTF-8 text: bytes of a name that is not valid UTF-8 (kept by
    Python as surrogate escapes) are written as ``\\xNN``, so printing, CSV, JSON and
    SQLite never fail on it."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def terminal_text(text: Path | str) -> str:
    """``text`` (a path, or a line naming one) safe to print on a terminal: control
    characters (escape sequences, carriage returns, line breaks) and the invisible
    format characters that reorder text (bidirectional overrides) are written as
    ``\\xNN`` / ``\\uNNNN``; bytes of a name that is not UTF-8 as ``path_text`` does."""
    import unicodedata

    value = path_text(text) if isinstance(text, Path) else text
    out = []
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 18) -> str:
    """Hex sha256 of a file's bytes (read in ``chunk``-byte pieces)."""
    with Path(path).open("rb") as f:
        return sha256_fileobj(f, chunk)


def sha256_fileobj(f: io.BufferedIOBase, chunk: int = 1 << 18) -> str:
    """Hex sha256 of what is left to read in the open binary file ``f``, read into one
    reused ``chunk``-byte buffer: a new bytes object per piece costs as much CPU as the
    hash itself (a fresh mapping, page faults on every page, unmapped again), and the
    scan hashes every photo it reads (metadata's fingerprint)."""
    h = hashlib.sha256()
    buf = bytearray(chunk)
    view = memoryview(buf)
    while n := f.readinto(buf):
        h.update(view[:n])
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


def _short_name(name: str, limit: int = 120) -> str:
    """``name`` cut to at most ``limit`` bytes (UTF-8 / file-system encoding), its
    suffix kept, so a name built from it stays under the 255-byte limit of a name."""
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    suffix = os.fsencode(Path(name).suffix)[:16]
    head = raw[: limit - len(suffix)]
    return head.decode("utf-8", "ignore") + suffix.decode("utf-8", "ignore")


def read_xattrs(path: Path | int) -> dict[str, bytes]:
    """The extended attributes of ``path`` (or an open fd) that can be read
    (``user.*`` such as KDE's tags and ratings, ACLs, ...); {} where unsupported."""
    if not hasattr(os, "listxattr"):
        return {}
    try:
        names = os.listxattr(path)
    except OSError as e:
        log.debug("no extended attributes of %s: %s", path, e)
        return {}
    out: dict[str, bytes] = {}
    for name in names:
        try:
            out[name] = os.getxattr(path, name)
        except OSError as e:
            log.debug("cannot read attribute %s of %s: %s", name, path, e)
    return out


def write_xattrs(path: Path | int, attrs: Mapping[str, bytes]) -> list[str]:
    """Set ``attrs`` on ``path`` (or an open fd); returns the names that could not be
    set (a file system without extended attributes, or a namespace not permitted)."""
    failed: list[str] = []
    for name, value in attrs.items():
        try:
            os.setxattr(path, name, value)
        except OSError as e:
            log.debug("cannot set attribute %s on %s: %s", name, path, e)
            failed.append(name)
    return failed


def atomic_write_bytes(
    target: Path,
    data: bytes,
    *,
    mode: int | None = None,
    owner: tuple[int, int] | None = None,
    times_ns: tuple[int, int] | None = None,
    xattrs: Mapping[str, bytes] | None = None,
    before_replace: Callable[[], None] | None = None,
) -> None:
    """Write ``data`` to ``target`` atomically.

    ``mode`` (permission bits only; setuid/setgid/sticky are dropped), ``owner``
    (uid, gid; kept when permitted), ``xattrs`` (extended attributes: the ones
    ``user.*`` must be set, others are kept where permitted) and ``times_ns``
    (atime, mtime in ns) are applied to the temporary file before the rename.
    ``before_replace`` is called after the temporary file is durable and before
    the rename; it may raise to abort (the temporary file is then removed and
    ``target`` untouched). The temporary file is created 0600, so no one else can
    read it meanwhile. Raises OSError.
    """
    target = Path(target)
    folder = target.parent
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{_short_name(target.name)}.", suffix=TEMP_SUFFIX, dir=folder
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if owner is not None:
                with contextlib.suppress(PermissionError):
                    os.fchown(f.fileno(), owner[0], owner[1])
            if mode is not None:  # after chown, which may clear setuid bits
                os.fchmod(f.fileno(), mode & 0o777)
            lost = [n for n in write_xattrs(f.fileno(), xattrs or {}) if n.startswith("user.")]
            if lost:
                raise OSError(errno.ENOTSUP, f"extended attributes not kept: {', '.join(lost)}")
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


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create ``path`` (which must not exist) with ``data`` and ``mode``, durably."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o777)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode & 0o777)  # umask does not apply
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def remove_stale_temps(folder: Path, older_than_s: float = STALE_TEMP_S) -> list[Path]:
    """Delete GeoScope's leftover temporary files in ``folder`` (from a writer that was
    killed) older than ``older_than_s`` seconds; returns what was removed."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError as e:
            log.debug("cannot remove leftover %s: %s", entry.path, e)
    if removed:
        log.info("removed %d leftover temporary file(s) in %s", len(removed), folder)
    return removed


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[Path | None]:
    """Hold an exclusive lock on ``folder`` (``flock`` on ``folder/.geoscope.lock``).

    Raises FolderLockedError at once when another process holds it. Yields the
    lock file, or None when the folder is read-only (nothing can be written
    there by anyone who honours permissions, so there is nothing to lock).
    """
    lock_path = Path(folder) / LOCK_NAME
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
                yield None
                return
            raise
        try:
            _lock_fd(fd)
        except BlockingIOError as e:
            os.close(fd)
            raise FolderLockedError(
                f"{folder} is being written by another GeoScope process "
                f"(lock {lock_path}); try again when it has finished"
            ) from e
        try:
            same = os.fstat(fd).st_ino == lock_path.stat().st_ino
        except OSError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file between our open and lock: retry
    try:
        yield lock_path
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()
        os.close(fd)  # releases the lock


def _lock_fd(fd: int) -> None:
    """Take a non-blocking exclusive lock on ``fd``; BlockingIOError when held elsewhere."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError as e:
            raise BlockingIOError(str(e)) from e
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
