"""Garmin TCX (``Trackpoint`` with ``Time`` and ``Position``) and the older Garmin
ForerunnerLogbook XML, with the standard library's ElementTree (read incrementally, so a
truncated file keeps the points before the damage)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from geoscope_core.evidence.formats.base import RawTrack, parse_time, to_float

_LAT = ("LatitudeDegrees", "Latitude")
_LON = ("LongitudeDegrees", "Longitude")
_ALT = ("AltitudeMeters", "Altitude")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(el: ET.Element, names: tuple[str, ...]) -> str:
    for c in el.iter():
        if _local(c.tag) in names and (c.text or "").strip():
            return (c.text or "").strip()
    return ""


def read(data: bytes, name: str = "") -> RawTrack:
    raw = RawTrack("TCX")
    segment = 0
    n = 0
    untimed = 0
    try:
        for _event, el in ET.iterparse(io.BytesIO(data.lstrip())):
            tag = _local(el.tag)
            if tag in ("Track", "Lap"):
                segment += tag == "Track"
            elif tag == "History" or tag == "TrainingCenterDatabase":
                raw.format = "TCX" if tag == "TrainingCenterDatabase" else "Garmin XML"
            if tag != "Trackpoint":
                continue
            n += 1
            where = f"Trackpoint {n}"
            lat_s, lon_s, time_s = _find(el, _LAT), _find(el, _LON), _find(el, ("Time",))
            alt_s = _find(el, _ALT)
            el.clear()
            if not lat_s or not lon_s:
                continue  # a Trackpoint without Position (heart rate only, a pause)
            if not time_s:
                untimed += 1
                continue
            try:
                raw.add(
                    parse_time(time_s),
                    to_float(lat_s, "latitude"),
                    to_float(lon_s, "longitude"),
                    to_float(alt_s, "altitude") if alt_s else None,
                    segment,
                    where=where,
                )
            except ValueError as e:
                raw.warn(f"{where}: {e}; skipped")
    except ET.ParseError as e:
        line, col = e.position
        raw.broken_at(f"line {line}, column {col}", f"not well-formed XML ({e})", e)
    if untimed:
        raw.warn(f"{untimed} Trackpoint(s) without <Time> skipped")
    return raw
