"""Writing estimated locations into photos without losing anything.

Metadata is edited with python-exiv2 (the library Photini uses), which
rewrites metadata segments only and never re-encodes image data. Every write
is atomic (temporary file in the same folder, fsync, rename) and journaled
with a backup of the original bytes, so ``geoscope undo JOURNAL`` restores
files byte for byte (see ``journal.py``).

What is written (all marked as an estimate, never as a fix):

- EXIF GPS: ``GPSVersionID`` 2.3.0.0, ``GPSLatitude``/``GPSLongitude`` with
  refs, ``GPSMapDatum`` "WGS-84", ``GPSHPositioningError`` (the estimate's
  radius, metres) and ``GPSProcessingMethod`` "GeoScope estimate (model ...,
  confidence ..., radius ... km)".
- XMP: ``Xmp.exif.GPS*`` (the same location), ``Xmp.photoshop.City/State/
  Country``, ``Xmp.iptc.CountryCode`` and GeoScope's own
  ``Xmp.geoscope.Estimate/Source/Model/Confidence/RadiusKm``.
- IPTC-IIM: ``City``, ``ProvinceState``, ``CountryName``, ``CountryCode``
  (ISO alpha-3, as IIM specifies).

Formats ``geoscope_core.formats`` marks as sidecar formats (HEIC/HEIF, AVIF,
PNG, WebP, BMP) and read-only files get an XMP sidecar ``photo.ext.xmp``
(darktable / digiKam convention) instead of an in-place write; a file of no
supported format is skipped.
"""

from __future__ import annotations

import enum
import io
import logging
import math
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from geoscope_core import settings
from geoscope_core.errors import ConfigError, MetadataError
from geoscope_core.formats import WriteMode, format_of
from geoscope_core.geo.countries import country_alpha3
from geoscope_core.geo.places import PlaceNames, names_at
from geoscope_core.photos import journal as journal_mod
from geoscope_core.photos.jpegedit import dms
from geoscope_core.photos.metadata import (
    ESTIMATE_METHOD_PREFIX,
    XMP_NAMESPACE,
    XMP_PREFIX,
    PhotoMetadata,
    format_xmp_coordinate,
    read_metadata,
    sidecar_path,
)
from geoscope_core.prediction import Prediction, Source

log = logging.getLogger(__name__)

#: Files larger than this are not rewritten in memory; they get a sidecar (bytes).
MAX_IN_PLACE_BYTES = 1 << 30

ACTIONS = ("written", "sidecar", "skipped", "would-write", "failed")


class SidecarPolicy(str, enum.Enum):
    """When to write an XMP sidecar instead of modifying the photo.

    AUTO: only for formats that cannot be written in place safely (HEIC, PNG, ...)
    and read-only files; ALWAYS: every photo; NEVER: never (such photos are
    skipped with a reason).
    """

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class WriteOptions:
    """How :func:`write_locations` behaves.

    ``overwrite_gps``: replace GPS already in the photo (camera fix or earlier
    estimate); ``sidecar``: see SidecarPolicy; ``keep_mtime``: give the
    written file its original modification time; ``dry_run``: report
    "would-write" and touch nothing; ``min_confidence`` (0-1): predictions
    below it are skipped.
    """

    overwrite_gps: bool = False
    sidecar: SidecarPolicy = SidecarPolicy.AUTO
    keep_mtime: bool = True
    dry_run: bool = False
    min_confidence: float = 0.0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "sidecar", SidecarPolicy(self.sidecar))
        except ValueError as e:
            raise ConfigError(
                f"sidecar must be one of auto|always|never, not {self.sidecar!r}"
            ) from e
        if not (0.0 <= float(self.min_confidence) <= 1.0):
            raise ConfigError(f"min_confidence must be in [0, 1], not {self.min_confidence!r}")


@dataclass(frozen=True)
class WriteResult:
    """Outcome for one photo. ``action``: "written" (in place), "sidecar",
    "skipped", "would-write" (dry run) or "failed"; ``target`` is the file that
    was (or would be) written: the photo or its sidecar."""

    path: Path
    action: str
    reason: str = ""
    target: Path | None = None


@dataclass(frozen=True)
class WriteReport:
    """All results of a batch and the journal that records its changes
    (None when nothing was changed)."""

    results: list[WriteResult]
    journal: Path | None

    def count(self, action: str) -> int:
        return sum(1 for r in self.results if r.action == action)


@dataclass(frozen=True)
class _Plan:
    exif: dict[str, Any] = field(default_factory=dict)
    xmp: dict[str, str] = field(default_factory=dict)
    iptc: dict[str, str] = field(default_factory=dict)


class _UnsafeInPlace(MetadataError):
    """Writing this photo in place would alter what it already holds: use a sidecar."""


def default_journal_dir() -> Path:
    return settings.cache_dir() / "journals"


# --------------------------------------------------------------------------- values


def _rational_dms(value: float) -> str:
    """Degrees as an EXIF rational triple ``"d/1 m/1 s/1000000"`` (sub-millimetre)."""
    deg, minutes, micro = dms(value)
    return f"{deg}/1 {minutes}/1 {micro}/1000000"


def place_for(prediction: Prediction) -> PlaceNames:
    """Place names written with a prediction: ``geo.places.names_at`` of its point, with
    its own names as the hint (so the names always contain the written point)."""
    return names_at(prediction.lat, prediction.lon, PlaceNames.of(prediction))


def _truncate_utf8(text: str, max_bytes: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", "ignore")


def estimate_note(prediction: Prediction) -> str:
    """The human-readable estimate mark, e.g.
    "GeoScope estimate (model geoscope-lite@ab12cd34ef56, confidence 0.42, radius 25 km)"."""
    parts = []
    if prediction.model:
        parts.append(f"model {prediction.model}")
    if prediction.source != Source.MODEL:
        parts.append(f"from {prediction.source.value}")
    parts.append(f"confidence {prediction.confidence:.2f}")
    parts.append(f"radius {prediction.radius_km:.3g} km")
    return f"{ESTIMATE_METHOD_PREFIX} ({', '.join(parts)})"


def _plan(prediction: Prediction, place: PlaceNames, *, exif: bool, iptc: bool) -> _Plan:
    lat, lon = float(prediction.lat), float(prediction.lon)
    note = estimate_note(prediction)
    xmp: dict[str, str] = {
        "Xmp.exif.GPSVersionID": "2.3.0.0",
        "Xmp.exif.GPSLatitude": format_xmp_coordinate(lat, "N", "S"),
        "Xmp.exif.GPSLongitude": format_xmp_coordinate(lon, "E", "W"),
        "Xmp.exif.GPSMapDatum": "WGS-84",
        "Xmp.exif.GPSProcessingMethod": note,
        f"Xmp.{XMP_PREFIX}.Estimate": "True",
        f"Xmp.{XMP_PREFIX}.Source": prediction.source.value,
        f"Xmp.{XMP_PREFIX}.Model": prediction.model,
        f"Xmp.{XMP_PREFIX}.Confidence": f"{prediction.confidence:.4f}",
        f"Xmp.{XMP_PREFIX}.RadiusKm": f"{prediction.radius_km:.3f}",
    }
    if place.city:
        xmp["Xmp.photoshop.City"] = place.city
    if place.admin1:
        xmp["Xmp.photoshop.State"] = place.admin1
    if place.country:
        xmp["Xmp.photoshop.Country"] = place.country
    if place.country_code:
        xmp["Xmp.iptc.CountryCode"] = place.country_code
    exif_values: dict[str, Any] = {}
    if exif:
        exif_values = {
            "Exif.GPSInfo.GPSVersionID": "2 3 0 0",
            "Exif.GPSInfo.GPSLatitudeRef": "N" if lat >= 0 else "S",
            "Exif.GPSInfo.GPSLatitude": _rational_dms(lat),
            "Exif.GPSInfo.GPSLongitudeRef": "E" if lon >= 0 else "W",
            "Exif.GPSInfo.GPSLongitude": _rational_dms(lon),
            "Exif.GPSInfo.GPSMapDatum": "WGS-84",
            "Exif.GPSInfo.GPSHPositioningError": f"{round(prediction.radius_km * 1000)}/1",
            "Exif.GPSInfo.GPSProcessingMethod": f"charset=Ascii {note}",
        }
    iptc_values: dict[str, str] = {}
    if iptc:
        if place.city:
            iptc_values["Iptc.Application2.City"] = _truncate_utf8(place.city, 32)
        if place.admin1:
            iptc_values["Iptc.Application2.ProvinceState"] = _truncate_utf8(place.admin1, 32)
        if place.country:
            iptc_values["Iptc.Application2.CountryName"] = _truncate_utf8(place.country, 64)
        a3 = country_alpha3(place.country_code)
        if a3:
            iptc_values["Iptc.Application2.CountryCode"] = a3
    return _Plan(exif=exif_values, xmp=xmp, iptc=iptc_values)


# --------------------------------------------------------------------------- exiv2


def _exiv2():
    import exiv2

    # Idempotent: make Xmp.geoscope.* known to exiv2 (a process-wide registry).
    try:
        exiv2.XmpProperties.ns(XMP_PREFIX)
    except exiv2.Exiv2Error:
        exiv2.XmpProperties.registerNs(XMP_NAMESPACE, XMP_PREFIX)
    return exiv2


def _find(container: Any, key_obj: Any) -> Any:
    it = container.findKey(key_obj)
    return None if it == container.end() else it


def _apply_plan(image: Any, plan: _Plan) -> dict[str, str]:
    """Set ``plan`` on an exiv2 image (metadata already read); returns replaced old values."""
    exiv2 = _exiv2()
    old: dict[str, str] = {}
    for values, data, key_type in (
        (plan.exif, image.exifData, exiv2.ExifKey),
        (plan.xmp, image.xmpData, exiv2.XmpKey),
        (plan.iptc, image.iptcData, exiv2.IptcKey),
    ):
        if not values:
            continue
        container = data()
        for key, value in values.items():
            it = _find(container, key_type(key))
            if it is not None:
                old[key] = it.toString()
            if key == "Exif.GPSInfo.GPSProcessingMethod":  # UNDEFINED with a charset prefix
                container[key] = exiv2.CommentValue(value)
            else:
                container[key] = value
    return old


def _iptc_allowed(image: Any, place: PlaceNames) -> bool:
    """Whether IPTC-IIM can be written without changing how existing IPTC is read.

    With no IPTC yet, GeoScope declares UTF-8 itself; with existing IPTC that
    declares no character set, only ASCII names are added (declaring UTF-8 would
    change the meaning of the existing records).
    """
    exiv2 = _exiv2()
    iptc = image.iptcData()
    if iptc.empty():
        return True
    it = _find(iptc, exiv2.IptcKey("Iptc.Envelope.CharacterSet"))
    if it is not None and it.toString() == "\x1b%G":
        return True
    names = (place.city, place.admin1, place.country)
    return all(n.isascii() for n in names)


def _old_values(image: Any, keys: Iterable[str]) -> dict[str, str]:
    """Current values (exiv2 strings) of the GPS tags and of ``keys`` in an exiv2 image."""
    old: dict[str, str] = {}
    for datum in image.exifData():
        if datum.key().startswith("Exif.GPSInfo."):
            old[datum.key()] = datum.toString()
    wanted = set(keys)
    for container in (image.xmpData(), image.iptcData()):
        for datum in container:
            if datum.key() in wanted:
                old[datum.key()] = datum.toString()
    return old


def _iptc_values(image: Any, place: PlaceNames) -> dict[str, str]:
    """IPTC place fields to add: only those the photo does not have yet, and none when
    its XMP already names a place (the two would disagree)."""
    exiv2 = _exiv2()
    xmp = image.xmpData()
    for key in ("Xmp.photoshop.City", "Xmp.photoshop.State", "Xmp.photoshop.Country"):
        it = _find(xmp, exiv2.XmpKey(key))
        if it is not None and it.toString().strip():
            return {}
    if not _iptc_allowed(image, place):
        return {}
    plan = _plan(Prediction(0.0, 0.0, 0.0, 0.0), place, exif=False, iptc=True)
    iptc = image.iptcData()
    values = {}
    for key, value in plan.iptc.items():
        it = _find(iptc, exiv2.IptcKey(key))
        if it is None or not it.toString().strip():
            values[key] = value
    return values


def _modify_jpeg_bytes(
    data: bytes, prediction: Prediction, place: PlaceNames
) -> tuple[bytes, dict]:
    """Return the JPEG ``data`` with the location written append-only (see ``jpegedit``),
    and the values it replaced."""
    from geoscope_core.photos import jpegedit as je

    exiv2 = _exiv2()
    try:
        src = exiv2.ImageFactory.open(data)
        src.readMetadata()
    except exiv2.Exiv2Error as e:
        raise MetadataError(f"exiv2 cannot read this file: {e}") from e
    plan = _plan(prediction, place, exif=False, iptc=True)
    old = _old_values(src, [*plan.xmp, *plan.iptc])
    segments, rest = je.split_jpeg(data)
    note = estimate_note(prediction)
    radius_m = prediction.radius_km * 1000.0
    exif_at = next(
        (
            k
            for k, s in enumerate(segments)
            if s.marker == 0xE1 and s.payload.startswith(je.EXIF_HEADER)
        ),
        None,
    )
    if exif_at is not None:
        tiff = segments[exif_at].payload[len(je.EXIF_HEADER) :]
        bo = "<" if tiff[:2] == b"II" else ">"
        gps = je.gps_entries(prediction.lat, prediction.lon, note, radius_m, bo)
        segments[exif_at] = je.Segment(0xE1, je.EXIF_HEADER + je.tiff_with_gps(tiff, gps))
        insert_at = exif_at + 1
    else:
        gps = je.gps_entries(prediction.lat, prediction.lon, note, radius_m, ">")
        insert_at = 0  # after the leading APP0 segments (JFIF, JFXX, CIFF)
        while insert_at < len(segments) and segments[insert_at].marker == 0xE0:
            insert_at += 1
        segments.insert(insert_at, je.Segment(0xE1, je.EXIF_HEADER + je.tiff_with_gps(b"", gps)))
        insert_at += 1
    has_xmp = any(s.marker == 0xE1 and s.payload.startswith(je.XMP_HEADER) for s in segments)
    if not has_xmp:
        xmp = exiv2.XmpData()
        for key, value in plan.xmp.items():
            xmp[key] = value
        rc, packet = exiv2.XmpParser.encode(xmp)
        if rc != 0:
            raise MetadataError(f"exiv2 could not serialise XMP (code {rc})")
        segments.insert(insert_at, je.Segment(0xE1, je.XMP_HEADER + packet.encode("utf-8")))
        insert_at += 1
    iptc_values = _iptc_values(src, place)
    if iptc_values:
        had_iptc = not src.iptcData().empty()
        try:
            iim = je.iptc_iim(data if had_iptc else None, iptc_values, set_utf8=not had_iptc)
            segments = je.with_iptc(segments, iim, insert_at)
        except (MetadataError, exiv2.Exiv2Error) as e:
            log.info("IPTC place names not written: %s", e)
    return je.join_jpeg(segments, rest), old


def _modify_tiff_bytes(
    data: bytes, prediction: Prediction, place: PlaceNames
) -> tuple[bytes, dict]:
    """Return the TIFF ``data`` with the location written by exiv2 (strip/tile data is
    copied, never re-encoded); an existing XMP packet is kept as it is."""
    exiv2 = _exiv2()
    image = exiv2.ImageFactory.open(data)
    image.readMetadata()
    keep_xmp = bool(image.xmpPacket())
    iptc_values = _iptc_values(image, place)
    plan = _plan(prediction, place, exif=True, iptc=False)
    if keep_xmp:
        plan = _Plan(exif=plan.exif, xmp={}, iptc={})
        image.writeXmpFromPacket(True)
    old = _old_values(image, [*plan.xmp, *iptc_values])
    exif = image.exifData()
    if _find(exif, exiv2.ExifKey("Exif.GPSInfo.GPSVersionID")) is not None:
        plan.exif.pop("Exif.GPSInfo.GPSVersionID", None)
    _apply_plan(image, _Plan(exif=plan.exif, xmp=plan.xmp, iptc=iptc_values))
    if iptc_values and image.iptcData().count() == len(iptc_values):
        image.iptcData()["Iptc.Envelope.CharacterSet"] = "\x1b%G"
    image.writeMetadata()
    out = bytes(image.io().data())
    del image
    return out, old


def _metadata_dump(data: bytes) -> dict[str, str]:
    """Every tag exifread finds (maker notes included), as strings."""
    import exifread

    try:
        tags = exifread.process_file(
            io.BytesIO(data), details=True, truncate_tags=False, extract_thumbnail=False
        )
    except Exception as e:  # exifread raises many types on corrupt data
        raise MetadataError(f"unreadable metadata: {e}") from e
    return {k: str(getattr(v, "values", v)) for k, v in tags.items()}


#: Tags that legitimately change when GPS is added: the GPS block itself and positions.
_POSITIONAL = ("Image GPSInfo", "Image StripOffsets", "Thumbnail JPEGInterchangeFormat",
               "Thumbnail StripOffsets", "Image TileOffsets", "Image IPTC/NAA")  # fmt: skip


def altered_tags(before: bytes, after: bytes) -> list[str]:
    """Tags present in ``before`` whose value differs (or that vanished) in ``after``,
    ignoring the GPS block and pure position (offset) fields."""
    a, b = _metadata_dump(before), _metadata_dump(after)
    return [
        k
        for k, v in a.items()
        if not k.startswith("GPS ") and k not in _POSITIONAL and b.get(k) != v
    ]


def _modify_sidecar_bytes(
    existing: bytes | None, prediction: Prediction, place: PlaceNames
) -> tuple[bytes, dict]:
    exiv2 = _exiv2()
    if existing is None:
        image = exiv2.ImageFactory.create(exiv2.ImageType.xmp)
    else:
        image = exiv2.ImageFactory.open(existing)
        image.readMetadata()
    plan = _plan(prediction, place, exif=False, iptc=False)
    old = _apply_plan(image, plan)
    image.writeMetadata()
    out = bytes(image.io().data())
    del image
    return out, old


def _verify(data: bytes, prediction: Prediction) -> None:
    """Read the new bytes back independently (exifread); raise MetadataError unless they carry
    the location within 1e-6 degrees."""
    import exifread

    from geoscope_core.photos.metadata import _gps_from_exif

    try:
        tags = exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)
    except Exception as e:  # exifread raises many types on corrupt data
        raise _UnsafeInPlace(f"the written file does not read back ({e})") from e
    gps = _gps_from_exif(tags)
    if gps is None or not (
        math.isclose(gps[0], prediction.lat, abs_tol=1e-6)
        and math.isclose(gps[1], prediction.lon, abs_tol=1e-6)
    ):
        raise _UnsafeInPlace("GPS written in place would not read back")


# --------------------------------------------------------------------------- per file


def _is_read_only(st: os.stat_result, path: Path) -> bool:
    """True when the file is read-only by its mode bits (also for root, for whom access() lies)."""
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return True
    return not os.access(path, os.W_OK)


def _folder_writable(folder: Path) -> bool:
    try:
        st = folder.stat()
    except OSError:
        return False
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _check_unchanged(path: Path, st: os.stat_result) -> None:
    now = path.stat()
    if (now.st_size, now.st_mtime_ns, now.st_ino) != (st.st_size, st.st_mtime_ns, st.st_ino):
        raise MetadataError("file changed while GeoScope was writing it")


def _existing_gps_reason(meta: PhotoMetadata, options: WriteOptions) -> str:
    if meta.gps is None or options.overwrite_gps:
        return ""
    if meta.gps_is_estimate:
        return "already has a GeoScope estimate (use overwrite_gps to replace it)"
    return "already has camera GPS (use overwrite_gps to replace it)"


def _write_one(
    path: Path, prediction: Prediction, options: WriteOptions, journal: journal_mod.JournalWriter
) -> WriteResult:
    """Write one photo; symbolic links are followed (the link itself stays a link)."""
    try:
        real = Path(path).resolve(strict=True)
    except FileNotFoundError:
        return WriteResult(path, "failed", "file not found")
    except (OSError, RuntimeError) as e:  # RuntimeError: symlink loop (Python < 3.13)
        return WriteResult(path, "failed", f"cannot resolve path: {e}")
    result = _write_real(real, prediction, options, journal)
    return replace(result, path=Path(path))


def _write_real(
    path: Path, prediction: Prediction, options: WriteOptions, journal: journal_mod.JournalWriter
) -> WriteResult:
    if prediction.source == Source.EXIF:
        return WriteResult(path, "skipped", "location came from the photo's own GPS")
    if not (
        math.isfinite(prediction.lat)
        and math.isfinite(prediction.lon)
        and abs(prediction.lat) <= 90
        and abs(prediction.lon) <= 180
    ):
        return WriteResult(path, "failed", f"invalid location {prediction.lat}, {prediction.lon}")
    if prediction.confidence < options.min_confidence:
        return WriteResult(
            path,
            "skipped",
            f"confidence {prediction.confidence:.2f} below {options.min_confidence:.2f}",
        )
    try:
        st = path.stat()
    except FileNotFoundError:
        return WriteResult(path, "failed", "file not found")
    if not stat.S_ISREG(st.st_mode):
        return WriteResult(path, "failed", "not a regular file")
    fmt = format_of(path)
    if fmt is None:
        return WriteResult(path, "skipped", f"unsupported format {path.suffix or '(no suffix)'}")

    meta = read_metadata(path)  # MetadataError -> failed (caller)
    reason = _existing_gps_reason(meta, options)
    if reason:
        return WriteResult(path, "skipped", reason)

    why_sidecar = ""
    if options.sidecar == SidecarPolicy.ALWAYS:
        why_sidecar = "sidecar requested"
    elif fmt.write is WriteMode.SIDECAR:
        why_sidecar = f"{fmt.name} files are not modified in place"
    elif _is_read_only(st, path):
        why_sidecar = "file is read-only"
    elif st.st_size > MAX_IN_PLACE_BYTES:
        why_sidecar = "file too large to rewrite"
    if why_sidecar and options.sidecar == SidecarPolicy.NEVER:
        return WriteResult(path, "skipped", f"{why_sidecar} and sidecars are disabled")
    if not _folder_writable(path.parent):
        return WriteResult(path, "failed", "folder is read-only")

    place = place_for(prediction)
    if not why_sidecar:
        try:
            return _write_in_place(path, st, prediction, place, options, journal)
        except _UnsafeInPlace as e:
            if options.sidecar == SidecarPolicy.NEVER:
                return WriteResult(path, "skipped", f"{e}; sidecars are disabled")
            why_sidecar = str(e)
    return _write_sidecar(path, prediction, place, options, journal, why_sidecar)


def _prepare_in_place(data: bytes, prediction: Prediction, place: PlaceNames) -> tuple[bytes, dict]:
    """The new bytes of a photo (JPEG or TIFF) and the values replaced, checked: the
    location reads back (exifread) and no pre-existing tag changed (exifread dump,
    maker notes included); otherwise raises _UnsafeInPlace."""
    from geoscope_core.photos.jpegedit import split_jpeg

    exiv2 = _exiv2()
    if data[:3] == b"\xff\xd8\xff":
        split_jpeg(data)  # a corrupt JPEG structure is a failure, not a reason for a sidecar
    try:
        if data[:3] == b"\xff\xd8\xff":
            new, old = _modify_jpeg_bytes(data, prediction, place)
        elif data[:4] in (b"II*\x00", b"MM\x00*"):
            new, old = _modify_tiff_bytes(data, prediction, place)
        else:
            raise _UnsafeInPlace("content is neither JPEG nor TIFF")
    except exiv2.Exiv2Error as e:
        raise _UnsafeInPlace(f"cannot be edited in place ({e})") from e
    except _UnsafeInPlace:
        raise
    except MetadataError as e:
        raise _UnsafeInPlace(f"cannot be edited in place ({e})") from e
    _verify(new, prediction)
    changed = altered_tags(data, new)
    if changed:
        raise _UnsafeInPlace(
            f"writing in place would alter existing tags ({', '.join(changed[:3])})"
        )
    return new, old


def _write_in_place(
    path: Path,
    st: os.stat_result,
    prediction: Prediction,
    place: PlaceNames,
    options: WriteOptions,
    journal: journal_mod.JournalWriter,
) -> WriteResult:
    data = path.read_bytes()
    new, old = _prepare_in_place(data, prediction, place)
    if options.dry_run:
        return WriteResult(path, "would-write", "", path)
    before, after = journal_mod.sha256_bytes(data), journal_mod.sha256_bytes(new)
    _check_unchanged(path, st)
    backup = journal.backup(data, path.name)
    entry = {
        "path": str(path.resolve()),
        "target": str(path.resolve()),
        "kind": "in-place",
        "before_sha256": before,
        "after_sha256": after,
        "backup": backup,
        "sidecar_created": False,
        "mode": stat.S_IMODE(st.st_mode),
        "mtime_ns": st.st_mtime_ns,
        "old": old,
        "written": {"lat": prediction.lat, "lon": prediction.lon, "model": prediction.model},
    }
    times = (st.st_atime_ns, st.st_mtime_ns) if options.keep_mtime else None

    def commit() -> None:
        _check_unchanged(path, st)
        journal.record(entry)

    journal_mod.atomic_write_bytes(
        path,
        new,
        mode=stat.S_IMODE(st.st_mode),
        owner=(st.st_uid, st.st_gid),
        times_ns=times,
        before_replace=commit,
    )
    return WriteResult(path, "written", "", path)


def _write_sidecar(
    path: Path,
    prediction: Prediction,
    place: PlaceNames,
    options: WriteOptions,
    journal: journal_mod.JournalWriter,
    why: str,
) -> WriteResult:
    exiv2 = _exiv2()
    target = sidecar_path(path)
    existing: bytes | None = None
    st: os.stat_result | None = None
    if target.exists():
        st = target.stat()
        if _is_read_only(st, target):
            return WriteResult(path, "failed", "existing sidecar is read-only", target)
        existing = target.read_bytes()
    try:
        new, old = _modify_sidecar_bytes(existing, prediction, place)
    except exiv2.Exiv2Error as e:
        raise MetadataError(f"cannot update sidecar {target.name}: {e}") from e
    if options.dry_run:
        return WriteResult(path, "would-write", why, target)
    entry: dict[str, Any] = {
        "path": str(path.resolve()),
        "target": str(target.resolve()),
        "kind": "sidecar",
        "before_sha256": None,
        "after_sha256": journal_mod.sha256_bytes(new),
        "backup": None,
        "sidecar_created": existing is None,
        "old": old,
        "written": {"lat": prediction.lat, "lon": prediction.lon, "model": prediction.model},
    }
    mode = 0o644
    times = None
    if existing is not None and st is not None:
        entry["before_sha256"] = journal_mod.sha256_bytes(existing)
        entry["backup"] = journal.backup(existing, target.name)
        entry["mode"] = mode = stat.S_IMODE(st.st_mode)
        entry["mtime_ns"] = st.st_mtime_ns
        if options.keep_mtime:
            times = (st.st_atime_ns, st.st_mtime_ns)

    def commit() -> None:
        if existing is None and target.exists():
            raise MetadataError("a sidecar appeared while GeoScope was writing it")
        if st is not None:
            _check_unchanged(target, st)
        journal.record(entry)

    journal_mod.atomic_write_bytes(target, new, mode=mode, times_ns=times, before_replace=commit)
    return WriteResult(path, "sidecar", why, target)


def write_locations(
    items: Iterable[tuple[Path, Prediction]],
    options: WriteOptions = WriteOptions(),
    journal_dir: Path | None = None,
) -> WriteReport:
    """Write each prediction's location into its photo (or the photo's XMP sidecar).

    Per-file problems become "failed"/"skipped" results and the batch goes on.
    Changes are recorded in a journal in ``journal_dir`` (default
    ``settings.cache_dir()/"journals"``), created only if something is written;
    pass it to :func:`geoscope_core.photos.journal.undo` to restore the originals.
    """
    writer = journal_mod.JournalWriter(Path(journal_dir) if journal_dir else default_journal_dir())
    results: list[WriteResult] = []
    for path, prediction in items:
        path = Path(path)
        try:
            result = _write_one(path, prediction, options, writer)
        except MetadataError as e:
            result = WriteResult(path, "failed", _short(str(e), path))
        except OSError as e:
            what = e.strerror or type(e).__name__
            result = WriteResult(path, "failed", f"{what}: {e.filename or path}")
        except Exception as e:  # the per-file edge of a batch: report, go on
            log.exception("writing %s failed", path)
            result = WriteResult(path, "failed", f"{type(e).__name__}: {e}")
        if result.action == "failed":
            log.warning("%s: %s", path, result.reason)
        results.append(result)
    return WriteReport(results=results, journal=writer.path if writer.opened else None)


def _short(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
