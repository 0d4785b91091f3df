"""Garmin TCX (``Trackpoint`` with ``Time`` and ``Position``) and the older Garmin
ForerunnerLogbook XML, read as a stream one Trackpoint at a time (so a truncated file
keeps the points before the damage). The points' time texts are parsed together with
numpy, as GPX's are, the points waiting for them in typed columns."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from array import array
from typing import BinaryIO

from geoscope_core.evidence.formats import xmlstream
from geoscope_core.evidence.formats.base import TIME_BATCH, RawTrack, parse_times, to_float

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
    # the points whose times are not parsed yet: time texts, Trackpoint numbers, segments,
    # coordinates (NaN altitude: none) and why a coordinate is not a number, by position
    times: list[str] = []
    numbers, segments = array("i"), array("i")
    lats, lons, alts = array("d"), array("d"), array("d")
    bad: dict[int, str] = {}

    def flush() -> None:
        t, errors = parse_times(times)
        why = dict(errors)  # a point's time is named before its coordinates, as read
        for i, number in enumerate(numbers):
            where = f"Trackpoint {number}"
            if i in why or i in bad:
                raw.warn(f"{where}: {why[i] if i in why else bad[i]}; skipped")
                continue
            raw.add(t[i], lats[i], lons[i], alts[i], segments[i], where=where)
        times.clear()
        bad.clear()
        for column in (numbers, segments, lats, lons, alts):
            del column[:]

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
            lat_s, lon_s, time_s = _find(el, _LAT), _find(el, _LON), _find(el, ("Time",))
            alt_s = _find(el, _ALT)
            if not lat_s or not lon_s:
                continue  # a Trackpoint without Position (heart rate only, a pause)
            if not time_s:
                untimed += 1
                continue
            lat = lon = alt = math.nan
            try:
                lat, lon = to_float(lat_s, "latitude"), to_float(lon_s, "longitude")
                alt = to_float(alt_s, "altitude") if alt_s else math.nan
            except ValueError as e:
                bad[len(times)] = str(e)
            times.append(time_s)
            numbers.append(n)
            segments.append(max(segment, 0))
            lats.append(lat)
            lons.append(lon)
            alts.append(alt)
            if len(times) >= TIME_BATCH:
                flush()
    except xmlstream.XmlBroken as e:
        flush()
        raw.broken_at(f"line {e.line}, column {e.column}", f"not well-formed XML ({e})", e)
    else:
        flush()
    if untimed:
        raw.warn(f"{untimed} Trackpoint(s) without <Time> skipped")
    return raw
