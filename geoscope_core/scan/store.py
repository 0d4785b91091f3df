"""Photos in an object store (``s3://bucket/prefix``, or any file system pyarrow.fs reaches):
listed folder by folder, and scanned from a private local copy by the same ``Scanner``.

A store is named by a URI that ``pyarrow.fs.FileSystem.from_uri`` opens: its query
carries the connection's options (``?endpoint_override=host:port&scheme=http&region=...``)
and the credentials come from where pyarrow looks for them (for S3: the standard AWS
environment variables, ``~/.aws``, an instance role), on every node that reads the store.

The objects under the URI are grouped by their "folder" (the key up to its last ``/``),
the unit a scan settles at once. A unit is scanned by fetching its objects (and their XMP
sidecars; ``FETCH_THREADS`` at a time) into a private temporary folder, running the
single-machine ``Scanner`` on the copies and reporting each result by its object's URI:
there is one inference path, and a result's fingerprint is of the object's bytes (its time
the object's). The copies are removed when the unit is done; the scan cache is not used
for them (it keys local files). In one process (``scan_any``) the next unit's objects are
fetched while the current unit scans: one unit ahead, and only when they fit the disk
beside the current unit's copies (else they are fetched once it is done).
Nothing is ever written to a store: writing metadata is local (``geoscope write``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.formats import is_photo
from geoscope_core.fsio import local_path, uri_scheme
from geoscope_core.photos.metadata import sidecar_path
from geoscope_core.scan.pipeline import Scanner, folders
from geoscope_core.scan.types import ScanResult, ScanStatus

if TYPE_CHECKING:
    from pyarrow import fs as pafs

log = logging.getLogger(__name__)

#: Largest object a scan fetches (bytes): a 100 MP raw is about 200 MB, a scan's TIFF more.
MAX_OBJECT_BYTES = 2 << 30
#: Disk space (bytes) left free on the temporary folder's disk when a unit is fetched.
FREE_MARGIN_BYTES = 256 << 20
_HDFS_NEEDS = (
    "pyarrow's HDFS client needs a Java runtime and libhdfs on every node (not in the "
    "pyarrow wheel)"
)
#: What pyarrow needs beyond its wheel to open some file systems, by URI scheme.
_NEEDS = {"hdfs": _HDFS_NEEDS, "viewfs": _HDFS_NEEDS}
_CHUNK = 1 << 20
#: Objects of a folder fetched at once: a store answers each request after a round trip.
FETCH_THREADS = 8
#: Why a photo in a store gets no estimate written, and what to do instead.
NOT_WRITTEN = (
    "photos in an object store are never written: GeoScope writes local files, journaled "
    "so `geoscope undo` restores them; copy the folder to this machine (e.g. `aws s3 sync "
    "s3://bucket/prefix DIR`) and scan that"
)


@dataclass(frozen=True)
class ObjectStore:
    """The folder of a store a scan was given: ``root`` its URI without the query or
    credentials (``s3://bucket/prefix``: what object URIs start with), ``fs`` the pyarrow
    file system that reaches it, ``base`` the root's path in ``fs`` (``bucket/prefix``).
    Picklable: Ray sends it to the workers."""

    root: str
    fs: Any
    base: str

    @classmethod
    def open(cls, uri: str) -> ObjectStore:
        """The store ``uri`` names; ConfigError (one line) when pyarrow cannot open it."""
        scheme = uri_scheme(uri)
        if scheme is None or scheme == "file":
            raise ConfigError(f"{uri} is not the URI of an object store")
        try:
            from pyarrow import fs
        except ImportError as e:
            raise ConfigError(
                f"{uri}: photos in a store need the extra: pip install 'geoscope[cluster]'"
            ) from e
        try:
            filesystem, base = fs.FileSystem.from_uri(uri)
        except (ValueError, OSError) as e:  # pyarrow.ArrowInvalid is a ValueError
            needs = f" ({_NEEDS[scheme]})" if scheme in _NEEDS else ""
            raise ConfigError(
                f"{uri}: pyarrow cannot open this store: {_first_line(e)}{needs}"
            ) from e
        parts = urlsplit(uri)
        host = parts.netloc.rpartition("@")[2]  # credentials never name a photo
        root = f"{scheme}://{host}{unquote(parts.path)}".rstrip("/")
        return cls(root, filesystem, base.rstrip("/"))

    def uri_of(self, fs_path: str) -> str:
        """The URI naming the object at ``fs_path`` (a path in ``fs`` under ``base``)."""
        return self.root + fs_path[len(self.base) :]

    def fs_path(self, uri: str) -> str:
        """The path in ``fs`` of the object ``uri`` names (one of ``list_photos``)."""
        if not self.holds(uri):
            raise DataError(f"{uri} is not in {self.root}")
        return self.base + uri[len(self.root) :]

    def holds(self, uri: str) -> bool:
        """Whether ``uri`` names ``root`` (an object given alone) or an object under it."""
        return uri == self.root or uri.startswith(self.root + "/")

    def list_photos(self) -> list[str]:
        """The URIs of the photos under ``root``, or of ``root`` itself when it names one
        object (a supported format by suffix; names starting with "." skipped, as folder
        walking does), sorted. DataError when it does not exist or cannot be listed."""
        from pyarrow import fs

        try:
            info = self.fs.get_file_info(self.base)
            if info.type == fs.FileType.NotFound:
                raise DataError(f"{self.root} does not exist")
            if info.type == fs.FileType.File:
                infos = [info]
            else:
                infos = self.fs.get_file_info(fs.FileSelector(self.base, recursive=True))
        except (OSError, ValueError) as e:
            raise DataError(f"cannot list {self.root}: {_first_line(e)}") from e
        photos = []
        for info in infos:
            rel = info.path[len(self.base) :]
            hidden = any(part.startswith(".") for part in rel.split("/"))
            if info.type == fs.FileType.File and not hidden and is_photo(Path(info.path)):
                photos.append(self.uri_of(info.path))
        return sorted(photos)


def open_target(target: str) -> Path | ObjectStore:
    """What a command-line ``target`` names: a local path (a ``file://`` URI resolved by
    pyarrow), or a folder of an object store (any other URI)."""
    if uri_scheme(target) in (None, "file"):
        return local_path(target)
    return ObjectStore.open(target)


def store_of(photo: str | Path, stores: Mapping[str, ObjectStore]) -> ObjectStore | None:
    """The store holding ``photo`` (an object URI), None for a local path."""
    text = os.fspath(photo)
    return next((s for s in stores.values() if s.holds(text)), None)


def scan_any(
    scanner: Scanner, photos: Sequence[str | Path], stores: Mapping[str, ObjectStore]
) -> Iterator[ScanResult]:
    """Scan ``photos``, local paths and objects of ``stores``: local photos as
    ``scanner.scan`` does, each folder of objects as ``scan_objects`` does, the next
    folder's objects fetched while the current folder scans (one folder ahead, and only
    when they fit the temporary folder's disk beside the current one's; else after it)."""
    if not stores:
        yield from scanner.scan(photos)
        return
    units = [(unit, store_of(unit[0], stores)) for unit in folders(photos)]
    ahead: Future[_Fetched | None] | None = None  # the next unit's objects, being fetched
    with ThreadPoolExecutor(1, "geoscope-prefetch") as prefetch:
        try:
            for i, (unit, store) in enumerate(units):
                fetched = ahead.result() if ahead is not None else None
                ahead = None
                if store is not None and fetched is None:  # not fetched ahead: now, or fail
                    fetched = _fetch_folder(store, unit, MAX_OBJECT_BYTES)
                if i + 1 < len(units) and (nxt := units[i + 1])[1] is not None:
                    ahead = prefetch.submit(_fetch_if_room, nxt[1], nxt[0])
                if fetched is None:
                    yield from scanner.scan(unit)
                else:
                    with fetched:
                        yield from _scan_fetched(scanner, fetched)
        finally:  # stopped early or failed: the folder fetched ahead is not scanned
            if ahead is not None and not ahead.cancel():
                _discard(ahead)


def scan_objects(
    scanner: Scanner,
    store: ObjectStore,
    uris: Sequence[str | Path],
    max_bytes: int = MAX_OBJECT_BYTES,
) -> Iterator[ScanResult]:
    """The results of one folder's objects ``uris`` of ``store``, each keyed by its URI:
    fetched into a private temporary folder (with each one's XMP sidecar, where the store
    has one) and scanned there by ``scanner``'s predictor and options (no cache). An
    object larger than ``max_bytes`` bytes, gone or unreadable is a row with an error.
    DataError when the folder cannot be listed or does not fit the temporary folder's disk
    (the unit fails as a whole)."""
    if not uris:
        return
    with _fetch_folder(store, uris, max_bytes) as fetched:
        yield from _scan_fetched(scanner, fetched)


@dataclass(frozen=True)
class _Fetched:
    """One folder's objects copied into a private temporary folder (removed on exit):
    ``local`` each copy's object URI, ``errors`` why an object was not copied (by URI),
    ``mtimes`` each copied object's time (ns)."""

    tmp: tempfile.TemporaryDirectory[str]
    local: dict[Path, str]
    errors: dict[str, str]
    mtimes: dict[str, int | None]

    @property
    def folder(self) -> Path:
        return Path(self.tmp.name)

    def __enter__(self) -> _Fetched:
        return self

    def __exit__(self, *exc: object) -> None:
        self.tmp.cleanup()


class _NoRoom(DataError):
    """A folder's objects do not fit the temporary folder's disk."""


def _fetch_folder(store: ObjectStore, uris: Sequence[str | Path], max_bytes: int) -> _Fetched:
    """The objects ``uris`` (one folder of ``store``) fetched into a new temporary folder.
    DataError when the folder cannot be listed, or does not fit that folder's disk beside
    ``FREE_MARGIN_BYTES`` (nothing fetched)."""
    names = [os.fspath(u) for u in uris]
    listed = _list_folder(store, names[0])
    errors: dict[str, str] = {}
    wanted: list[tuple[str, int]] = []  # (uri, size)
    for uri in names:
        info = listed.get(store.fs_path(uri))
        if info is None:
            errors[uri] = "the object is no longer in the store"
        elif info.size > max_bytes:
            errors[uri] = f"the object is {info.size:,} bytes, more than the {max_bytes:,} fetched"
        else:
            wanted.append((uri, info.size))
    tmp = tempfile.TemporaryDirectory(prefix="geoscope-objects-")  # mode 0700
    try:
        folder = Path(tmp.name)
        need = sum(size for _, size in wanted)
        free = shutil.disk_usage(folder).free
        if need + FREE_MARGIN_BYTES > free:
            raise _NoRoom(
                f"the folder {_parent(names[0])} is {need:,} bytes, more than {folder.parent} "
                f"has free ({free:,}): set TMPDIR to a larger disk"
            )
        copies: list[tuple[str, int, Path]] = []
        for uri, size in wanted:
            copy = folder / uri.rpartition("/")[2]
            try:
                copy.touch(exist_ok=False)  # its name taken here, before any fetch starts
            except FileExistsError:  # a disk that folds case: "A.jpg" is "a.jpg" here
                errors[uri] = f"another object of its folder is {copy.name} on this disk"
                continue
            copies.append((uri, size, copy))

        def fetch(job: tuple[str, int, Path]) -> str:
            """Why the object of ``job`` could not be copied ("" when it was)."""
            uri, size, copy = job
            try:
                _fetch(store, store.fs_path(uri), copy, size, max_bytes)
                sidecar = store.fs_path(uri) + ".xmp"
                if sidecar in listed:
                    _fetch(store, sidecar, sidecar_path(copy), listed[sidecar].size, max_bytes)
            except (OSError, DataError) as e:
                copy.unlink(missing_ok=True)
                return f"cannot read the object: {_first_line(e)}"
            return ""

        local: dict[Path, str] = {}
        with ThreadPoolExecutor(FETCH_THREADS, "geoscope-fetch") as pool:  # waits on the store
            for (uri, _, copy), error in zip(copies, pool.map(fetch, copies), strict=True):
                if error:
                    errors[uri] = error
                else:
                    local[copy] = uri
    except BaseException:
        tmp.cleanup()
        raise
    mtimes = {uri: listed[store.fs_path(uri)].mtime_ns for uri in local.values()}
    return _Fetched(tmp, local, errors, mtimes)


def _fetch_if_room(store: ObjectStore, uris: Sequence[str | Path]) -> _Fetched | None:
    """The next folder's objects fetched ahead, or None when they do not fit the disk
    beside the folder being scanned (fetched after it, then, or failed)."""
    try:
        return _fetch_folder(store, uris, MAX_OBJECT_BYTES)
    except _NoRoom:
        return None


def _discard(ahead: Future[_Fetched | None]) -> None:
    """Wait for a folder fetched ahead that will not be scanned and remove its copies."""
    try:
        fetched = ahead.result()
    except (DataError, OSError):  # it fails at its own turn, which will not come
        return
    if fetched is not None:
        fetched.tmp.cleanup()


def _scan_fetched(scanner: Scanner, fetched: _Fetched) -> Iterator[ScanResult]:
    """The rows of a fetched folder: its objects' errors, then the scan of its copies by
    ``scanner``'s predictor and options (no cache: it keys local files), by object URI."""
    if scanner.options.use_cache:
        scanner = Scanner(scanner.predictor, dataclasses.replace(scanner.options, use_cache=False))
    for uri, error in fetched.errors.items():
        yield ScanResult(Path(uri), ScanStatus.ERROR, None, None, error, uri=uri)
    for r in scanner.scan(list(fetched.local)):
        uri = fetched.local[r.path]
        yield _as_object(r, uri, fetched.mtimes[uri], fetched.folder)


def _as_object(r: ScanResult, uri: str, mtime_ns: int | None, copies: Path) -> ScanResult:
    """``r`` (of the copy of ``uri`` in ``copies``) as the object's result: named by its
    URI, its fingerprint's time the object's, the copies' folder out of its messages."""
    name = Path(uri)
    meta = r.metadata
    if meta is not None:
        fp = meta.fingerprint
        if fp is not None:
            fp = dataclasses.replace(fp, mtime_ns=mtime_ns or 0)
        meta = dataclasses.replace(meta, path=name, fingerprint=fp)
    parent = _parent(uri)
    return dataclasses.replace(
        r,
        path=name,
        metadata=meta,
        uri=uri,
        error=r.error.replace(str(copies), parent),
        reason=r.reason.replace(str(copies), parent),
    )


def _list_folder(store: ObjectStore, uri: str) -> dict[str, pafs.FileInfo]:
    """The objects in the folder of ``uri`` (one listing), by their path in the store."""
    from pyarrow import fs

    folder = store.fs_path(uri).rpartition("/")[0]
    try:
        infos = store.fs.get_file_info(fs.FileSelector(folder, recursive=False))
    except (OSError, ValueError) as e:
        raise DataError(f"cannot list {_parent(uri)}: {_first_line(e)}") from e
    return {i.path: i for i in infos if i.type == fs.FileType.File}


def _fetch(store: ObjectStore, fs_path: str, dest: Path, size: int, max_bytes: int) -> None:
    """Copy the object at ``fs_path`` (listed with ``size`` bytes) to ``dest``; DataError
    when it holds more than listed or than ``max_bytes`` (it changed since the listing)."""
    limit = min(size, max_bytes)
    got = 0
    with store.fs.open_input_stream(fs_path) as src, dest.open("wb") as out:
        while chunk := src.read(_CHUNK):
            got += len(chunk)
            if got > limit:
                raise DataError(f"it grew past the {limit:,} bytes listed while it was read")
            out.write(chunk)
    if got != size:
        raise DataError(f"it has {got:,} bytes, not the {size:,} listed")


def _parent(uri: str) -> str:
    return uri.rpartition("/")[0]


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
