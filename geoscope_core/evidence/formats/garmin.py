"""Garmin TCX (``Trackpoint`` with ``Time`` and ``Position``) and the older Garmin
ForerunnerLogbook XML, read as a stream one Trackpoint at a time (so a truncated file
keeps the points before the damage)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import BinaryIO

from geoscope_core.evidence.formats import xmlstream
from geoscope_core.evidence.formats.base import RawTrack, parse_time_fast, to_float

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


def read(stream: BinaryIO, name: str = "") -> RawTrack:
    raw = RawTrack("TCX")
    segment = -1
    n = 0
    untimed = 0
    tcx = False  # inside a TrainingCenterDatabase (which may hold a History)
    wanted = frozenset({"Trackpoint"})
    starts = frozenset({"Track", "History", "TrainingCenterDatabase"})
    try:
        for tag, el in xmlstream.iter_elements(stream, wanted, starts):
            if tag == "+Track":
                segment += 1
                continue
            if tag == "+TrainingCenterDatabase":
                tcx = True
                continue
            if tag == "+History":
                raw.format = "TCX" if tcx else "Garmin XML"
                continue
            n += 1
            where = f"Trackpoint {n}"
            lat_s, lon_s, time_s = _find(el, _LAT), _find(el, _LON), _find(el, ("Time",))
            alt_s = _find(el, _ALT)
            if not lat_s or not lon_s:
                continue  # a Trackpoint without Position (heart rate only, a pause)
            if not time_s:
                untimed += 1
                continue
            try:
                raw.add(
                    parse_time_fast(time_s),
                    to_float(lat_s, "latitude"),
                    to_float(lon_s, "longitude"),
                    to_float(alt_s, "altitude") if alt_s else None,
                    max(segment, 0),
                    where=where,
                )
            except ValueError as e:
                raw.warn(f"{where}: {e}; skipped")
    except xmlstream.XmlBroken as e:
        raw.broken_at(f"line {e.line}, column {e.column}", f"not well-formed XML ({e})", e)
    if untimed:
        raw.warn(f"{untimed} Trackpoint(s) without <Time> skipped")
    return raw
