"""GPX 1.0 and 1.1 with gpxpy: every track and segment, timed waypoints and route points.

gpxpy is the maintained GPX library (both schema versions, extensions, odd time
formats). A file it cannot parse (truncated, a stray character) is read again with
a forgiving pass that keeps every point before the damage and names the line.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import datetime
from typing import Any

from geoscope_core.evidence.formats.base import RawTrack, TrackError, parse_time, to_float


def _epoch(dt: datetime) -> float:
    """Epoch seconds of a gpxpy time (naive means UTC, as the GPX schema says)."""
    return calendar.timegm(dt.utctimetuple()) + dt.microsecond / 1e6


def read(data: bytes, name: str = "") -> RawTrack:
    import gpxpy
    import gpxpy.gpx

    text = data.decode("utf-8-sig", errors="replace").lstrip()
    raw = RawTrack("GPX")
    try:
        gpx = gpxpy.parse(text)
    except gpxpy.gpx.GPXException as e:
        raw.warn(f"not well-formed GPX ({e}); points before the damage kept")
        _salvage(text, raw, str(e))
        return raw
    raw.format = f"GPX {gpx.version}" if gpx.version else "GPX"
    raw.name = gpx.name or ""
    # GPX puts waypoints, then routes, then tracks (the schema's order); they are read in
    # that order so that of two fixes with one time the track's is kept, as ExifTool does.
    seg = 0
    untimed = 0
    groups: list[tuple[str, list[Any]]] = [
        ("wpt", gpx.waypoints),
        *((f"rte {i + 1} rtept", r.points) for i, r in enumerate(gpx.routes)),
    ]
    for kind, points in groups:
        for pi, p in enumerate(points):
            if p.time is None:
                untimed += 1
                continue
            raw.add(
                _epoch(p.time), p.latitude, p.longitude, p.elevation, seg, where=f"{kind} {pi + 1}"
            )
        seg += 1
    for ti, trk in enumerate(gpx.tracks):
        for si, segment in enumerate(trk.segments):
            for pi, p in enumerate(segment.points):
                where = f"trk {ti + 1} trkseg {si + 1} trkpt {pi + 1}"
                if p.time is None:
                    untimed += 1
                    continue
                raw.add(_epoch(p.time), p.latitude, p.longitude, p.elevation, seg, where=where)
            seg += 1
    if untimed:
        raw.warn(f"{untimed} point(s) without <time> skipped")
    return raw


_POINT = re.compile(r"<(?:\w+:)?(trkpt|wpt|rtept)\b([^>]*?)(/?)>", re.S)
_ATTR = re.compile(r"\b(lat|lon)\s*=\s*[\"']([^\"']*)[\"']")
_TIME = re.compile(r"<(?:\w+:)?time>\s*([^<]*?)\s*</(?:\w+:)?time>")
_ELE = re.compile(r"<(?:\w+:)?ele>\s*([^<]*?)\s*</(?:\w+:)?ele>")
_SEG = re.compile(r"<(?:\w+:)?(trkseg|trk|rte)\b")


def _salvage(text: str, raw: RawTrack, error: str) -> None:
    """Points of a damaged GPX file, by pattern: each complete ``<trkpt ...>...</trkpt>``
    (or wpt/rtept) with a time. Stops at the first incomplete point and says where."""
    seg = 0
    seg_starts = [m.start() for m in _SEG.finditer(text)]
    matches = list(_POINT.finditer(text))
    if not matches:
        raise TrackError(f"not well-formed GPX and no point found: {error}")
    for m in matches:
        line = text.count("\n", 0, m.start()) + 1
        attrs = dict(_ATTR.findall(m.group(2)))
        if m.group(3):
            body = ""
        else:
            end = text.find(f"</{m.group(1)}>", m.end())
            nxt = text.find("<" + m.group(1), m.end())
            if end < 0 or (0 <= nxt < end):
                raw.warn(f"line {line}: <{m.group(1)}> is not closed; reading stops here")
                break
            body = text[m.end() : end]
        seg = sum(1 for s in seg_starts if s < m.start())
        try:
            lat = to_float(attrs.get("lat"), "lat")
            lon = to_float(attrs.get("lon"), "lon")
            tm = _TIME.search(body)
            if tm is None:
                continue
            t = parse_time(tm.group(1))
            em = _ELE.search(body)
            ele = float(em.group(1)) if em else None
            if ele is not None and not math.isfinite(ele):
                ele = None
        except ValueError as e:
            raw.warn(f"line {line}: {e}; point skipped")
            continue
        raw.add(t, lat, lon, ele, seg, where=f"line {line}")
