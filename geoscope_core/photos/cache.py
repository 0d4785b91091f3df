"""SQLite cache of per-photo scan work, so re-scanning an unchanged folder is fast.

One row per (photo path, model id) holds what depends only on that photo's
bytes and the model: its metadata, the raw model prediction (or none) and the
image embedding (float32 [D], for the visual-neighbour gallery). A row is valid
while the photo's size and mtime (nanoseconds) and its XMP sidecar's mtime are
unchanged. Neighbour blending is recomputed on every scan, since it depends on
other photos.

The cache is used from one thread; ``ScanCache.open`` does the I/O, the
constructor none.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from geoscope_core import settings
from geoscope_core.fsio import path_text
from geoscope_core.photos.metadata import FileFingerprint, PhotoMetadata, sidecar_path
from geoscope_core.prediction import Prediction

log = logging.getLogger(__name__)

#: 2: PhotoMetadata gained utc_offset_min, gps_utc, sub-seconds; 3: each
#: alternative of a prediction carries its own radius_km, PhotoMetadata gps_altitude_m;
#: 4: PhotoMetadata fingerprint (size, mtime, SHA-256 of what was scanned); 5: a camera
#: is named without its make where the model repeats it (photos.metadata.camera_name)
SCHEMA_VERSION = 5
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    path TEXT NOT NULL,
    model TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sidecar_mtime_ns INTEGER NOT NULL,
    metadata TEXT,
    prediction TEXT,
    embedding BLOB,
    PRIMARY KEY (path, model)
)
"""


@dataclass(frozen=True)
class FileKey:
    """Identity of a photo's current content: absolute path, size (bytes), mtimes (ns)."""

    path: str
    size: int
    mtime_ns: int
    sidecar_mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileKey:
        """Stat ``path`` (and its sidecar); raises OSError when the photo is gone."""
        p = Path(os.path.abspath(path))
        st = p.stat()
        try:
            side = sidecar_path(p).stat().st_mtime_ns
        except OSError:
            side = 0
        return cls(path_text(p), st.st_size, st.st_mtime_ns, side)


@dataclass(frozen=True)
class CacheEntry:
    """Cached work for one photo: metadata (None when unreadable), the raw model
    prediction (None when not predicted) and the embedding float32 [D] (or None)."""

    metadata: PhotoMetadata | None
    prediction: Prediction | None
    embedding: np.ndarray | None


def metadata_to_dict(meta: PhotoMetadata) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(meta):
        v = getattr(meta, f.name)
        if isinstance(v, Path):
            v = str(v)
        elif isinstance(v, datetime):
            v = {"datetime": v.isoformat()}
        elif isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, FileFingerprint):
            v = dataclasses.asdict(v)
        out[f.name] = v
    return out


def metadata_from_dict(d: dict[str, Any]) -> PhotoMetadata:
    names = {f.name for f in dataclasses.fields(PhotoMetadata)}
    kw: dict[str, Any] = {}
    for k, v in d.items():
        if k not in names:
            continue
        if k == "path":
            v = Path(v)
        elif k == "fingerprint" and isinstance(v, dict):
            v = FileFingerprint(**v)
        elif isinstance(v, dict) and "datetime" in v:
            v = datetime.fromisoformat(v["datetime"])
        elif isinstance(v, list):
            v = tuple(v)
        kw[k] = v
    return PhotoMetadata(**kw)


def _make_private(path: Path, mode: int) -> None:
    """Give ``path`` (when it exists and is ours) no access for group and others."""
    try:
        st = path.stat()
        if st.st_mode & 0o077 and (not hasattr(os, "getuid") or st.st_uid == os.getuid()):
            path.chmod(stat.S_IMODE(st.st_mode) & mode)
    except OSError as e:
        log.debug("cannot restrict %s: %s", path, e)


def _create_private(path: Path) -> None:
    """Create the cache file 0600 before SQLite does (SQLite would use the umask)."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError as e:
        log.debug("cannot create %s: %s", path, e)
    _make_private(path, 0o600)


class ScanCache:
    """Scan cache in an SQLite file (default ``settings.cache_dir()/scan-cache.sqlite``)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    @classmethod
    def default_path(cls) -> Path:
        return settings.cache_dir() / "scan-cache.sqlite"

    @classmethod
    def open(cls, path: Path | None = None) -> ScanCache:
        """Open (creating if needed) the cache file; a corrupt file is recreated.

        The cache holds paths, GPS, capture times and camera serials, so the file
        (and SQLite's -wal/-shm beside it) is 0600 and a folder created for it 0700;
        the default cache folder is made 0700 also when it exists.
        """
        default = path is None
        path = Path(path) if path is not None else cls.default_path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if default:
            _make_private(path.parent, 0o700)
        _create_private(path)
        try:
            conn = cls._connect(path)
        except sqlite3.DatabaseError as e:
            log.warning("scan cache %s is unreadable (%s); starting a new one", path, e)
            path.unlink(missing_ok=True)
            _create_private(path)
            conn = cls._connect(path)
        for extra in ("-wal", "-shm"):
            _make_private(path.with_name(path.name + extra), 0o600)
        return cls(path, conn)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            conn.execute("DROP TABLE IF EXISTS entries")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute(_SCHEMA)
        conn.commit()
        return conn

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ScanCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, keys: Sequence[FileKey], model: str) -> dict[str, CacheEntry]:
        """Valid entries for ``keys`` (by path) under ``model``; stale rows are ignored."""
        found: dict[str, CacheEntry] = {}
        by_path = {k.path: k for k in keys}
        paths = list(by_path)
        for i in range(0, len(paths), 500):
            chunk = paths[i : i + 500]
            q = (
                "SELECT path, size, mtime_ns, sidecar_mtime_ns, metadata, prediction, embedding "
                f"FROM entries WHERE model = ? AND path IN ({','.join('?' * len(chunk))})"
            )
            for path, size, mtime, side, meta, pred, emb in self._conn.execute(q, [model, *chunk]):
                k = by_path[path]
                if (size, mtime, side) != (k.size, k.mtime_ns, k.sidecar_mtime_ns):
                    continue
                try:
                    found[path] = CacheEntry(
                        metadata=metadata_from_dict(json.loads(meta)) if meta else None,
                        prediction=Prediction.from_dict(json.loads(pred)) if pred else None,
                        embedding=(np.frombuffer(emb, dtype=np.float32).copy() if emb else None),
                    )
                except (ValueError, TypeError, KeyError) as e:
                    log.debug("ignoring unreadable cache row for %s: %s", path, e)
        return found

    def put_many(self, items: Iterable[tuple[FileKey, CacheEntry]], model: str) -> None:
        """Store (or replace) entries in one transaction."""
        rows = [
            (
                k.path,
                model,
                k.size,
                k.mtime_ns,
                k.sidecar_mtime_ns,
                json.dumps(metadata_to_dict(e.metadata)) if e.metadata else None,
                json.dumps(e.prediction.to_dict()) if e.prediction else None,
                (
                    np.ascontiguousarray(e.embedding, dtype=np.float32).tobytes()
                    if e.embedding is not None
                    else None
                ),
            )
            for k, e in items
        ]
        if rows:
            with self._conn:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
                )

    def clear(self) -> None:
        with self._conn:
            self._conn.execute("DELETE FROM entries")
