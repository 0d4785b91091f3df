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
  its offset.
- XMP: a new XMP APP1 segment (serialised by exiv2's ``XmpParser``) is added
  only when the photo has no XMP; an existing packet is kept byte for byte.
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

from geoscope_core.errors import MetadataError

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


def tiff_with_gps(tiff: bytes, gps: Sequence[TiffEntry], bo_hint: str = ">") -> bytes:
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
        gps_at = 8 + 2 + 12 + 4
        pointer = TiffEntry(GPS_IFD_TAG, LONG, 1, struct.pack(bo + "I", gps_at))
        ifd0 = _encode_ifd([pointer], 8, bo, 0)
        return header + ifd0 + _encode_ifd(gps, gps_at, bo, 0)
    bo = _tiff_byte_order(tiff)
    (ifd0_at,) = struct.unpack(bo + "I", tiff[4:8])
    raw, next_ifd = _read_ifd(tiff, ifd0_at, bo)
    pointer_k = None
    for k, entry in enumerate(raw):
        if struct.unpack(bo + "H", entry[:2])[0] == GPS_IFD_TAG:
            pointer_k = k
    gps = _merge_existing_gps(tiff, raw[pointer_k] if pointer_k is not None else None, gps, bo)
    out = bytearray(tiff)
    _pad_even(out)
    gps_at = len(out)
    out += _encode_ifd(gps, gps_at, bo, 0)
    if pointer_k is not None:
        # Repoint the existing GPSInfo entry (same size: rewrite its 12 bytes in place).
        entry_at = ifd0_at + 2 + 12 * pointer_k
        out[entry_at : entry_at + 12] = struct.pack(bo + "HHII", GPS_IFD_TAG, LONG, 1, gps_at)
        return bytes(out)
    _pad_even(out)
    new_ifd0_at = len(out)
    entries: list[TiffEntry] = []
    for e in raw:
        tag, typ, count = struct.unpack(bo + "HHI", e[:8])
        entries.append(TiffEntry(tag, typ, count, e[8:12]))  # inline or offset, verbatim
    entries.append(TiffEntry(GPS_IFD_TAG, LONG, 1, struct.pack(bo + "I", gps_at)))
    out += _encode_ifd(entries, new_ifd0_at, bo, next_ifd)
    out[4:8] = struct.pack(bo + "I", new_ifd0_at)
    return bytes(out)


#: GPS tags kept from the photo when present (rather than replaced): the version.
_KEEP_EXISTING = frozenset({0x0000})


def _merge_existing_gps(
    tiff: bytes, pointer: bytes | None, gps: Sequence[TiffEntry], bo: str
) -> list[TiffEntry]:
    """``gps`` plus the entries of the photo's existing GPS IFD that it does not replace
    (copied verbatim: their out-of-line values stay where they are)."""
    if pointer is None:
        return list(gps)
    _tag, typ, count, at = struct.unpack(bo + "HHII", pointer)
    if typ not in (LONG, 13) or count != 1:
        return list(gps)
    try:
        raw, _next = _read_ifd(tiff, at, bo)
    except MetadataError:
        return list(gps)  # a dangling GPS pointer: nothing to keep
    existing = {}
    for e in raw:
        tag, etyp, ecount = struct.unpack(bo + "HHI", e[:8])
        existing[tag] = TiffEntry(tag, etyp, ecount, e[8:12])
    merged = {e.tag: e for e in gps}
    for tag, entry in existing.items():
        if tag not in merged or tag in _KEEP_EXISTING:
            merged[tag] = entry
    return list(merged.values())


def dms(value: float) -> tuple[int, int, int]:
    """|``value``| degrees as (degrees, minutes, microseconds of arc): the numerators of
    EXIF's GPS rational triple d/1 m/1 s/1000000 (sub-millimetre)."""
    a = abs(value)
    deg = int(a)
    rem = (a - deg) * 60.0
    minutes = int(rem)
    micro = round((rem - minutes) * 60.0 * 1_000_000)
    if micro >= 60_000_000:
        micro -= 60_000_000
        minutes += 1
    if minutes >= 60:
        minutes -= 60
        deg += 1
    return deg, minutes, micro


def _rational3(value: float, bo: str) -> bytes:
    deg, minutes, micro = dms(value)
    return struct.pack(bo + "6I", deg, 1, minutes, 1, micro, 1_000_000)


def gps_entries(lat: float, lon: float, note: str, radius_m: float, bo: str) -> list[TiffEntry]:
    """The GPS IFD GeoScope writes: version 2.3, lat/lon (degrees -> D/M/S rationals,
    micro-second precision), WGS-84 datum, ``GPSProcessingMethod`` = ``note``
    (ASCII) and ``GPSHPositioningError`` = ``radius_m`` metres."""
    method = b"ASCII\x00\x00\x00" + note.encode("ascii", "replace")
    datum = b"WGS-84\x00"
    radius = max(0, min(round(radius_m), 0xFFFFFFFF))
    return [
        TiffEntry(0x0000, BYTE, 4, bytes((2, 3, 0, 0))),
        TiffEntry(0x0001, ASCII, 2, (b"N" if lat >= 0 else b"S") + b"\x00"),
        TiffEntry(0x0002, RATIONAL, 3, _rational3(lat, bo)),
        TiffEntry(0x0003, ASCII, 2, (b"E" if lon >= 0 else b"W") + b"\x00"),
        TiffEntry(0x0004, RATIONAL, 3, _rational3(lon, bo)),
        TiffEntry(0x0012, ASCII, len(datum), datum),
        TiffEntry(0x001B, UNDEFINED, len(method), method),
        TiffEntry(0x001F, RATIONAL, 1, struct.pack(bo + "2I", radius, 1)),
    ]


# --------------------------------------------------------------------------- IPTC


@functools.lru_cache(maxsize=1)
def _scratch_jpeg() -> bytes:
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

    scratch = exiv2.ImageFactory.open(_scratch_jpeg())
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
