"""Append-only metadata edits of JPEG files: existing bytes never move.

Why not let exiv2 rewrite the whole Exif block: exiv2 re-lays out the Exif
TIFF structure when a GPS IFD is added, which moves maker notes. Many maker
notes (Canon, Sanyo, Nikon preview IFDs, Olympus, ...) hold absolute offsets, so
a moved maker note reads back with different values (measured on the
``fixtures/exif-samples`` JPEGs with ExifTool: 22 of 97 files had maker-note
values changed, and a corrupt XMP packet was silently dropped). Here instead:

- Exif: the new GPS IFD (and, when the photo had none, a copy of IFD0 with one
  more entry, the GPSInfo pointer) is appended at the end of the Exif TIFF
  block; only the 4-byte IFD0 offset in the TIFF header (or the GPSInfo
  pointer's value) changes. Every other byte, maker notes included, stays at
  its offset. The new GPS IFD replaces the old one whole, so no field of an
  earlier fix (status, altitude, time stamp) is left beside the estimate.
- XMP: the photo's packet, with the estimate merged in by exiv2's
  ``XmpParser`` (every existing property kept), replaces the old XMP segment;
  a photo without XMP gets a new segment.
- IPTC: the IIM block is serialised by exiv2 (into a scratch JPEG) and put in
  a new APP13 segment, or replaces the IPTC resource of the existing Photoshop
  IRB, keeping the other resources.
- Everything from the first SOS marker on (the compressed image) is copied
  verbatim.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geoscope_core.errors import MetadataError
from geoscope_core.photos.tags import TAGS, Field, dms, hms_ms

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
MAX_SEGMENT_PAYLOAD = 65533  # a segment's 2-byte length counts itself

# TIFF field types
BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED = 1, 2, 3, 4, 5, 7
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
GPS_IFD_TAG = 0x8825


@dataclass(frozen=True)
class TiffEntry:
    """One IFD entry to write: ``tag``, TIFF ``type``, ``count`` and the raw value bytes
    (in the block's byte order; any length)."""

    tag: int
    type: int
    count: int
    value: bytes


@dataclass(frozen=True)
class Segment:
    """A JPEG marker segment: ``marker`` (0xE1 for APP1, ...) and its payload
    (without the marker and the length field)."""

    marker: int
    payload: bytes

    def encode(self) -> bytes:
        if len(self.payload) > MAX_SEGMENT_PAYLOAD:
            raise MetadataError(f"metadata segment too large ({len(self.payload)} bytes)")
        return bytes((0xFF, self.marker)) + struct.pack(">H", len(self.payload) + 2) + self.payload


def split_jpeg(data: bytes) -> tuple[list[Segment], bytes]:
    """Split ``data`` into the header segments before the first SOS and the rest
    (SOS onwards, copied verbatim). Raises MetadataError on a malformed header."""
    if data[:2] != b"\xff\xd8":
        raise MetadataError("not a JPEG file (no SOI marker)")
    segments: list[Segment] = []
    i = 2
    n = len(data)
    while True:
        if i >= n:
            raise MetadataError("truncated JPEG header (no image data)")
        if data[i] != 0xFF:
            raise MetadataError(f"corrupt JPEG header at byte {i}")
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            raise MetadataError("truncated JPEG header")
        marker = data[i]
        i += 1
        if marker == 0xDA:  # SOS: the rest is entropy-coded data
            return segments, data[i - 2 :]
        if marker == 0xD9:
            raise MetadataError("JPEG has no image data (EOI before SOS)")
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            raise MetadataError(f"unexpected marker 0x{marker:02X} in JPEG header")
        if i + 2 > n:
            raise MetadataError("truncated JPEG segment")
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2:
            raise MetadataError(f"corrupt JPEG segment length at byte {i}")
        if i + length > n:
            raise MetadataError(f"truncated JPEG segment at byte {i}")
        segments.append(Segment(marker, data[i + 2 : i + length]))
        i += length


def join_jpeg(segments: Sequence[Segment], rest: bytes) -> bytes:
    return b"\xff\xd8" + b"".join(s.encode() for s in segments) + rest


# --------------------------------------------------------------------------- TIFF / Exif


def _pad_even(buf: bytearray) -> None:
    if len(buf) % 2:
        buf.append(0)


def _encode_ifd(entries: Sequence[TiffEntry], at: int, bo: str, next_ifd: int) -> bytes:
    """Encode an IFD placed at offset ``at`` followed by its out-of-line values."""
    entries = sorted(entries, key=lambda e: e.tag)
    head = struct.pack(bo + "H", len(entries))
    table = bytearray()
    data = bytearray()
    data_start = at + 2 + 12 * len(entries) + 4
    for e in entries:
        if len(e.value) <= 4:
            field_value = e.value.ljust(4, b"\x00")
        else:
            field_value = struct.pack(bo + "I", data_start + len(data))
            data += e.value
            _pad_even(data)
        table += struct.pack(bo + "HHI", e.tag, e.type, e.count) + field_value
    return head + bytes(table) + struct.pack(bo + "I", next_ifd) + bytes(data)


def _tiff_byte_order(tiff: bytes) -> str:
    if tiff[:4] == b"II*\x00":
        return "<"
    if tiff[:4] == b"MM\x00*":
        return ">"
    raise MetadataError("Exif block is not a TIFF structure")


def _read_ifd(tiff: bytes, offset: int, bo: str) -> tuple[list[bytes], int]:
    """Raw 12-byte entries of the IFD at ``offset`` and its next-IFD offset."""
    if offset < 8 or offset + 2 > len(tiff):
        raise MetadataError("Exif IFD offset out of range")
    (count,) = struct.unpack(bo + "H", tiff[offset : offset + 2])
    end = offset + 2 + 12 * count
    if count == 0 or count > 1000 or end + 4 > len(tiff):
        raise MetadataError("corrupt Exif IFD")
    raw = [tiff[offset + 2 + 12 * k : offset + 14 + 12 * k] for k in range(count)]
    (next_ifd,) = struct.unpack(bo + "I", tiff[end : end + 4])
    return raw, next_ifd


def tiff_with_gps(
    tiff: bytes,
    gps: Sequence[TiffEntry],
    bo_hint: str = ">",
    ifd0: Sequence[TiffEntry] = (),
) -> bytes:
    """Return the Exif TIFF block ``tiff`` with a new GPS IFD appended.

    Existing bytes keep their offsets: the GPS IFD (and, if IFD0 had no GPSInfo
    pointer, an enlarged copy of IFD0) go at the end; only the IFD0 offset in
    the header, or the GPSInfo pointer's value, is patched. An empty ``tiff``
    creates a minimal block. ``gps`` values must be in the block's byte order
    (see :func:`gps_entries`).
    """
    if not tiff:
        bo = bo_hint
        header = (b"MM\x00*" if bo == ">" else b"II*\x00") + struct.pack(bo + "I", 8)
        placeholder = TiffEntry(GPS_IFD_TAG, LONG, 1, b"\x00" * 4)
        first = bytearray(_encode_ifd([*ifd0, placeholder], 8, bo, 0))
        _pad_even(first)
        gps_at = 8 + len(first)
        pointer = TiffEntry(GPS_IFD_TAG, LONG, 1, struct.pack(bo + "I", gps_at))
        first = bytearray(_encode_ifd([*ifd0, pointer], 8, bo, 0))
        _pad_even(first)
        return header + bytes(first) + _encode_ifd(gps, gps_at, bo, 0)
    bo = _tiff_byte_order(tiff)
    (ifd0_at,) = struct.unpack(bo + "I", tiff[4:8])
    raw, next_ifd = _read_ifd(tiff, ifd0_at, bo)
    pointer_k = None
    for k, entry in enumerate(raw):
        if struct.unpack(bo + "H", entry[:2])[0] == GPS_IFD_TAG:
            pointer_k = k
    out = bytearray(tiff)
    _pad_even(out)
    if pointer_k is not None:
        # Repoint the existing GPSInfo entry (same size: rewrite its 12 bytes in place).
        gps_at = len(out)
        out += _encode_ifd(gps, gps_at, bo, 0)
        entry_at = ifd0_at + 2 + 12 * pointer_k
        out[entry_at : entry_at + 12] = struct.pack(bo + "HHII", GPS_IFD_TAG, LONG, 1, gps_at)
        return bytes(out)
    new_ifd0_at = len(out)
    entries: list[TiffEntry] = []
    for e in raw:
        tag, typ, count = struct.unpack(bo + "HHI", e[:8])
        entries.append(TiffEntry(tag, typ, count, e[8:12]))  # inline or offset, verbatim
    gps_at = new_ifd0_at + 2 + 12 * (len(entries) + 1) + 4  # every IFD0 value is inline
    entries.append(TiffEntry(GPS_IFD_TAG, LONG, 1, struct.pack(bo + "I", gps_at)))
    out += _encode_ifd(entries, new_ifd0_at, bo, next_ifd)
    out += _encode_ifd(gps, gps_at, bo, 0)
    # Readers that bound IFD1 by the space after IFD0 (ExifTool) must find it whole.
    ifd1_size = _ifd_size(tiff, next_ifd, bo)
    if len(out) - new_ifd0_at < ifd1_size:
        out += bytes(ifd1_size - (len(out) - new_ifd0_at))
    out[4:8] = struct.pack(bo + "I", new_ifd0_at)
    return bytes(out)


def _ifd_size(tiff: bytes, offset: int, bo: str) -> int:
    """Bytes of the IFD table at ``offset`` (count, entries, next pointer); 0 if none."""
    if offset < 8 or offset + 2 > len(tiff):
        return 0
    (count,) = struct.unpack(bo + "H", tiff[offset : offset + 2])
    return 2 + 12 * count + 4


def _rational3(value: float, bo: str) -> bytes:
    deg, minutes, micro = dms(value)
    return struct.pack(bo + "6I", deg, 1, minutes, 1, micro, 1_000_000)


def gps_entries(values: dict[Field, Any], bo: str) -> list[TiffEntry]:
    """The GPS IFD entries for ``values`` (see ``tags.TAGS``) in byte order ``bo``:
    coordinates as D/M/S rationals (micro-second precision) with their refs, the
    version, datum, positioning error (metres), the estimate note (ASCII), and for a
    placement by time its UTC date and time and altitude (millimetres)."""
    out: list[TiffEntry] = []
    for spec in TAGS:
        if spec.field not in values or spec.exif_id is None:
            continue
        v = values[spec.field]
        tag = spec.exif_id
        if spec.field in (Field.LATITUDE, Field.LONGITUDE):
            ref = (b"N" if v >= 0 else b"S") if spec.field is Field.LATITUDE else None
            ref = ref or (b"E" if v >= 0 else b"W")
            out.append(TiffEntry(tag - 1, ASCII, 2, ref + b"\x00"))
            out.append(TiffEntry(tag, RATIONAL, 3, _rational3(v, bo)))
        elif spec.field is Field.GPS_VERSION:
            out.append(TiffEntry(tag, BYTE, 4, bytes(v)))
        elif spec.field is Field.H_ERROR:
            radius = max(0, min(round(v), 0xFFFFFFFF))
            out.append(TiffEntry(tag, RATIONAL, 1, struct.pack(bo + "2I", radius, 1)))
        elif spec.field is Field.GPS_TIME:
            h, m, ms = hms_ms(v)
            out.append(TiffEntry(tag, RATIONAL, 3, struct.pack(bo + "6I", h, 1, m, 1, ms, 1000)))
        elif spec.field is Field.ALTITUDE:
            mm = max(0, min(round(v * 1000), 0xFFFFFFFF))
            out.append(TiffEntry(tag, RATIONAL, 1, struct.pack(bo + "2I", mm, 1000)))
        elif spec.field is Field.ALTITUDE_REF:
            out.append(TiffEntry(tag, BYTE, 1, bytes([int(v)])))
        elif spec.field in (Field.NOTE, Field.METHOD):
            text = b"ASCII\x00\x00\x00" + str(v).encode("ascii", "replace")
            out.append(TiffEntry(tag, UNDEFINED, len(text), text))
        else:
            text = str(v).encode("ascii", "replace") + b"\x00"
            out.append(TiffEntry(tag, ASCII, len(text), text))
    return out


def resolution_entries(segments: Sequence[Segment], bo: str) -> list[TiffEntry]:
    """IFD0 XResolution/YResolution/ResolutionUnit and YCbCrPositioning, which EXIF
    requires of a JPEG's IFD0, taken from the JFIF header when there is one (else
    72 dpi): for photos that had no EXIF block."""
    x, y, unit = 72, 72, 2
    for seg in segments:
        if seg.marker == 0xE0 and seg.payload[:5] == b"JFIF\x00" and len(seg.payload) >= 12:
            jfif_unit = seg.payload[7]
            jx, jy = struct.unpack(">HH", seg.payload[8:12])
            if jfif_unit in (1, 2) and jx and jy:
                x, y, unit = jx, jy, jfif_unit + 1  # JFIF 1=dpi, 2=dpcm; EXIF 2=inch, 3=cm
            break
    return [
        TiffEntry(0x011A, RATIONAL, 1, struct.pack(bo + "2I", x, 1)),
        TiffEntry(0x011B, RATIONAL, 1, struct.pack(bo + "2I", y, 1)),
        TiffEntry(0x0128, SHORT, 1, struct.pack(bo + "H", unit)),
        TiffEntry(0x0213, SHORT, 1, struct.pack(bo + "H", 1)),
    ]


# --------------------------------------------------------------------------- IPTC


@functools.lru_cache(maxsize=1)
def scratch_jpeg() -> bytes:
    """A tiny black JPEG to build metadata in."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    return buf.getvalue()


def _irb_resources(payload: bytes) -> list[tuple[int, bytes, bytes]]:
    """Parse a Photoshop APP13 payload into ``(id, name field, data)`` resources."""
    if not payload.startswith(PHOTOSHOP_HEADER):
        raise MetadataError("APP13 segment is not a Photoshop IRB")
    out = []
    i = len(PHOTOSHOP_HEADER)
    n = len(payload)
    while i + 12 <= n and payload[i : i + 4] == b"8BIM":
        (rid,) = struct.unpack(">H", payload[i + 4 : i + 6])
        name_len = payload[i + 6]
        name_field_len = name_len + 1 + ((name_len + 1) % 2)
        j = i + 6 + name_field_len
        if j + 4 > n:
            raise MetadataError("corrupt Photoshop IRB")
        (size,) = struct.unpack(">I", payload[j : j + 4])
        start = j + 4
        if start + size > n:
            raise MetadataError("corrupt Photoshop IRB")
        out.append((rid, payload[i + 6 : i + 6 + name_field_len], payload[start : start + size]))
        i = start + size + (size % 2)
    if i < n and payload[i:].strip(b"\x00"):
        raise MetadataError("unparsed data in Photoshop IRB")
    return out


def _irb_encode(resources: Sequence[tuple[int, bytes, bytes]]) -> bytes:
    out = bytearray(PHOTOSHOP_HEADER)
    for rid, name, data in resources:
        out += b"8BIM" + struct.pack(">H", rid) + name + struct.pack(">I", len(data)) + data
        _pad_even(out)
    return bytes(out)


def iptc_iim(existing_jpeg: bytes | None, values: dict[str, str], set_utf8: bool) -> bytes:
    """IPTC-IIM bytes with ``values`` (exiv2 keys) added to the IPTC already in
    ``existing_jpeg`` (or none), serialised by exiv2 through a scratch JPEG."""
    import exiv2

    scratch = exiv2.ImageFactory.open(scratch_jpeg())
    scratch.readMetadata()
    if existing_jpeg is not None:
        src = exiv2.ImageFactory.open(existing_jpeg)
        src.readMetadata()
        scratch.setIptcData(src.iptcData())
    iptc = scratch.iptcData()
    for key, value in values.items():
        iptc[key] = value
    if set_utf8:
        iptc["Iptc.Envelope.CharacterSet"] = "\x1b%G"
    scratch.writeMetadata()
    segments, _ = split_jpeg(bytes(scratch.io().data()))
    for seg in segments:
        if seg.marker == 0xED:
            for rid, _name, data in _irb_resources(seg.payload):
                if rid == 0x0404:
                    return data
    raise MetadataError("exiv2 produced no IPTC block")


def with_iptc(segments: list[Segment], iim: bytes, insert_at: int) -> list[Segment]:
    """Put ``iim`` in the photo's Photoshop IRB (replacing its IPTC resource and
    refreshing the IPTC digest resource if present) or in a new APP13 segment."""
    app13 = [k for k, s in enumerate(segments) if s.marker == 0xED]
    if len(app13) > 1:
        raise MetadataError("several APP13 segments; IPTC left untouched")
    if not app13:
        seg = Segment(0xED, _irb_encode([(0x0404, b"\x00\x00", iim)]))
        return [*segments[:insert_at], seg, *segments[insert_at:]]
    k = app13[0]
    resources = _irb_resources(segments[k].payload)
    new_resources = []
    placed = False
    for rid, name, data in resources:
        if rid == 0x0404:
            new_resources.append((rid, name, iim))
            placed = True
        elif rid == 0x0425:
            new_resources.append((rid, name, hashlib.md5(iim).digest()))  # the IPTC digest
        else:
            new_resources.append((rid, name, data))
    if not placed:
        new_resources.append((0x0404, b"\x00\x00", iim))
    out = list(segments)
    out[k] = Segment(0xED, _irb_encode(new_resources))
    return out
