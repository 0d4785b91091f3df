"""Writing estimated locations into photos without losing anything.

For each photo: read it (``metadata``), plan what to write and where (``plan``),
build the new bytes with the format's editor (``editors``), verify them with an
independent reader (below), back the original up and journal the change
(``journal``), then replace the file atomically (``geoscope_core.fsio``). What is
written, and in which tags, is the table in ``tags``.

Formats ``geoscope_core.formats`` marks as sidecar formats (HEIC/HEIF, AVIF,
PNG, WebP, BMP) and read-only files get an XMP sidecar ``photo.ext.xmp``
(darktable / digiKam convention) instead of an in-place write; a file of no
supported format is skipped. While a batch
writes into a folder it holds that folder's lock, so two batches never race
on one photo; leftover temporary files of a killed writer are removed first.

Before a photo is replaced in place, its new bytes must read back (exifread, a
reader independent of the editors) with the location within 1e-6 degrees, and
every tag it held before must read the same, maker notes included, apart from
the GPS block and pure position (offset) fields.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from geoscope_core.errors import GeoScopeError, JournalError, MetadataError
from geoscope_core.formats import format_of
from geoscope_core.fsio import (
    FileChangedError,
    FolderLockedError,
    atomic_write_bytes,
    check_unchanged,
    folder_lock,
    folder_writable,
    is_read_only,
    path_text,
    read_xattrs,
    remove_stale_temps,
    sha256_bytes,
    sha256_file,
)
from geoscope_core.photos import editors
from geoscope_core.photos.editors import UnsafeInPlaceError
from geoscope_core.photos.journal import (
    ChangeKind,
    JournalEntry,
    JournalWriter,
    default_journal_dir,
)
from geoscope_core.photos.metadata import (
    FileFingerprint,
    exif_tags,
    gps_from_exif,
    read_metadata,
    sidecar_path,
)
from geoscope_core.photos.plan import (
    Plan,
    SidecarPolicy,
    WriteAction,
    WriteOptions,
    WriteReport,
    WriteResult,
    as_written,
    estimate_plan,
    invalid_reason,
    iptc_alpha3,
    names_plan,
    sidecar_reason,
)
from geoscope_core.prediction import Prediction, Source

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- per file


def _write_one(
    path: Path,
    prediction: Prediction,
    options: WriteOptions,
    journal: JournalWriter,
    scanned: FileFingerprint | None,
    roots: tuple[Path, ...] | None,
    names_only: bool = False,
) -> WriteResult:
    """Write one photo; symbolic links are followed (the link itself stays a link) when
    they lead inside ``roots`` (resolved; None: the photo's own folder) or
    ``options.follow_links``."""
    if not names_only:
        action, reason = invalid_reason(prediction, options)
        if reason:
            return WriteResult(path, action, reason)
    try:
        real = Path(path).resolve(strict=True)
    except FileNotFoundError:
        if os.path.islink(path):
            return WriteResult(path, WriteAction.FAILED, "file not found: dangling symbolic link")
        return WriteResult(path, WriteAction.FAILED, "file not found")
    except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop (Python < 3.13)
        return WriteResult(path, WriteAction.FAILED, f"cannot resolve path: {e}")
    inside = roots if roots is not None else (Path(os.path.abspath(path)).parent.resolve(),)
    if not options.follow_links and not any(real.is_relative_to(r) for r in inside):
        return WriteResult(
            path,
            WriteAction.SKIPPED,
            f"symbolic link to {path_text(real)}, outside the folders named "
            "(--follow-links writes through it)",
        )
    if names_only:
        result = _write_real(real, prediction, options, journal, scanned, names_only=True)
    else:
        result = _write_real(real, as_written(prediction), options, journal, scanned)
    return replace(result, path=Path(path))


def _write_real(
    path: Path,
    prediction: Prediction,
    options: WriteOptions,
    journal: JournalWriter,
    scanned: FileFingerprint | None,
    names_only: bool = False,
) -> WriteResult:
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        return WriteResult(path, WriteAction.FAILED, "not a regular file")
    if st.st_size == 0:
        return WriteResult(path, WriteAction.FAILED, "empty file (0 bytes)")
    if format_of(path) is None:
        return WriteResult(
            path, WriteAction.SKIPPED, f"unsupported format {path.suffix or '(no suffix)'}"
        )
    not_scanned = "not the photo that was scanned: "
    # size and mtime first, from the stat above: a photo replaced by a file that no
    # longer reads is still named as replaced
    changed = scanned.differs(st.st_size, st.st_mtime_ns) if scanned is not None else ""
    if changed:
        return WriteResult(path, WriteAction.FAILED, not_scanned + changed)
    meta = read_metadata(path)  # MetadataError -> failed (caller)
    if scanned is not None:
        # the content by the hash read_metadata took of the very bytes it read, so the
        # file is hashed once and the plan below is made from the scanned content
        read = meta.fingerprint
        changed = (
            scanned.differs(read.size, read.mtime_ns, read.sha256)
            if read is not None
            else "its content was not fingerprinted"
        )
        if changed:
            return WriteResult(path, WriteAction.FAILED, not_scanned + changed)
    if names_only:
        plan = names_plan(path, meta, prediction)
    else:
        plan = estimate_plan(meta, prediction, options)
    if isinstance(plan, str):
        return WriteResult(path, WriteAction.SKIPPED, plan)
    why_sidecar = sidecar_reason(path, st, options)
    if why_sidecar and options.sidecar == SidecarPolicy.NEVER:
        return WriteResult(path, WriteAction.SKIPPED, f"{why_sidecar} and sidecars are disabled")
    if not folder_writable(path.parent):
        return WriteResult(path, WriteAction.FAILED, "folder is read-only")
    if not why_sidecar:
        try:
            return _write_in_place(path, st, plan, options, journal)
        except UnsafeInPlaceError as e:
            if options.sidecar == SidecarPolicy.NEVER:
                return WriteResult(path, WriteAction.SKIPPED, f"{e}; sidecars are disabled")
            why_sidecar = str(e)
    return _write_sidecar(path, st, plan, options, journal, why_sidecar)


def _prepare_in_place(data: bytes, plan: Plan) -> tuple[bytes, dict]:
    """The new bytes of a photo (JPEG or TIFF) and the values replaced, checked: the
    location reads back and no pre-existing tag changed (the GPS block neither, for
    names only); else UnsafeInPlaceError."""
    from geoscope_core.photos.jpegedit import split_jpeg

    values, place = plan.values, plan.place
    is_jpeg = data[:3] == b"\xff\xd8\xff"
    if is_jpeg:
        split_jpeg(data)  # a corrupt JPEG structure is a failure, not a reason for a sidecar
    try:
        if is_jpeg:
            new, old = editors.jpeg_bytes(data, values, iptc_alpha3(place))
        elif data[:4] in (b"II*\x00", b"MM\x00*"):
            new, old = editors.tiff_bytes(data, values, iptc_alpha3(place))
        else:
            raise UnsafeInPlaceError("content is neither JPEG nor TIFF")
    except UnsafeInPlaceError:
        raise
    except MetadataError as e:
        raise UnsafeInPlaceError(f"cannot be edited in place ({e})") from e
    verify_location(new, *plan.point)
    changed = altered_tags(data, new, keep_gps=plan.keep_gps)
    if changed:
        raise UnsafeInPlaceError(
            f"writing in place would alter existing tags ({', '.join(changed[:3])})"
        )
    return new, old


def _write_in_place(
    path: Path,
    st: os.stat_result,
    plan: Plan,
    options: WriteOptions,
    journal: JournalWriter,
) -> WriteResult:
    data = path.read_bytes()
    # hashed once, before any editor sees the bytes: the backup is read back from disk
    # and must hash to this, so an editor that wrote into the original's buffer (exiv2
    # once did) fails the file there instead of backing up edited bytes
    before = sha256_bytes(data)
    new, old = _prepare_in_place(data, plan)
    if options.dry_run:
        return WriteResult(path, WriteAction.WOULD_WRITE, "", path)
    mode = stat.S_IMODE(st.st_mode)
    check_unchanged(path, st)
    xattrs = read_xattrs(path)
    entry = JournalEntry(
        path=path,
        target=path,
        kind=ChangeKind.IN_PLACE,
        before_sha256=before,
        after_sha256=sha256_bytes(new),
        backup=journal.backup(data, path.name, before, mode, xattrs),
        mode=mode & 0o777,
        mtime_ns=st.st_mtime_ns,
        old=old,
        written=plan.written,
    )
    _replace(path, new, entry, st, st, xattrs, options, journal)
    return WriteResult(path, WriteAction.WRITTEN, "", path)


def _replace(
    target: Path,
    new: bytes,
    entry: JournalEntry,
    st: os.stat_result | None,
    owner_st: os.stat_result,
    xattrs: dict[str, bytes],
    options: WriteOptions,
    journal: JournalWriter,
) -> None:
    """Replace ``target`` (``st``: its stat as read, None when it does not exist yet)
    by ``new`` atomically, recording ``entry`` just before the rename once the file
    on disk is checked to be the original backed up (same stat and SHA-256); a file
    that is not changed after all loses its backup again."""
    recorded = False

    def commit() -> None:
        nonlocal recorded
        if st is None:
            if os.path.lexists(target):
                raise FileChangedError("a sidecar appeared while GeoScope was writing it")
        else:
            check_unchanged(target, st)
            if sha256_file(target) != entry.before_sha256:
                raise FileChangedError("file changed while GeoScope was writing it")
        journal.record(entry)
        recorded = True

    keep_times = st is not None and options.keep_mtime
    try:
        atomic_write_bytes(
            target,
            new,
            # a new sidecar is as private as its photo (never executable)
            mode=entry.mode if entry.mode is not None else stat.S_IMODE(owner_st.st_mode) & 0o666,
            owner=(owner_st.st_uid, owner_st.st_gid),
            times_ns=(st.st_atime_ns, st.st_mtime_ns) if keep_times and st else None,
            xattrs=xattrs,
            before_replace=commit,
        )
    except BaseException:
        if not recorded and entry.backup is not None:
            journal.discard(entry.backup)
        raise


def _write_sidecar(
    path: Path,
    photo_st: os.stat_result,
    plan: Plan,
    options: WriteOptions,
    journal: JournalWriter,
    why: str,
) -> WriteResult:
    target = sidecar_path(path)
    existing: bytes | None = None
    st: os.stat_result | None = None
    if os.path.lexists(target):
        st = target.lstat()
        if not stat.S_ISREG(st.st_mode):
            return WriteResult(path, WriteAction.FAILED, "existing sidecar is not a file", target)
        if is_read_only(st, target):
            return WriteResult(path, WriteAction.FAILED, "existing sidecar is read-only", target)
        existing = target.read_bytes()
    try:
        new, old = editors.sidecar_bytes(existing, plan.values)
    except MetadataError as e:
        raise MetadataError(f"cannot update sidecar {target.name}: {e}") from e
    if options.dry_run:
        return WriteResult(path, WriteAction.WOULD_WRITE, why, target)
    before = backup = None
    xattrs: dict[str, bytes] = {}
    if existing is not None and st is not None:  # existing is read exactly when st is set
        before = sha256_bytes(existing)
        xattrs = read_xattrs(target)
        backup = journal.backup(existing, target.name, before, stat.S_IMODE(st.st_mode), xattrs)
    entry = JournalEntry(
        path=path,
        target=target,
        kind=ChangeKind.SIDECAR,
        after_sha256=sha256_bytes(new),
        before_sha256=before,
        backup=backup,
        mode=stat.S_IMODE(st.st_mode) & 0o777 if st is not None else None,
        mtime_ns=st.st_mtime_ns if st is not None else None,
        old=old,
        written=plan.written,
    )
    _replace(target, new, entry, st, st or photo_st, xattrs, options, journal)
    return WriteResult(path, WriteAction.SIDECAR, why, target)


# --------------------------------------------------------------------------- batch


def _describe(e: BaseException, path: Path) -> str:
    if isinstance(e, GeoScopeError):
        message = str(e)
        prefix = f"{path}: "
        return message[len(prefix) :] if message.startswith(prefix) else message
    if isinstance(e, OSError):
        what = e.strerror or type(e).__name__
        return what if e.filename in (None, str(path)) else f"{what}: {e.filename}"
    return f"{type(e).__name__}: {e}"


def _root(named: Path) -> Path:
    """The folder a named path stands for, links resolved: itself, or a file's folder."""
    folder = named if named.is_dir() else Path(os.path.abspath(named)).parent
    return folder.resolve()


def write_locations(
    items: Iterable[tuple[Path, Prediction]],
    options: WriteOptions | None = None,
    journal_dir: Path | None = None,
    scanned: Mapping[Path, FileFingerprint] | None = None,
    roots: Iterable[Path] | None = None,
) -> WriteReport:
    """Write each prediction's location into its photo (or the photo's XMP sidecar).

    Per-file problems become "failed"/"skipped" results and the batch goes on;
    a folder another GeoScope process is writing fails its photos, and a
    journal that cannot be written (a full disk) stops the batch: every photo
    not yet written is "failed" with that reason. ``scanned`` holds what each
    photo was when it was scanned (by the path given in ``items``): a photo whose
    file is no longer that one (size, mtime, SHA-256) fails. ``roots`` are the
    folders (or files) the user named: a photo whose real path (symbolic links
    resolved) lies outside them is skipped unless ``options.follow_links``; without
    ``roots``, each photo's own folder. Changes are recorded
    in a journal in ``journal_dir`` (default ``settings.cache_dir()/"journals"``),
    created only if something is written; pass it to
    :func:`geoscope_core.photos.undo.undo` to restore the originals.

    With ``options.fill_names``, a prediction from the photo's own GPS
    (``Source.EXIF``) fills in the photo's place names (sublocation, city, region,
    country) from that point instead of being skipped: the names only, never a GPS tag
    (in place, the GPS block must read back unchanged; a sidecar gets no GPS property).
    The names are those of the point (``geo.places.names_at``), the prediction's names
    as the hint, and its sublocation within the city. A photo without camera GPS, or
    one that already names its place, is skipped.
    """
    scanned = scanned or {}
    inside = None if roots is None else tuple(_root(Path(r)) for r in roots)
    options = options if options is not None else WriteOptions()
    writer = JournalWriter(Path(journal_dir) if journal_dir else default_journal_dir())
    results: list[WriteResult] = []
    stopped = ""
    locks: dict[Path, str] = {}  # folder -> "" when held, else why not
    with contextlib.ExitStack() as stack:
        for path, prediction in items:
            path = Path(path)
            if stopped:
                results.append(WriteResult(path, WriteAction.FAILED, stopped))
                continue
            folder = Path(os.path.abspath(path)).parent
            if folder not in locks and not options.dry_run:
                try:
                    stack.enter_context(folder_lock(folder))
                    remove_stale_temps(folder)
                    locks[folder] = ""
                except FolderLockedError as e:
                    locks[folder] = str(e)
                except OSError as e:
                    locks[folder] = ""  # a missing folder fails per file below
                    log.debug("no lock in %s: %s", folder, e)
            if locks.get(folder):
                results.append(WriteResult(path, WriteAction.FAILED, locks[folder]))
                continue
            names_only = options.fill_names and prediction.source is Source.EXIF
            try:
                result = _write_one(
                    path, prediction, options, writer, scanned.get(path), inside, names_only
                )
            except JournalError as e:
                stopped = str(e)
                result = WriteResult(path, WriteAction.FAILED, stopped)
            except (GeoScopeError, OSError) as e:
                result = WriteResult(path, WriteAction.FAILED, _describe(e, path))
            except Exception as e:  # the per-file edge of a batch: report, go on
                log.exception("writing %s failed", path)
                result = WriteResult(path, WriteAction.FAILED, _describe(e, path))
            if result.action is WriteAction.FAILED:
                log.warning("%s: %s", path, result.reason)
            results.append(result)
        try:
            writer.close()
        except JournalError as e:
            log.warning("%s", e)
    return WriteReport(results=results, journal=writer.path if writer.opened else None)


# --------------------------------------------------------------------------- read-back verification


#: Tags that legitimately change when GPS is added: the GPS block itself and positions.
_POSITIONAL = ("Image GPSInfo", "Image StripOffsets", "Thumbnail JPEGInterchangeFormat",
               "Thumbnail StripOffsets", "Image TileOffsets", "Image IPTC/NAA",
               "Image ApplicationNotes")  # fmt: skip


def metadata_dump(data: bytes) -> dict[str, str]:
    """Every tag exifread finds (maker notes included), as strings."""
    try:
        tags = exif_tags(io.BytesIO(data), details=True)
    except Exception as e:  # exifread raises many types on corrupt data
        raise MetadataError(f"unreadable metadata: {e}") from e
    return {k: str(getattr(v, "values", v)) for k, v in tags.items()}


def altered_tags(before: bytes, after: bytes, keep_gps: bool = False) -> list[str]:
    """Tags present in ``before`` whose value differs (or that vanished) in ``after``,
    ignoring pure position (offset) fields and, unless ``keep_gps``, the GPS block."""
    a, b = metadata_dump(before), metadata_dump(after)
    return [
        k
        for k, v in a.items()
        if (keep_gps or not k.startswith("GPS ")) and k not in _POSITIONAL and b.get(k) != v
    ]


def verify_location(data: bytes, lat: float, lon: float) -> None:
    """Raise UnsafeInPlaceError unless ``data`` reads back (exifread) with GPS at
    ``lat``/``lon`` (degrees) within 1e-6 degrees."""
    try:
        tags = exif_tags(io.BytesIO(data))
    except Exception as e:  # exifread raises many types on corrupt data
        raise UnsafeInPlaceError(f"the written file does not read back ({e})") from e
    gps = gps_from_exif(tags)
    if gps is None or not (
        math.isclose(gps[0], lat, abs_tol=1e-6) and math.isclose(gps[1], lon, abs_tol=1e-6)
    ):
        raise UnsafeInPlaceError("GPS written in place would not read back")
