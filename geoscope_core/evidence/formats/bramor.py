"""Bramor gEO logs (C-Astral Bramor UAV): one whitespace-separated line per photo trigger,
12 columns ending in ``ypr``::

    1 0001   42.721544   61.671879  249  25.21 21/04/2014 07:06:41  25.21  5.90  3.27 ypr
    ? index  latitude    longitude  alt  track dd/mm/yyyy HH:MM:SS  yaw    pitch roll

Latitude and longitude in signed degrees, altitude in metres, the time in UTC (seconds
may have a fraction), as ExifTool reads them.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from geoscope_core.evidence.formats.base import (
    RawTrack,
    TrackError,
    text_lines,
    to_float,
    utc_epoch,
)

#: A Bramor record line, as ``detect_format`` recognises the format (with 12 columns).
RECORD = re.compile(r"^\s*\d+\s+.*\sypr\s*$")
_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_TIME = re.compile(r"(\d{1,2}):(\d{2}):(\d{2}(?:\.\d*)?)")


def is_record(line: str) -> bool:
    return bool(RECORD.match(line)) and len(line.split()) == 12


def read(stream: BinaryIO, name: str = "") -> RawTrack:
    raw = RawTrack("Bramor gEO")
    seen = 0
    for n, line in enumerate(text_lines(stream), 1):
        parts = line.split()
        if not parts:
            continue
        where = f"line {n}"
        if len(parts) != 12 or parts[11] != "ypr":
            raw.warn(f"{where}: not a Bramor record (12 columns ending in 'ypr'); skipped")
            continue
        seen += 1
        d, tm = _DATE.fullmatch(parts[6]), _TIME.fullmatch(parts[7])
        if not d or not tm:
            raw.warn(f"{where}: time {parts[6]} {parts[7]} is not dd/mm/yyyy HH:MM:SS; skipped")
            continue
        day, month, year = (int(x) for x in d.groups())
        hh, mm, ss = int(tm.group(1)), int(tm.group(2)), float(tm.group(3))
        try:
            t = utc_epoch(year, month, day, hh, mm, ss)
        except ValueError:
            raw.warn(f"{where}: time {parts[6]} {parts[7]} out of range; skipped")
            continue
        try:
            lat = to_float(parts[2], "latitude")
            lon = to_float(parts[3], "longitude")
            ele = to_float(parts[4], "altitude")
        except ValueError as e:
            raw.warn(f"{where}: {e}; skipped")
            continue
        raw.add(t, lat, lon, ele, where=where)
    if not seen:
        raise TrackError("no Bramor gEO record (12 columns ending in 'ypr') found")
    return raw
