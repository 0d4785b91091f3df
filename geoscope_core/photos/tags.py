"""One table from each field GeoScope reads or writes to its EXIF, XMP and IPTC tags.

The writer walks the table to know what to set (every family formats a field
its own way: EXIF rationals, XMP coordinate strings, IPTC bytes with length
limits); the reader walks it to find a location in XMP and to recognise
GeoScope's own estimates. Adding a field here adds it to both.
"""

from __future__ import annotations

import enum
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

BY_FIELD: dict[Field, TagSpec] = {t.field: t for t in TAGS}
#: Place-name fields (IPTC and XMP), in the order they are written.
PLACE_FIELDS = (Field.SUBLOCATION, Field.CITY, Field.STATE, Field.COUNTRY, Field.COUNTRY_CODE)
#: Fields holding a place's name (not a code), finest first.
NAME_FIELDS = (Field.SUBLOCATION, Field.CITY, Field.STATE, Field.COUNTRY)
#: XMP keys whose presence in a packet means it already names a place.
XMP_PLACE_KEYS = tuple(BY_FIELD[f].xmp for f in NAME_FIELDS)
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
    """exiv2 XMP key -> string for every field in ``values`` that has an XMP tag."""
    out: dict[str, str] = {}
    for spec in TAGS:
        if spec.field not in values or not spec.xmp:
            continue
        v = values[spec.field]
        if spec.field is Field.LATITUDE:
            out[spec.xmp] = format_xmp_coordinate(v, "N", "S")
        elif spec.field is Field.LONGITUDE:
            out[spec.xmp] = format_xmp_coordinate(v, "E", "W")
        elif spec.field is Field.GPS_VERSION:
            out[spec.xmp] = ".".join(str(x) for x in v)
        elif spec.field is Field.H_ERROR:
            out[spec.xmp] = f"{round(v)}/1"
        elif spec.field is Field.ESTIMATE:
            out[spec.xmp] = "True" if v else "False"
        elif spec.field is Field.CONFIDENCE:
            out[spec.xmp] = f"{v:.4f}"
        elif spec.field is Field.RADIUS_KM:
            out[spec.xmp] = f"{v:.3f}"
        elif spec.field is Field.GPS_TIME:
            out[spec.xmp] = xmp_datetime(v)
        elif spec.field is Field.ALTITUDE:
            out[spec.xmp] = f"{round(v * 1000)}/1000"
        else:
            out[spec.xmp] = str(v)
    return out


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
