"""One table from each field GeoScope reads or writes to its EXIF, XMP and IPTC tags.

The writer walks the table to know what to set (every family formats a field
its own way: EXIF rationals, XMP coordinate strings, IPTC bytes with length
limits); the reader walks it to find a location in XMP and to recognise
GeoScope's own estimates. Adding a field here adds it to both.

A field may write several targets: its row in ``TAGS`` (one EXIF tag, one flat XMP
property, one IPTC-IIM dataset) and a member of each structured XMP property in
``XMP_STRUCTS`` that lists it (IPTC Extension ``LocationCreated``: a Bag of one
location structure). Structured values travel as exiv2 keys
(``Xmp.iptcExt.LocationCreated[1]/iptcExt:City``), which exiv2 writes once their
containers exist (``structs_in``), and which ``rdf_description`` renders as RDF
for the writer that appends to an existing packet.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Prefix of the estimate note GeoScope writes (EXIF GPSAreaInformation, XMP); older
#: versions wrote it to GPSProcessingMethod, which is still recognised.
ESTIMATE_NOTE_PREFIX = "GeoScope estimate"
#: XMP namespace of GeoScope's own fields (``Xmp.geoscope.*``).
XMP_NAMESPACE = "http://geoscope.invalid/ns/1.0/"
XMP_PREFIX = "geoscope"


class Field(str, enum.Enum):
    """A piece of information GeoScope writes with an estimated location."""

    GPS_VERSION = "gps_version"  # (2, 3, 0, 0)
    LATITUDE = "latitude"  # degrees, north positive
    LONGITUDE = "longitude"  # degrees, east positive
    MAP_DATUM = "map_datum"  # "WGS-84"
    H_ERROR = "h_positioning_error"  # metres
    METHOD = "processing_method"  # "MANUAL": not a receiver's fix (EXIF allows 4 values)
    NOTE = "estimate_note"  # "GeoScope estimate (...)"
    ESTIMATE = "estimate"  # True
    SOURCE = "source"  # Source value: model, neighbors, track, user
    MODEL = "model"  # "<bundle>@<id>"
    CONFIDENCE = "confidence"  # 0-1
    RADIUS_KM = "radius_km"  # km
    SUBLOCATION = "sublocation"  # within the city: a district, a landmark
    GPS_DATE = "gps_date"  # "YYYY:MM:DD", UTC (placements by time only)
    GPS_TIME = "gps_time"  # aware UTC datetime (placements by time only)
    ALTITUDE = "altitude"  # metres, >= 0 (placements by time with elevation only)
    ALTITUDE_REF = "altitude_ref"  # 0 above sea level, 1 below
    CITY = "city"
    STATE = "state"
    COUNTRY = "country"
    COUNTRY_CODE = "country_code"  # ISO 3166-1 alpha-2 (alpha-3 in IPTC-IIM)


@dataclass(frozen=True)
class TagSpec:
    """Where one field lives: exiv2 keys per family ("" = not written there), the EXIF
    GPS tag number (for the byte editor), the EXIF ref key of a coordinate, and the
    IPTC-IIM byte limit."""

    field: Field
    exif: str = ""
    exif_id: int | None = None
    exif_ref: str = ""
    xmp: str = ""
    iptc: str = ""
    iptc_max_bytes: int = 0


@dataclass(frozen=True)
class XmpNamespace:
    """An XMP namespace GeoScope writes or reads: exiv2's key prefix, the XML prefix
    it is written with, and its URI."""

    exiv2: str
    xml: str
    uri: str


XMP_NAMESPACES: tuple[XmpNamespace, ...] = (
    XmpNamespace("exif", "exif", "http://ns.adobe.com/exif/1.0/"),
    XmpNamespace("photoshop", "photoshop", "http://ns.adobe.com/photoshop/1.0/"),
    XmpNamespace("iptc", "Iptc4xmpCore", "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"),
    XmpNamespace("iptcExt", "Iptc4xmpExt", "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"),
    XmpNamespace(XMP_PREFIX, XMP_PREFIX, XMP_NAMESPACE),
)
NAMESPACE_BY_PREFIX: dict[str, XmpNamespace] = {n.exiv2: n for n in XMP_NAMESPACES}
NAMESPACE_BY_URI: dict[str, XmpNamespace] = {n.uri: n for n in XMP_NAMESPACES}


@dataclass(frozen=True)
class XmpStruct:
    """A structured XMP property filled from several fields: ``key`` (exiv2) holds one
    structure, inside a Bag when ``bag``; ``members`` maps each field to its member
    (``prefix:Name``, exiv2 prefixes: a member may come from another namespace)."""

    key: str
    members: tuple[tuple[Field, str], ...]
    bag: bool = True

    @property
    def item(self) -> str:
        """exiv2 key of the structure itself."""
        return f"{self.key}[1]" if self.bag else self.key

    def member_key(self, member: str) -> str:
        return f"{self.item}/{member}"

    def owns(self, key: str) -> bool:
        """Whether exiv2 ``key`` is this property or lies inside it."""
        return key == self.key or key.startswith((self.key + "[", self.key + "/"))


_G = "Exif.GPSInfo."
_GS = f"Xmp.{XMP_PREFIX}."

TAGS: tuple[TagSpec, ...] = (
    TagSpec(Field.GPS_VERSION, _G + "GPSVersionID", 0x0000, xmp="Xmp.exif.GPSVersionID"),
    TagSpec(Field.LATITUDE, _G + "GPSLatitude", 0x0002, _G + "GPSLatitudeRef",
            "Xmp.exif.GPSLatitude"),
    TagSpec(Field.LONGITUDE, _G + "GPSLongitude", 0x0004, _G + "GPSLongitudeRef",
            "Xmp.exif.GPSLongitude"),
    TagSpec(Field.MAP_DATUM, _G + "GPSMapDatum", 0x0012, xmp="Xmp.exif.GPSMapDatum"),
    TagSpec(Field.H_ERROR, _G + "GPSHPositioningError", 0x001F,
            xmp="Xmp.exif.GPSHPositioningError"),
    TagSpec(Field.METHOD, _G + "GPSProcessingMethod", 0x001B,
            xmp="Xmp.exif.GPSProcessingMethod"),
    TagSpec(Field.NOTE, _G + "GPSAreaInformation", 0x001C, xmp="Xmp.exif.GPSAreaInformation"),
    TagSpec(Field.ESTIMATE, xmp=_GS + "Estimate"),
    TagSpec(Field.SOURCE, xmp=_GS + "Source"),
    TagSpec(Field.MODEL, xmp=_GS + "Model"),
    TagSpec(Field.CONFIDENCE, xmp=_GS + "Confidence"),
    TagSpec(Field.RADIUS_KM, xmp=_GS + "RadiusKm"),
    TagSpec(Field.SUBLOCATION, xmp="Xmp.iptc.Location", iptc="Iptc.Application2.SubLocation",
            iptc_max_bytes=32),
    TagSpec(Field.GPS_DATE, _G + "GPSDateStamp", 0x001D),
    TagSpec(Field.GPS_TIME, _G + "GPSTimeStamp", 0x0007, xmp="Xmp.exif.GPSTimeStamp"),
    TagSpec(Field.ALTITUDE_REF, _G + "GPSAltitudeRef", 0x0005, xmp="Xmp.exif.GPSAltitudeRef"),
    TagSpec(Field.ALTITUDE, _G + "GPSAltitude", 0x0006, xmp="Xmp.exif.GPSAltitude"),
    TagSpec(Field.CITY, xmp="Xmp.photoshop.City", iptc="Iptc.Application2.City",
            iptc_max_bytes=32),
    TagSpec(Field.STATE, xmp="Xmp.photoshop.State", iptc="Iptc.Application2.ProvinceState",
            iptc_max_bytes=32),
    TagSpec(Field.COUNTRY, xmp="Xmp.photoshop.Country", iptc="Iptc.Application2.CountryName",
            iptc_max_bytes=64),
    TagSpec(Field.COUNTRY_CODE, xmp="Xmp.iptc.CountryCode", iptc="Iptc.Application2.CountryCode",
            iptc_max_bytes=3),
)  # fmt: skip

#: Structured XMP properties, each one row: where the location is given by parts.
XMP_STRUCTS: tuple[XmpStruct, ...] = (
    # IPTC Extension "Location created" (exiftool: XMP-iptcExt:LocationCreated*).
    XmpStruct("Xmp.iptcExt.LocationCreated", (
        (Field.SUBLOCATION, "iptcExt:Sublocation"),
        (Field.CITY, "iptcExt:City"),
        (Field.STATE, "iptcExt:ProvinceState"),
        (Field.COUNTRY, "iptcExt:CountryName"),
        (Field.COUNTRY_CODE, "iptcExt:CountryCode"),
        (Field.LATITUDE, "exif:GPSLatitude"),
        (Field.LONGITUDE, "exif:GPSLongitude"),
    )),
)  # fmt: skip

BY_FIELD: dict[Field, TagSpec] = {t.field: t for t in TAGS}
#: Place-name fields (IPTC and XMP), in the order they are written.
PLACE_FIELDS = (Field.SUBLOCATION, Field.CITY, Field.STATE, Field.COUNTRY, Field.COUNTRY_CODE)
#: Fields holding a place's name (not a code), finest first.
NAME_FIELDS = (Field.SUBLOCATION, Field.CITY, Field.STATE, Field.COUNTRY)
#: XMP keys whose presence in a packet means it already names a place.
XMP_PLACE_KEYS = tuple(BY_FIELD[f].xmp for f in NAME_FIELDS) + tuple(
    s.member_key(m) for s in XMP_STRUCTS for f, m in s.members if f in NAME_FIELDS
)
#: XMP GPS keys of a location (any ``Xmp.exif.GPS*`` key belongs to the GPS block).
XMP_GPS_PREFIX = "Xmp.exif.GPS"
#: Old or other EXIF fields that may carry GeoScope's estimate note.
NOTE_KEYS_EXIF = ("GPS GPSAreaInformation", "GPS GPSProcessingMethod")
NOTE_KEYS_XMP = (BY_FIELD[Field.NOTE].xmp, "Xmp.exif.GPSProcessingMethod")


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` bytes of UTF-8, on a character boundary."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", "ignore")


def format_xmp_coordinate(value: float, positive: str, negative: str) -> str:
    """Format degrees as an XMP GPS coordinate ``"DDD,MM.mmmmmmmmK"`` (about 2 mm)."""
    ref = positive if value >= 0 else negative
    a = abs(value)
    deg = int(a)
    minutes = (a - deg) * 60.0
    if round(minutes, 8) >= 60.0:
        deg, minutes = deg + 1, 0.0
    return f"{deg},{minutes:.8f}{ref}"


def is_estimate_note(text: str) -> bool:
    """Whether a note (with or without EXIF's 8-byte charset prefix) is GeoScope's."""
    text = text.strip()
    for charset in ("charset=Ascii", "ASCII", "UNICODE", "JIS"):
        if text.startswith(charset):
            text = text[len(charset) :]
            break
    return text.strip(" \x00").startswith(ESTIMATE_NOTE_PREFIX)


def xmp_values(values: dict[Field, Any]) -> dict[str, str]:
    """exiv2 XMP key -> string for every field in ``values`` that has an XMP tag, flat
    properties first, then the members of each structure (formatted as the field's
    flat property)."""
    out: dict[str, str] = {}
    for spec in TAGS:
        if spec.field in values and spec.xmp:
            out[spec.xmp] = _xmp_text(spec.field, values[spec.field])
    for struct in XMP_STRUCTS:
        for f, member in struct.members:
            if f in values:
                out[struct.member_key(member)] = _xmp_text(f, values[f])
    return out


def _xmp_text(field: Field, v: Any) -> str:
    """The XMP text of one field's value."""
    if field is Field.LATITUDE:
        return format_xmp_coordinate(v, "N", "S")
    if field is Field.LONGITUDE:
        return format_xmp_coordinate(v, "E", "W")
    if field is Field.GPS_VERSION:
        return ".".join(str(x) for x in v)
    if field is Field.H_ERROR:
        return f"{round(v)}/1"
    if field is Field.ESTIMATE:
        return "True" if v else "False"
    if field is Field.CONFIDENCE:
        return f"{v:.4f}"
    if field is Field.RADIUS_KM:
        return f"{v:.3f}"
    if field is Field.GPS_TIME:
        return xmp_datetime(v)
    if field is Field.ALTITUDE:
        return f"{round(v * 1000)}/1000"
    return str(v)


def struct_of(key: str) -> XmpStruct | None:
    """The structured property exiv2 ``key`` lies in, or None for a flat property."""
    return next((s for s in XMP_STRUCTS if s.owns(key)), None)


def structs_in(keys: Iterable[str]) -> list[XmpStruct]:
    """The structured properties that members among exiv2 ``keys`` belong to (exiv2
    sets a member only once its Bag and structure nodes exist)."""
    keys = list(keys)
    return [s for s in XMP_STRUCTS if any(s.owns(k) for k in keys)]


def rdf_description(values: dict[str, str]) -> str:
    """An ``rdf:Description`` element holding ``values`` (exiv2 key -> text): flat
    properties as attributes, each structure as an element (a Bag of one
    ``rdf:parseType="Resource"`` item holding its members)."""
    from xml.sax.saxutils import escape, quoteattr

    declared: dict[str, str] = {}

    def qname(prefix: str, name: str) -> str:
        ns = NAMESPACE_BY_PREFIX[prefix]
        declared[ns.xml] = ns.uri
        return f"{ns.xml}:{name}"

    attrs: list[str] = []
    structs: dict[XmpStruct, list[str]] = {}
    for key, value in values.items():
        struct = struct_of(key)
        if struct is None:
            _, prefix, name = key.split(".", 2)
            attrs.append(f"{qname(prefix, name)}={quoteattr(value)}")
        else:
            prefix, _, name = key[len(struct.item) + 1 :].partition(":")
            tag = qname(prefix, name)
            structs.setdefault(struct, []).append(f"<{tag}>{escape(value)}</{tag}>")
    elements: list[str] = []
    for struct, members in structs.items():
        _, prefix, name = struct.key.split(".", 2)
        tag = qname(prefix, name)
        body = "".join(f"\n      {m}" for m in members)
        item = f'<rdf:li rdf:parseType="Resource">{body}\n     </rdf:li>'
        if struct.bag:
            item = f"<rdf:Bag>\n     {item}\n    </rdf:Bag>"
        elements.append(f"\n   <{tag}>\n    {item}\n   </{tag}>")
    ns = "".join(f"\n    xmlns:{p}={quoteattr(u)}" for p, u in declared.items())
    head = f'<rdf:Description rdf:about=""{ns}' + "".join(f"\n   {a}" for a in attrs)
    if not elements:
        return head + "/>"
    return head + ">" + "".join(elements) + "\n  </rdf:Description>"


def iptc_values(values: dict[Field, Any], alpha3: str) -> dict[str, str]:
    """exiv2 IPTC key -> string for the place fields in ``values`` (IIM byte limits
    applied; the country code as ISO alpha-3 ``alpha3``, omitted when empty)."""
    out: dict[str, str] = {}
    for f in PLACE_FIELDS:
        spec = BY_FIELD[f]
        v = alpha3 if f is Field.COUNTRY_CODE else values.get(f, "")
        if v:
            out[spec.iptc] = truncate_utf8(str(v), spec.iptc_max_bytes)
    return out


def hms_ms(t: datetime) -> tuple[int, int, int]:
    """(hours, minutes, milliseconds of the minute) of ``t``: the numerators of EXIF's
    GPSTimeStamp rational triple h/1 m/1 s/1000."""
    return t.hour, t.minute, t.second * 1000 + t.microsecond // 1000


def xmp_datetime(t: datetime) -> str:
    """``t`` (aware UTC) as XMP's date-time, "2024-01-29T09:40:05Z" (milliseconds kept)."""
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{t.microsecond // 1000:03d}" if t.microsecond >= 1000 else "") + "Z"


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


def rational_dms(value: float) -> str:
    """|degrees| as an exiv2 EXIF rational triple ``"d/1 m/1 s/1000000"`` (sub-millimetre)."""
    deg, minutes, micro = dms(value)
    return f"{deg}/1 {minutes}/1 {micro}/1000000"


def exif_values(values: dict[Field, Any]) -> dict[str, str]:
    """exiv2 EXIF key -> string for every field in ``values`` that has an EXIF tag
    (coordinates with their refs; the note as an ASCII-charset UNDEFINED value)."""
    out: dict[str, str] = {}
    for spec in TAGS:
        if spec.field not in values or not spec.exif:
            continue
        v = values[spec.field]
        if spec.field is Field.LATITUDE:
            out[spec.exif_ref] = "N" if v >= 0 else "S"
            out[spec.exif] = rational_dms(v)
        elif spec.field is Field.LONGITUDE:
            out[spec.exif_ref] = "E" if v >= 0 else "W"
            out[spec.exif] = rational_dms(v)
        elif spec.field is Field.GPS_VERSION:
            out[spec.exif] = " ".join(str(x) for x in v)
        elif spec.field is Field.H_ERROR:
            out[spec.exif] = f"{round(v)}/1"
        elif spec.field is Field.GPS_TIME:
            h, m, ms = hms_ms(v)
            out[spec.exif] = f"{h}/1 {m}/1 {ms}/1000"
        elif spec.field is Field.ALTITUDE:
            out[spec.exif] = f"{round(v * 1000)}/1000"
        elif spec.field in (Field.NOTE, Field.METHOD):
            out[spec.exif] = f"charset=Ascii {v}"
        else:
            out[spec.exif] = str(v)
    return out
