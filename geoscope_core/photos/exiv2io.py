"""The exiv2 layer: opening images from bytes, reading and setting values by key.

python-exiv2 (the library Photini uses) rewrites metadata segments only and
never re-encodes image data. Its XMP namespace registry is process-wide, so
GeoScope's namespace is registered once, under a lock, before first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from geoscope_core.errors import MetadataError
from geoscope_core.photos.tags import (
    XMP_GPS_PREFIX,
    XMP_NAMESPACE,
    XMP_PLACE_KEYS,
    XMP_PREFIX,
    XmpStruct,
    structs_in,
)

log = logging.getLogger(__name__)

_REGISTER_LOCK = threading.Lock()
#: IPTC-IIM's declaration of UTF-8 (ESC % G).
IPTC_UTF8 = "\x1b%G"


def exiv2_module() -> Any:
    """The ``exiv2`` module with ``Xmp.geoscope.*`` known to it."""
    import exiv2

    with _REGISTER_LOCK:
        try:
            exiv2.XmpProperties.ns(XMP_PREFIX)
        except exiv2.Exiv2Error:
            exiv2.XmpProperties.registerNs(XMP_NAMESPACE, XMP_PREFIX)
    return exiv2


def _open_raw(path: Path) -> Any:
    """exiv2's image of the camera raw file ``path``, metadata read (exiv2 0.28 reads
    Canon's CR3, an ISO BMFF file, with the BMFF support it is built with)."""
    exiv2 = exiv2_module()
    image = exiv2.ImageFactory.open(str(path))
    image.readMetadata()
    return image


#: EXIF groups copied out of a raw file whose layout exifread does not know.
_RAW_EXIF_GROUPS = ("Exif.Image.", "Exif.Photo.", "Exif.GPSInfo.")


def raw_exif_jpeg(path: Path) -> bytes:
    """A tiny JPEG carrying the EXIF (IFD0, EXIF and GPS IFDs) exiv2 reads from the camera
    raw file ``path``: how a raw file whose layout exifread does not know (Fujifilm RAF,
    Canon CR3) is read by the one EXIF reader. MetadataError when exiv2 cannot read it."""
    from geoscope_core.photos.jpegedit import scratch_jpeg

    exiv2 = exiv2_module()
    try:
        raw = _open_raw(path)
        scratch = open_image(scratch_jpeg())
        exif = scratch.exifData()
        for datum in raw.exifData():
            if datum.key().startswith(_RAW_EXIF_GROUPS) and datum.key() != "Exif.Image.ExifTag":
                exif.add(datum)
        return image_bytes(scratch)
    except exiv2.Exiv2Error as e:
        raise MetadataError(f"{path}: cannot read its EXIF ({_reason(e)})") from e


def open_image(data: bytes) -> Any:
    """An exiv2 image of a private copy of ``data`` with its metadata read; MetadataError
    if exiv2 cannot.

    exiv2 edits a memory image in its own buffer (a TIFF whose GPS block keeps its
    size is rewritten where it lies), so it never gets the caller's ``bytes``: those
    are the original the journal hashes and backs up. The image holds its copy.
    """
    exiv2 = exiv2_module()
    buffer = bytearray(data)
    try:
        image = exiv2.ImageFactory.open(buffer)
        image._geoscope_buffer = buffer  # exiv2 does not keep it alive itself
        image.readMetadata()
    except exiv2.Exiv2Error as e:
        raise MetadataError(f"the metadata cannot be read ({_reason(e)})") from e
    return image


def _reason(e: Exception) -> str:
    """exiv2's message without its numeric error code."""
    last = e.args[-1] if e.args else ""
    text = (last if isinstance(last, str) else str(e)).strip()
    return text.split(": ", 1)[1] if text[:1].isdigit() and ": " in text else text


def find(container: Any, key_obj: Any) -> Any:
    """The datum iterator for ``key_obj`` in an exiv2 container, or None."""
    it = container.findKey(key_obj)
    return None if it == container.end() else it


def set_values(container: Any, values: dict[str, str]) -> None:
    """Set exiv2 ``values`` (key -> string) in an Exif/Xmp/Iptc container. A structured
    XMP property among them is replaced whole: its old members go, then its Bag and
    structure nodes are made before its members are set."""
    exiv2 = exiv2_module()
    for struct in structs_in(values):

        def outside(key: str, owner: XmpStruct = struct) -> bool:
            return not owner.owns(key)

        erase_keys(container, outside)
        if struct.bag:
            bag = exiv2.XmpTextValue()
            bag.setXmpArrayType(exiv2.XmpValue.XmpArrayType.xaBag)
            container.add(exiv2.XmpKey(struct.key), bag)
        item = exiv2.XmpTextValue()
        item.setXmpStruct()
        container.add(exiv2.XmpKey(struct.item), item)
    for key, value in values.items():
        if key in ("Exif.GPSInfo.GPSAreaInformation", "Exif.GPSInfo.GPSProcessingMethod"):
            container[key] = exiv2.CommentValue(value)  # UNDEFINED with a charset prefix
        else:
            container[key] = value


def erase_keys(container: Any, keep: Callable[[str], bool]) -> dict[str, str]:
    """Remove from an Exif/Xmp/Iptc container every datum whose key ``keep`` rejects;
    returns the removed values (key -> string)."""
    exiv2 = exiv2_module()
    key_type = {"Exif": exiv2.ExifKey, "Xmp": exiv2.XmpKey, "Iptc": exiv2.IptcKey}
    removed: dict[str, str] = {}
    for key in sorted({d.key() for d in container if not keep(d.key())}):
        key_obj = key_type[key.split(".", 1)[0]](key)
        while (it := find(container, key_obj)) is not None:
            removed[key] = it.toString()
            container.erase(it)
    return removed


def clear_gps(image: Any) -> dict[str, str]:
    """Remove the whole EXIF GPS block and every ``Xmp.exif.GPS*`` property (so no
    stale camera field stays beside a new location); returns what was removed."""
    removed = erase_keys(image.exifData(), lambda k: not k.startswith("Exif.GPSInfo."))
    removed.update(erase_keys(image.xmpData(), lambda k: not k.startswith(XMP_GPS_PREFIX)))
    return removed


def current_values(image: Any, keys: Iterable[str]) -> dict[str, str]:
    """Current values of the GPS tags and of ``keys`` in an exiv2 image."""
    old: dict[str, str] = {}
    for datum in image.exifData():
        if datum.key().startswith("Exif.GPSInfo."):
            old[datum.key()] = datum.toString()
    wanted = set(keys)
    for container in (image.xmpData(), image.iptcData()):
        for datum in container:
            if datum.key() in wanted or datum.key().startswith(XMP_GPS_PREFIX):
                old[datum.key()] = datum.toString()
    return old


def xmp_names_place(xmp: Any) -> bool:
    """Whether an XMP container already names a place (city, state or country)."""
    exiv2 = exiv2_module()
    for key in XMP_PLACE_KEYS:
        it = find(xmp, exiv2.XmpKey(key))
        if it is not None and it.toString().strip():
            return True
    return False


def iptc_to_add(image: Any, values: dict[str, str], names: Iterable[str]) -> dict[str, str]:
    """The IPTC place ``values`` that may be added to ``image``: only fields it does not
    have yet; none when its XMP already names a place (the two would disagree) or when
    its existing IPTC declares no UTF-8 and ``names`` are not all ASCII (declaring
    UTF-8 would change how the existing records read)."""
    exiv2 = exiv2_module()
    if xmp_names_place(image.xmpData()):
        return {}
    iptc = image.iptcData()
    if not iptc.empty():
        it = find(iptc, exiv2.IptcKey("Iptc.Envelope.CharacterSet"))
        utf8 = it is not None and it.toString() == IPTC_UTF8
        if not utf8 and not all(n.isascii() for n in names):
            return {}
    out = {}
    for key, value in values.items():
        it = find(iptc, exiv2.IptcKey(key))
        if it is None or not it.toString().strip():
            out[key] = value
    return out


def encode_xmp(values: dict[str, str], existing: str | None = None) -> str:
    """An XMP packet: ``existing`` (every property kept) with ``values`` set, and its
    GPS properties replaced by those in ``values``. MetadataError when ``existing``
    does not parse or exiv2 cannot serialise."""
    exiv2 = exiv2_module()
    holder = None
    try:
        if existing is not None:
            holder = xmp_image(existing)
            xmp = holder.xmpData()
            erase_keys(xmp, lambda k: not k.startswith(XMP_GPS_PREFIX))
        else:
            xmp = exiv2.XmpData()
        set_values(xmp, values)
        rc, packet = exiv2.XmpParser.encode(xmp)
    except exiv2.Exiv2Error as e:
        raise MetadataError(f"XMP cannot be written ({_reason(e)})") from e
    if rc != 0:
        raise MetadataError(f"XMP cannot be serialised (code {rc})")
    return str(packet)


def xmp_image(packet: str) -> Any:
    """An exiv2 XMP "image" holding ``packet`` (its properties in ``xmpData()``);
    MetadataError when the packet does not parse."""
    exiv2 = exiv2_module()
    try:
        image = exiv2.ImageFactory.open(packet.encode("utf-8"))
        image.readMetadata()
    except exiv2.Exiv2Error as e:
        raise MetadataError(f"invalid XMP packet ({_reason(e)})") from e
    if image.imageType() != exiv2.ImageType.xmp:
        raise MetadataError("invalid XMP packet")
    return image


def image_bytes(image: Any) -> bytes:
    """Write ``image``'s metadata and return the new file bytes."""
    exiv2 = exiv2_module()
    try:
        image.writeMetadata()
    except exiv2.Exiv2Error as e:
        raise MetadataError(f"the metadata cannot be written ({_reason(e)})") from e
    return bytes(image.io().data())
