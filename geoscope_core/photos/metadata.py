"""Reading the metadata GeoScope needs from a photo (no torch, no pixel decoding).

EXIF is read with exifread (GPS, DateTimeOriginal, camera make/model/serial,
orientation). GPS is also looked for in an XMP sidecar ``photo.ext.xmp``
(darktable / digiKam convention), which is where GeoScope writes estimates for
the formats it does not modify in place (``geoscope_core.formats``). A location
GeoScope wrote itself is recognised by its estimate note (EXIF
``GPSAreaInformation``; ``GPSProcessingMethod`` in files written by older
versions) or its XMP estimate mark, so it is never mistaken for a camera fix.
Any GPS a common reader sees counts: EXIF rationals, DOUBLE or FLOAT values,
and XMP ``exif:GPS*`` embedded in the file.

exifread keeps parser state in module globals (its HEIC reader gives wrong
results when two threads read at once), so every exifread call goes through
:func:`exif_tags`, which serialises them.

XMP (GeoScope's fields: coordinates, the estimate mark, place names) is read last in
this module. Packets are parsed with the standard library's expat (no entity
expansion attacks since expat 2.4, no external entities), not exiv2, whose namespace
registry is process-wide and would be changed by odd packets.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from geoscope_core.errors import MetadataError
from geoscope_core.formats import format_from_header, format_of
from geoscope_core.fsio import sha256_fileobj
from geoscope_core.photos.tags import (
    BY_FIELD,
    NAMESPACE_BY_URI,
    NOTE_KEYS_EXIF,
    NOTE_KEYS_XMP,
    Field,
    is_estimate_note,
)

log = logging.getLogger(__name__)

_EXIFREAD_LOCK = threading.Lock()
#: How far into a file an embedded XMP packet is looked for (bytes).
XMP_SCAN_BYTES = 4 << 20


@dataclass(frozen=True)
class FileFingerprint:
    """Which file content a scan saw: size (bytes), mtime (ns) and SHA-256 (hex)."""

    size: int
    mtime_ns: int
    sha256: str

    def differs(self, size: int, mtime_ns: int, sha256: str | None = None) -> str:
        """Why a file of ``size`` bytes modified at ``mtime_ns`` (and, unless None, whose
        content hashes to ``sha256``) is not the file fingerprinted ("" when it is)."""
        if size != self.size:
            return f"its size changed since the scan ({self.size} -> {size} bytes)"
        if mtime_ns != self.mtime_ns:
            return "it was modified since the scan"
        if sha256 is not None and sha256 != self.sha256:
            return "its content changed since the scan"
        return ""


@dataclass(frozen=True)
class PhotoMetadata:
    """What GeoScope knows about a photo before looking at its pixels.

    ``gps`` is ``(lat, lon)`` in degrees (WGS84) or None when the photo has no
    location; ``gps_is_estimate`` is True when that location was written by
    GeoScope (an estimate, not a camera fix); ``taken_at`` is EXIF
    DateTimeOriginal (with SubSecTimeOriginal) as a naive camera-clock time;
    ``utc_offset_min`` the OffsetTimeOriginal that goes with it, minutes east of UTC
    (None when the camera wrote none); ``gps_utc`` the GPS fix time (GPSDateStamp +
    GPSTimeStamp, naive UTC) and ``gps_altitude_m`` its altitude (metres above sea
    level), both of camera GPS only (None when absent or for an estimate); ``camera``
    is "make model serial" ("" when unknown); ``orientation`` is the EXIF orientation 1-8;
    ``fingerprint`` identifies the file content read (checked again before writing);
    ``serial`` is the camera body's serial number (also the end of ``camera``).
    """

    path: Path
    gps: tuple[float, float] | None = None
    gps_is_estimate: bool = False
    taken_at: datetime | None = None
    camera: str = ""
    orientation: int = 1
    utc_offset_min: int | None = None
    gps_utc: datetime | None = None
    gps_altitude_m: float | None = None
    fingerprint: FileFingerprint | None = None
    serial: str = ""

    def camera_text(self, include_serial: bool = False) -> str:
        """``camera`` without the body serial number unless ``include_serial`` (a
        serial identifies its owner, so it leaves the machine only when asked)."""
        if include_serial or not self.serial or not self.camera.endswith(self.serial):
            return self.camera
        return self.camera[: -len(self.serial)].rstrip()


def sidecar_path(path: Path) -> Path:
    """The XMP sidecar of ``path``: ``photo.ext.xmp`` next to it."""
    return path.with_name(path.name + ".xmp")


def _check_signature(path: Path, head: bytes) -> None:
    if not head:
        raise MetadataError(f"{path}: empty file")
    if format_from_header(head) is None:
        raise MetadataError(f"{path}: not a supported image format (unrecognised file header)")


def _raw_exif_tags(path: Path) -> dict[str, Any]:
    """exifread's tags of a camera raw file whose layout exifread does not know (RAF,
    CR3), read through exiv2 (``exiv2io.raw_exif_jpeg``); {} for any other file."""
    fmt = format_of(path)
    if fmt is None or not fmt.raw:
        return {}
    import io

    from geoscope_core.photos.exiv2io import raw_exif_jpeg

    return exif_tags(io.BytesIO(raw_exif_jpeg(path)))


def exif_tags(f: BinaryIO, *, details: bool = False) -> dict[str, Any]:
    """exifread's tags of the open binary file ``f`` (thread-safe; see module docstring).
    Raises whatever exifread raises on corrupt data."""
    import exifread

    with _EXIFREAD_LOCK:
        return exifread.process_file(
            f, details=details, truncate_tags=not details, extract_thumbnail=False
        )


def _ratio_to_float(v: Any) -> float:
    if isinstance(v, tuple) and len(v) == 1:  # exifread gives DOUBLE/FLOAT as 1-tuples
        v = v[0]
    num = getattr(v, "num", None)
    den = getattr(v, "den", None)
    if num is not None and den is not None:
        if den == 0:
            raise ValueError("zero denominator")
        return float(num) / float(den)
    return float(v)


def _dms_to_degrees(values: Any, ref: str, negative_ref: str) -> float:
    """Degrees of a GPS coordinate as ExifTool reads it: the size of d + m/60 + s/3600
    (signed rationals included) with the sign of its reference (S or W negative)."""
    parts = [_ratio_to_float(v) for v in list(values)[:3]]
    while len(parts) < 3:
        parts.append(0.0)
    deg = abs(parts[0] + parts[1] / 60.0 + parts[2] / 3600.0)
    if ref.strip().upper().startswith(negative_ref):
        deg = -deg
    return deg


def camera_name(make: str, model: str, serial: str = "") -> str:
    """'make model serial', the make left out where the model already starts with its
    first word, as photo managers name cameras: ('Canon', 'Canon EOS 40D') -> 'Canon EOS
    40D', ('NIKON CORPORATION', 'NIKON D7000') -> 'NIKON D7000', ('Apple', 'iPhone 12')
    -> 'Apple iPhone 12'."""
    brand = make.split()[0].casefold() if make.split() else ""
    if brand and model.casefold().startswith(brand):
        make = ""
    return " ".join(s for s in (make, model, serial) if s)


def _tag_str(tags: dict[str, Any], key: str) -> str:
    tag = tags.get(key)
    if tag is None:
        return ""
    try:
        value = tag.values
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, list):
            # exifread gives UNDEFINED fields (e.g. GPSProcessingMethod) as byte lists
            if all(isinstance(x, int) for x in value):
                value = bytes(x & 0xFF for x in value).decode("utf-8", "replace")
            else:
                value = " ".join(str(x) for x in value)
        return str(value).replace("\x00", " ").strip()
    except (TypeError, ValueError) as e:
        log.debug("unreadable tag %s: %s", key, e)
        return ""


def gps_from_exif(tags: dict[str, Any]) -> tuple[float, float] | None:
    """``(lat, lon)`` in degrees from exifread tags, or None when absent, unusable or
    the all-zero block cameras write without a fix. Rational, DOUBLE and FLOAT
    coordinates are read alike."""
    lat_t = tags.get("GPS GPSLatitude")
    lon_t = tags.get("GPS GPSLongitude")
    if lat_t is None or lon_t is None:
        return None
    try:
        lat = _dms_to_degrees(lat_t.values, _tag_str(tags, "GPS GPSLatitudeRef"), "S")
        lon = _dms_to_degrees(lon_t.values, _tag_str(tags, "GPS GPSLongitudeRef"), "W")
    except (TypeError, ValueError, ZeroDivisionError, AttributeError) as e:
        log.debug("unusable GPS values: %s", e)
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    if lat == 0.0 and lon == 0.0:
        # An all-zero GPS block is what many cameras write without a fix.
        return None
    return (lat, lon)


def _gps_altitude(tags: dict[str, Any]) -> float | None:
    """GPSAltitude (metres; negative below sea level by GPSAltitudeRef 1), or None."""
    tag = tags.get("GPS GPSAltitude")
    if tag is None:
        return None
    try:
        alt = _ratio_to_float(tag.values[0])
        ref = tags.get("GPS GPSAltitudeRef")
        below = ref is not None and int(ref.values[0]) == 1
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, IndexError):
        return None
    if not math.isfinite(alt):
        return None
    return -alt if below else alt


_OFFSET = re.compile(r"^\s*([+-])(\d{1,2}):?(\d{2})\s*$")


def parse_utc_offset(text: str) -> int | None:
    """Minutes east of UTC of an EXIF OffsetTime value (``"+02:00"``, ``"-0530"``, ``"Z"``);
    None for an empty or malformed value (cameras write ``"   :  "`` when unset)."""
    text = text.strip()
    if text.upper() == "Z":
        return 0
    m = _OFFSET.match(text)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if minutes > 14 * 60:
        return None
    return -minutes if m.group(1) == "-" else minutes


def _with_subsec(dt: datetime, subsec: str) -> datetime:
    """``dt`` plus EXIF SubSecTime digits (``"5"`` is 0.5 s, ``"042"`` 0.042 s)."""
    digits = subsec.strip().split(" ")[0]
    if not digits.isdigit():
        return dt
    return dt.replace(microsecond=round(float("0." + digits) * 1e6) % 1_000_000)


def _gps_utc(tags: dict[str, Any]) -> datetime | None:
    date = _tag_str(tags, "GPS GPSDate")
    stamp = tags.get("GPS GPSTimeStamp")
    if not date or stamp is None:
        return None
    try:
        h, m, s = (_ratio_to_float(v) for v in list(stamp.values)[:3])
        day = datetime.strptime(date.strip()[:10], "%Y:%m:%d")
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        return None
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61):
        return None
    return day + timedelta(hours=h, minutes=m, seconds=s)


def _parse_datetime(text: str) -> datetime | None:
    text = text.strip()
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return datetime.strptime(text[: len("YYYY:MM:DD HH:MM:SS")], fmt)
        except ValueError:
            continue
    return None


def read_sidecar_gps(xmp_path: Path) -> tuple[tuple[float, float] | None, bool]:
    """GPS ``((lat, lon) | None, is_estimate)`` from an XMP sidecar file.

    Raises MetadataError when the sidecar exists but cannot be parsed.
    """
    try:
        text = xmp_path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise MetadataError(f"{xmp_path}: unreadable XMP sidecar: {e}") from e
    try:
        return xmp_gps(decode_xmp(text))
    except MetadataError as e:
        raise MetadataError(f"{xmp_path}: unreadable XMP sidecar: {e}") from e


def _xmp_scan(f: BinaryIO, head: bytes) -> bytes:
    """The leading bytes of an open file (at its start) that an embedded XMP packet can
    be in: a JPEG's marker segments up to its image data (tens of KB: the pixels are
    left to the decoder, which reads them once), else the first XMP_SCAN_BYTES."""
    if not head.startswith(b"\xff\xd8"):
        return f.read(XMP_SCAN_BYTES)
    out = bytearray(f.read(2))
    while len(out) < XMP_SCAN_BYTES:
        marker = f.read(4)
        if len(marker) < 4 or marker[0] != 0xFF or marker[1] in (0xFF, 0x00):
            break  # not a marker where one must be: scan the plain leading bytes
        out += marker
        if marker[1] in (0xDA, 0xD9):  # start of scan / end of image: no segment follows
            return bytes(out)
        out += f.read(max(0, int.from_bytes(marker[2:], "big") - 2))
    f.seek(0)
    return f.read(XMP_SCAN_BYTES)


def read_metadata(path: Path) -> PhotoMetadata:
    """Read GPS, capture time, camera and orientation of ``path``.

    Never decodes pixels. GPS embedded in the file wins over a sidecar's.
    Raises MetadataError when the file is missing, empty, not an image or its
    metadata cannot be parsed; a photo that simply has no EXIF gives a
    PhotoMetadata with empty fields.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            head = f.read(32)
            _check_signature(path, head)
            f.seek(0)
            tags = exif_tags(f) or _raw_exif_tags(path)
            f.seek(0)
            packet = embedded_xmp(_xmp_scan(f, head))
            f.seek(0)
            fingerprint = FileFingerprint(st.st_size, st.st_mtime_ns, sha256_fileobj(f))
    except MetadataError:
        raise
    except OSError as e:
        raise MetadataError(f"{path}: cannot read file: {e.strerror or e}") from e
    except Exception as e:  # exifread raises many types on corrupt data
        raise MetadataError(f"{path}: corrupt metadata ({type(e).__name__}: {e})") from e

    gps = gps_from_exif(tags)
    is_estimate = gps is not None and any(
        is_estimate_note(_tag_str(tags, k)) for k in NOTE_KEYS_EXIF
    )
    if gps is None and packet is not None:
        try:
            gps, is_estimate = xmp_gps(decode_xmp(packet))
        except MetadataError as e:
            log.info("%s: embedded XMP ignored: %s", path, e)
    xmp_path = sidecar_path(path)
    if gps is None and xmp_path.is_file():
        try:
            gps, is_estimate = read_sidecar_gps(xmp_path)
        except MetadataError as e:
            log.warning("%s", e)
            gps, is_estimate = None, False

    taken_at = None
    utc_offset = None
    for key, sub, off in (
        ("EXIF DateTimeOriginal", "EXIF SubSecTimeOriginal", "EXIF OffsetTimeOriginal"),
        ("EXIF DateTimeDigitized", "EXIF SubSecTimeDigitized", "EXIF OffsetTimeDigitized"),
        ("Image DateTime", "EXIF SubSecTime", "EXIF OffsetTime"),
    ):
        text = _tag_str(tags, key)
        if text:
            taken_at = _parse_datetime(text)
            if taken_at is not None:
                taken_at = _with_subsec(taken_at, _tag_str(tags, sub))
                utc_offset = parse_utc_offset(_tag_str(tags, off))
                break

    serial = _tag_str(tags, "EXIF BodySerialNumber")
    camera = camera_name(_tag_str(tags, "Image Make"), _tag_str(tags, "Image Model"), serial)
    orientation = 1
    tag = tags.get("Image Orientation")
    if tag is not None:
        try:
            value = int(tag.values[0])
            if 1 <= value <= 8:
                orientation = value
        except (TypeError, ValueError, IndexError):
            pass
    # A GeoScope estimate's GPS time and altitude are the track's, never a camera's fix.
    camera_gps = gps is not None and not is_estimate
    return PhotoMetadata(
        path=path,
        gps=gps,
        gps_is_estimate=bool(is_estimate),
        taken_at=taken_at,
        camera=camera,
        orientation=orientation,
        utc_offset_min=utc_offset,
        gps_utc=_gps_utc(tags) if camera_gps else None,
        gps_altitude_m=_gps_altitude(tags) if camera_gps else None,
        fingerprint=fingerprint,
        serial=serial,
    )


# --------------------------------------------------------------------------- XMP


_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_NUM = r"(\d+(?:\.\d+)?)"
_XMP_COORD = re.compile(rf"^\s*{_NUM}(?:,{_NUM})?(?:,{_NUM})?\s*([NSEW])\s*$")


def parse_xmp_coordinate(text: str) -> float:
    """Parse an XMP GPS coordinate (``"45,48.2057N"`` or ``"45,48,12.3N"``) to degrees."""
    m = _XMP_COORD.match(text)
    if not m:
        try:
            return float(text)
        except ValueError as e:
            raise MetadataError(f"unreadable XMP coordinate {text!r}") from e
    deg = float(m.group(1))
    if m.group(2):
        deg += float(m.group(2)) / 60.0
    if m.group(3):
        deg += float(m.group(3)) / 3600.0
    return -deg if m.group(4) in "SW" else deg


def xmp_gps(values: dict[str, str]) -> tuple[tuple[float, float] | None, bool]:
    """GPS ``((lat, lon) | None, is_estimate)`` from XMP values (exiv2 key -> string).
    Raises MetadataError on an unreadable coordinate."""
    is_estimate = values.get(BY_FIELD[Field.ESTIMATE].xmp, "").lower() == "true" or any(
        is_estimate_note(values.get(k, "")) for k in NOTE_KEYS_XMP
    )
    lat_s = values.get(BY_FIELD[Field.LATITUDE].xmp)
    lon_s = values.get(BY_FIELD[Field.LONGITUDE].xmp)
    if not lat_s or not lon_s:
        return None, is_estimate
    lat = parse_xmp_coordinate(lat_s)
    lon = parse_xmp_coordinate(lon_s)
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None, is_estimate
    if lat == 0.0 and lon == 0.0:
        return None, is_estimate
    return (lat, lon), is_estimate


def decode_xmp(packet: str) -> dict[str, str]:
    """exiv2-style key -> text of the properties of GeoScope's namespaces
    (``tags.XMP_NAMESPACES``) in an XMP packet: simple properties in attribute or
    element form, and the members of structures (``Xmp.iptcExt.LocationCreated[1]/
    iptcExt:City``), a structure's own members only where they nest inside it.

    Parsed with the standard library's expat (no entity expansion attacks since
    expat 2.4, no external entities) rather than exiv2, whose namespace registry is
    process-wide and would be changed by odd packets. MetadataError if not XML.
    """
    root = _xmp_root(packet)
    out: dict[str, str] = {}

    def name(tag: str, sep: str) -> str | None:
        """``prefix<sep>Name`` (exiv2 prefix) of a tag in a known namespace."""
        if not tag.startswith("{"):
            return None
        uri, _, local = tag[1:].partition("}")
        ns = NAMESPACE_BY_URI.get(uri)
        return f"{ns.exiv2}{sep}{local}" if ns else None

    def properties(node: ET.Element, base: str, sep: str) -> None:
        """The properties of a description or structure ``node`` under key ``base``."""
        for attr, value in node.attrib.items():
            n = name(attr, sep)
            if n:
                out.setdefault(base + n, value)
        for el in node:
            n = name(el.tag, sep)
            if n is None:
                continue
            key = base + n
            if len(el) == 0:
                if el.text and el.text.strip():
                    out.setdefault(key, el.text.strip())
                elif el.get(f"{_RDF}parseType") == "Resource":
                    properties(el, key + "/", ":")
                continue
            container = el[0]
            if container.tag in (f"{_RDF}Bag", f"{_RDF}Seq", f"{_RDF}Alt"):
                for i, li in enumerate(container.findall(f"{_RDF}li"), start=1):
                    structure(li, f"{key}[{i}]")
            elif el.get(f"{_RDF}parseType") == "Resource":
                properties(el, key + "/", ":")
            else:
                structure(el, key)

    def structure(node: ET.Element, key: str) -> None:
        """A structure value: parseType="Resource", attributes, or an rdf:Description."""
        desc = node.find(f"{_RDF}Description")
        properties(desc if desc is not None else node, key + "/", ":")

    for rdf in root.iter(f"{_RDF}RDF"):
        for desc in rdf.findall(f"{_RDF}Description"):
            properties(desc, "Xmp.", ".")
    return out


_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _xmp_root(packet: str) -> ET.Element:
    body = packet[packet.find("<x:xmpmeta") :] if "<x:xmpmeta" in packet else packet
    end = body.rfind("</x:xmpmeta>")
    if end >= 0:
        body = body[: end + len("</x:xmpmeta>")]
    try:
        return ET.fromstring(body)
    except ET.ParseError as e:
        raise MetadataError(f"invalid XMP packet: {e}") from e


def _exiv2_key(tag: str) -> str:
    """``{uri}name`` as an exiv2 key when GeoScope knows the namespace, else with the
    URI's trailing ``/`` dropped (exiv2 adds one to some, e.g. MicrosoftPhoto's)."""
    uri, _, name = tag[1:].partition("}")
    ns = NAMESPACE_BY_URI.get(uri)
    return f"Xmp.{ns.exiv2}.{name}" if ns else f"{{{uri.rstrip('/')}}}{name}"


def xmp_properties(packet: str) -> Counter[tuple[str, str]]:
    """Every value an XMP packet holds, as (top-level property, text) pairs with their
    counts: attribute and element forms alike, array items, qualifiers and the
    content of ``rdf:parseType="Literal"`` properties. Properties of the namespaces
    GeoScope reads are named by exiv2 key (``Xmp.exif.GPSLatitude``), others by
    ``{uri}name``. MetadataError when the packet is not well-formed XML."""
    out: Counter[tuple[str, str]] = Counter()

    def visit(el: ET.Element, prop: str | None) -> None:
        rdf = el.tag.startswith(_RDF)
        here = prop if rdf or prop is not None else _exiv2_key(el.tag)
        for attr, value in el.attrib.items():
            if attr == _XML_LANG or (attr.startswith(_RDF) and attr != f"{_RDF}resource"):
                continue  # a language qualifies its text, which counts
            out[(here or _exiv2_key(attr), value)] += 1
        if here is not None and el.text and el.text.strip():
            out[(here, el.text.strip())] += 1
        for child in el:
            visit(child, here)

    root = _xmp_root(packet)
    descriptions = [d for rdf in root.iter(f"{_RDF}RDF") for d in rdf]
    for description in descriptions:
        for attr, value in description.attrib.items():
            if not attr.startswith(_RDF):
                out[(_exiv2_key(attr), value)] += 1
        for child in description:
            visit(child, None)
    return out


def lost_properties(old: str, new: str, replaced: Callable[[str], bool]) -> list[str]:
    """The properties of the XMP packet ``old`` with a value that the packet ``new``
    no longer holds, apart from those ``replaced`` accepts (by key, see
    :func:`xmp_properties`). MetadataError when either is not well-formed XML."""
    missing = xmp_properties(old) - xmp_properties(new)
    return sorted({k for k, _ in missing if not replaced(k)})


def embedded_xmp(head: bytes) -> str | None:
    """The first XMP packet (``<x:xmpmeta ...</x:xmpmeta>``) in a file's leading bytes,
    found by packet scanning as the XMP specification allows for any format."""
    start = head.find(b"<x:xmpmeta")
    if start < 0:
        return None
    end = head.find(b"</x:xmpmeta>", start)
    if end < 0:
        return None
    return head[start : end + len(b"</x:xmpmeta>")].decode("utf-8", "replace")
