"""Reading GeoScope's XMP fields: coordinates, the estimate mark, place names.

Packets are parsed with the standard library's expat (no entity expansion
attacks since expat 2.4, no external entities), not exiv2, whose namespace
registry is process-wide and would be changed by odd packets.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable

from geoscope_core.errors import MetadataError
from geoscope_core.photos.tags import (
    BY_FIELD,
    NAMESPACE_BY_URI,
    NOTE_KEYS_XMP,
    Field,
    is_estimate_note,
)

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
