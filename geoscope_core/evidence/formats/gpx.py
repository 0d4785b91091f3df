"""GPX 1.0 and 1.1: every track and segment, timed waypoints and route points, read as a
stream.

The file is fed to expat a chunk at a time; each point's numbers go straight into the
track's typed columns and its time text is parsed with numpy a batch at a time, so a
1M-point (80 MB) file is read in a few seconds with flat memory. gpxpy, which read GPX
here before, builds the whole document and a Python object per point (1.4 GB and
30 s for such a file) and is no longer used. Points come in file order (waypoints,
routes, then tracks, as the schema orders them), so of two fixes with one time the
track's is kept, as ExifTool does. A damaged file (truncated, a stray character) keeps
every point before the damage, and the warning names the line.
"""

from __future__ import annotations

import math
from array import array
from typing import BinaryIO

from geoscope_core.evidence.formats import xmlstream
from geoscope_core.evidence.formats.base import TIME_BATCH, RawTrack, TrackError, parse_times

_POINT, _TIME, _ELE, _SEGMENT, _TRACK, _ROUTE, _NAME = range(7)
_KINDS = {
    "trkpt": _POINT,
    "wpt": _POINT,
    "rtept": _POINT,
    "time": _TIME,
    "ele": _ELE,
    "trkseg": _SEGMENT,  # each track segment and each route is a segment of the track
    "trk": _TRACK,
    "rte": _ROUTE,
    "name": _NAME,
}


def read(stream: BinaryIO, name: str = "") -> RawTrack:
    raw = RawTrack("GPX")
    p = xmlstream.parser()
    lat_col, lon_col, ele_col, seg_col = raw.lat, raw.lon, raw.ele, raw.segment
    times: list[str] = []  # time texts of the points not yet parsed
    lines = array("i")  # the line of each point, to name it in a warning
    kinds = _KINDS
    nan, isfinite = math.nan, math.isfinite
    # the open point (attributes, time and elevation texts, line); the text being
    # collected (_TIME, _ELE or _NAME) and the file's <name>; the segment; the depth in
    # <trk>/<rte> (a <name> there is not the file's); points without a time
    attrs: dict[str, str] | None = None
    tm: str | None = None
    ele_s: str | None = None
    line = 0
    field = -1
    file_name: str | None = None
    segment = group = untimed = 0
    root = False

    def data(text: str) -> None:
        nonlocal tm, ele_s, file_name
        if field == _TIME:
            tm = text if tm is None else tm + text
        elif field == _ELE:
            ele_s = text if ele_s is None else ele_s + text
        else:
            file_name = text if file_name is None else file_name + text

    def flush() -> None:
        t, errors = parse_times(times)
        for i, why in errors:
            raw.warn(f"line {lines[i]}: {why}; point skipped")
        raw.t.extend(array("d", t.tobytes()))
        times.clear()
        del lines[:]

    def start(tag: str, a: dict[str, str]) -> None:
        nonlocal attrs, tm, ele_s, line, field, segment, group, root
        k = kinds.get(tag)
        if k is None and ":" in tag:
            k = kinds.get(xmlstream.local(tag))
        if k == _TIME:
            field, tm = _TIME, None
            p.CharacterDataHandler = data
        elif k == _POINT:
            attrs, tm, ele_s, line = a, None, None, p.CurrentLineNumber
        elif k == _ELE:
            field, ele_s = _ELE, None
            p.CharacterDataHandler = data
        elif k == _SEGMENT:
            segment += 1
        elif k in (_TRACK, _ROUTE):
            group += 1
            segment += k == _ROUTE
        elif k == _NAME:
            if attrs is None and not group and file_name is None:
                field = _NAME
                p.CharacterDataHandler = data
        elif not root:
            root = True
            if xmlstream.local(tag) != "gpx":
                raise TrackError(f"XML root element is <{tag}>, not <gpx>")
            version = a.get("version")
            raw.format = f"GPX {version}" if version else "GPX"

    def end(tag: str) -> None:
        nonlocal attrs, field, group
        k = kinds.get(tag)
        if k is None and ":" in tag:
            k = kinds.get(xmlstream.local(tag))
        if k in (_TIME, _ELE):
            p.CharacterDataHandler = None
        elif k == _POINT:
            if attrs is not None:
                point(attrs)
            attrs = None
        elif k in (_TRACK, _ROUTE):
            group -= 1
        elif k == _NAME and field == _NAME:
            p.CharacterDataHandler = None
            field = -1

    def point(a: dict[str, str]) -> None:
        nonlocal untimed
        if tm is None:
            untimed += 1
            return
        try:
            lat, lon = float(a["lat"]), float(a["lon"])
        except (KeyError, ValueError) as e:
            what = f"no {e} attribute" if isinstance(e, KeyError) else str(e)
            raw.warn(f"line {line}: {what}; point skipped")
            return
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raw.warn(f"line {line}: coordinate {lat:g},{lon:g} out of range, point skipped")
            return
        ele = nan
        if ele_s:
            try:
                ele = float(ele_s)
            except ValueError:
                raw.warn(f"line {line}: elevation {ele_s.strip()!r} is not a number; none kept")
            if not isfinite(ele):
                ele = nan
        times.append(tm)
        lines.append(line)
        lat_col.append(lat)
        lon_col.append(lon)
        ele_col.append(ele)
        seg_col.append(segment)
        if len(times) >= TIME_BATCH:
            flush()

    p.StartElementHandler = start
    p.EndElementHandler = end
    try:
        for _ in xmlstream.feed(p, stream):
            pass
    except xmlstream.XmlBroken as e:
        flush()
        raw.span.extend(array("i", [-1]) * len(raw.t))
        raw.broken_at(f"line {e.line}, column {e.column}", f"not well-formed GPX ({e})", e)
    else:
        flush()
        raw.span.extend(array("i", [-1]) * len(raw.t))
    if untimed:
        raw.warn(f"{untimed} point(s) without <time> skipped")
    if file_name:
        raw.name = file_name.strip()
    return raw
