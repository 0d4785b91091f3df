"""The byte editors: new file bytes carrying an estimate, per format.

Each editor takes the original bytes and the field values (``plan``) and
returns the new bytes and the metadata values they replaced (for the journal).
JPEG is edited append-only (``jpegedit``); TIFF and XMP sidecars through exiv2.
Every editor replaces the whole GPS block, EXIF and XMP alike, and merges into
an existing XMP packet rather than dropping or ignoring it; given place names only
(no ``Field.LATITUDE``), an editor leaves every GPS tag as it is. An editor that
cannot keep everything a photo holds raises :class:`UnsafeInPlaceError`, and the
photo gets a sidecar instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from geoscope_core.errors import MetadataError
from geoscope_core.photos import exiv2io as x2
from geoscope_core.photos import jpegedit as je
from geoscope_core.photos.metadata import (
    decode_xmp,
    embedded_xmp,
    lost_properties,
    xmp_properties,
)
from geoscope_core.photos.tags import (
    BY_FIELD,
    NAME_FIELDS,
    PLACE_FIELDS,
    XMP_GPS_PREFIX,
    XMP_PLACE_KEYS,
    XMP_PREFIX,
    XMP_STRUCTS,
    Field,
    exif_values,
    iptc_values,
    rdf_description,
    structs_in,
    xmp_values,
)

log = logging.getLogger(__name__)


class UnsafeInPlaceError(MetadataError):
    """Writing this photo in place would alter what it already holds: use a sidecar."""


#: A packet GeoScope cannot merge into losslessly (extended XMP continues elsewhere).
_EXTENDED_XMP = "HasExtendedXMP"


def _xmp_for_photo(values: dict[Field, Any], existing: dict[str, str] | None) -> dict[str, str]:
    """XMP values to set: all of them, but no place names over a packet that already
    names a place (its names stay; the estimate flag and location are still added),
    and no structure the packet already has (the user's is kept whole)."""
    xmp = xmp_values(values)
    if not existing:
        return xmp
    names_place = any(existing.get(k, "").strip() for k in XMP_PLACE_KEYS)
    if names_place:
        for f in PLACE_FIELDS:
            xmp.pop(BY_FIELD[f].xmp, None)
    for struct in XMP_STRUCTS:
        if names_place or any(struct.owns(k) for k in existing):
            xmp = {k: v for k, v in xmp.items() if not struct.owns(k)}
    return xmp


#: XMP properties an existing packet may keep instead of GeoScope's value (no location).
_HARMLESS = frozenset({BY_FIELD[Field.GPS_VERSION].xmp, BY_FIELD[Field.MAP_DATUM].xmp})
_RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'


def xmp_with_description(packet: str, values: dict[str, str]) -> str | None:
    """``packet`` with one more ``rdf:Description`` holding ``values`` (exiv2 keys of
    simple properties and structure members), inserted before ``</rdf:RDF>``: every
    existing byte of the packet is kept. None when that cannot be done (another RDF
    prefix, a property already present, a packet that does not parse afterwards)."""
    if _RDF not in packet.replace("'", '"') or packet.count("</rdf:RDF>") != 1:
        return None
    present = set(values) & set(decode_xmp(packet))
    if present - _HARMLESS:
        return None
    values = {k: v for k, v in values.items() if k not in present}
    description = f" {rdf_description(values)}\n"
    at = packet.index("</rdf:RDF>")
    new = packet[:at] + description + packet[at:]
    try:
        got = decode_xmp(new)
    except MetadataError:
        return None
    return new if all(got.get(k) == v for k, v in values.items()) else None


def _names(values: dict[Field, Any]) -> list[str]:
    return [str(values[f]) for f in NAME_FIELDS if f in values]


def _after_app0(segments: list[je.Segment]) -> int:
    """Index after the leading APP0 segments (JFIF, JFXX, CIFF)."""
    at = 0
    while at < len(segments) and segments[at].marker == 0xE0:
        at += 1
    return at


def names_place(data: bytes) -> bool:
    """Whether the photo or sidecar ``data`` already names a place (in XMP or IPTC)."""
    image = x2.open_image(data)
    if x2.xmp_names_place(image.xmpData()):
        return True
    keys = {BY_FIELD[f].iptc for f in NAME_FIELDS if BY_FIELD[f].iptc}
    return any(d.key() in keys and d.toString().strip() for d in image.iptcData())


def jpeg_bytes(data: bytes, values: dict[Field, Any], alpha3: str) -> tuple[bytes, dict[str, str]]:
    """The JPEG ``data`` with the estimate written append-only (see ``jpegedit``), and
    the values it replaced."""
    src = x2.open_image(data)
    xmp_plan = xmp_values(values)
    iptc_plan = iptc_values(values, alpha3)
    old = x2.current_values(src, [*xmp_plan, *iptc_plan])
    segments, rest = je.split_jpeg(data)
    exif_at = next(
        (
            k
            for k, s in enumerate(segments)
            if s.marker == 0xE1 and s.payload.startswith(je.EXIF_HEADER)
        ),
        None,
    )
    if Field.LATITUDE not in values:  # names only: the EXIF (and its GPS) stays as it is
        insert_at = exif_at + 1 if exif_at is not None else _after_app0(segments)
    elif exif_at is not None:
        tiff = segments[exif_at].payload[len(je.EXIF_HEADER) :]
        bo = "<" if tiff[:2] == b"II" else ">"
        gps = je.gps_entries(values, bo)
        segments[exif_at] = je.Segment(0xE1, je.EXIF_HEADER + je.tiff_with_gps(tiff, gps))
        insert_at = exif_at + 1
    else:
        gps = je.gps_entries(values, ">")
        ifd0 = je.resolution_entries(segments, ">")
        insert_at = _after_app0(segments)
        block = je.tiff_with_gps(b"", gps, ">", ifd0)
        segments.insert(insert_at, je.Segment(0xE1, je.EXIF_HEADER + block))
        insert_at += 1
    xmp_at = [
        k
        for k, s in enumerate(segments)
        if s.marker == 0xE1 and s.payload.startswith(je.XMP_HEADER)
    ]
    if not xmp_at:
        packet = x2.encode_xmp(xmp_plan)
        segments.insert(insert_at, je.Segment(0xE1, je.XMP_HEADER + packet.encode("utf-8")))
        insert_at += 1
    elif len(xmp_at) == 1:
        text = segments[xmp_at[0]].payload[len(je.XMP_HEADER) :].decode("utf-8", "replace")
        if _EXTENDED_XMP in text:
            log.info("extended XMP is kept as it is (no XMP estimate added)")
        else:
            try:
                plan = _xmp_for_photo(values, decode_xmp(text))
                packet = xmp_with_description(text, plan) or x2.encode_xmp(plan, text)
                _refuse_loss(text, packet, plan)
                payload = je.XMP_HEADER + packet.encode("utf-8")
                if len(payload) <= je.MAX_SEGMENT_PAYLOAD:
                    segments[xmp_at[0]] = je.Segment(0xE1, payload)
            except UnsafeInPlaceError:
                raise
            except MetadataError as e:
                log.info("existing XMP kept as it is: %s", e)
    iptc_add = x2.iptc_to_add(src, iptc_plan, _names(values))
    if iptc_add:
        had_iptc = not src.iptcData().empty()
        try:
            iim = je.iptc_iim(data if had_iptc else None, iptc_add, set_utf8=not had_iptc)
            segments = je.with_iptc(segments, iim, insert_at)
        except MetadataError as e:
            log.info("IPTC place names not written: %s", e)
    return je.join_jpeg(segments, rest), old


def tiff_bytes(data: bytes, values: dict[Field, Any], alpha3: str) -> tuple[bytes, dict[str, str]]:
    """The TIFF ``data`` with the estimate written by exiv2 (strip/tile data is copied,
    never re-encoded); an existing XMP packet gets the estimate merged in."""
    image = x2.open_image(data)
    existing = {d.key(): d.toString() for d in image.xmpData()}
    xmp_plan = _xmp_for_photo(values, existing)
    iptc_add = x2.iptc_to_add(image, iptc_values(values, alpha3), _names(values))
    old = x2.current_values(image, [*xmp_plan, *iptc_add])
    # exiv2 gives no packet when it cannot decode the one there: that one counts too
    packet = str(image.xmpPacket() or "") or (embedded_xmp(data) or "")
    merged = xmp_with_description(packet, xmp_plan) if packet else None
    if packet and merged is None:
        _refuse_loss(packet, x2.encode_xmp(xmp_plan, packet), xmp_plan)
    if Field.LATITUDE in values:  # else names only: the GPS stays as it is
        x2.clear_gps(image)
        x2.set_values(image.exifData(), exif_values(values))
    if merged is not None:  # the packet keeps every byte it had
        image.writeXmpFromPacket(True)
        image.setXmpPacket(merged)
    else:
        x2.set_values(image.xmpData(), xmp_plan)
    if iptc_add:
        x2.set_values(image.iptcData(), iptc_add)
        if image.iptcData().count() == len(iptc_add):
            image.iptcData()["Iptc.Envelope.CharacterSet"] = x2.IPTC_UTF8
    out = x2.image_bytes(image)
    del image
    return out, old


def _rewritten(plan: dict[str, str]) -> Callable[[str], bool]:
    """Whether an XMP property (exiv2 key) is one GeoScope replaces when it writes ``plan``
    (a structure it fills, e.g. LocationCreated, is replaced whole)."""
    structs = structs_in(plan)
    prefixes = tuple(
        p for p in (XMP_GPS_PREFIX, f"Xmp.{XMP_PREFIX}.") if any(k.startswith(p) for k in plan)
    )
    return lambda k: k in plan or k.startswith(prefixes) or any(s.owns(k) for s in structs)


def _refuse_loss(packet: str, new: str, plan: dict[str, str]) -> None:
    """UnsafeInPlaceError (the photo gets a sidecar) when the XMP ``new`` lost any
    property of ``packet`` GeoScope does not replace (exiv2 cannot read all of it)."""
    try:
        lost = lost_properties(packet, new, _rewritten(plan))
    except MetadataError as e:
        raise UnsafeInPlaceError(f"its XMP cannot be read completely ({e})") from e
    if lost:
        raise UnsafeInPlaceError(f"its XMP cannot be rewritten without losing {_listed(lost)}")


def _listed(lost: list[str]) -> str:
    """The first three of the properties ``lost``, " ..." when there are more."""
    return ", ".join(lost[:3]) + (" ..." if len(lost) > 3 else "")


def sidecar_bytes(existing: bytes | None, values: dict[Field, Any]) -> tuple[bytes, dict[str, str]]:
    """A new XMP sidecar for the estimate, or ``existing`` with it merged in (its GPS
    properties replaced, every other property kept); and the values replaced.

    An existing sidecar is never replaced by less than it held: when exiv2 cannot
    read all of it (a property repeated, ``rdf:parseType="Literal"``), the estimate
    goes into a description of its own and every existing byte is kept; when that
    cannot be done either, or the file is not well-formed XML, MetadataError says
    why and the sidecar stays as it is.
    """
    exiv2 = x2.exiv2_module()
    plan = xmp_values(values)
    text = None
    if existing is None:
        image = exiv2.ImageFactory.create(exiv2.ImageType.xmp)
    else:
        try:
            text = existing.decode("utf-8")
            xmp_properties(text)
        except (UnicodeDecodeError, MetadataError) as e:
            raise MetadataError(
                f"it cannot be read completely, so it was left as it is ({e})"
            ) from e
        image = x2.open_image(existing)
    old = x2.current_values(image, plan)
    # exiv2 mirrors a sidecar's XMP into EXIF and IPTC when reading it and back over
    # the XMP when writing it (the old GPS would win): only the XMP is written here
    image.clearExifData()
    image.clearIptcData()
    if Field.LATITUDE in values:  # else names only: the GPS stays as it is
        x2.erase_keys(image.xmpData(), lambda k: not k.startswith(XMP_GPS_PREFIX))
    x2.set_values(image.xmpData(), plan)
    out = x2.image_bytes(image)
    del image
    out_text = out.decode("utf-8", "replace")
    got = decode_xmp(out_text)
    if any(got.get(k) != v for k, v in plan.items()):
        raise MetadataError("the estimate does not read back from the new sidecar")
    if text is None:
        return out, old
    lost = lost_properties(text, out_text, _rewritten(plan))
    if not lost:
        return out, old
    merged = xmp_with_description(text, plan)
    if merged is None:
        raise MetadataError(
            "exiv2 cannot read all of it and GeoScope would lose "
            f"{_listed(lost)}; it was left as it is"
        )
    log.info("sidecar kept byte for byte, the estimate added beside it (exiv2 would lose %s)", lost)
    return merged.encode("utf-8"), {k: v for k, v in decode_xmp(text).items() if k in plan}
