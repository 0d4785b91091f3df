"""JSON track logs: GeoJSON (timed Point features; LineStrings with a ``coordTimes`` or
``times`` property, as togeojson writes them) and Google location history: Takeout
``Records.json`` (``locations``), Semantic Location History (``timelineObjects``), the
on-device ``Timeline.json`` (``semanticSegments``, ``rawSignals``) and the iOS export (a list
of segments with ``geo:`` URIs).

A Google *visit* says where the person was from its start to its end: it becomes two
points at the place sharing a span id, so a photo taken during a long visit is placed
there however far apart the two times are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, BinaryIO

from geoscope_core.evidence.formats.base import (
    RawTrack,
    TrackError,
    parse_any_time,
    text_lines,
    to_float,
)

#: GeometryCollections nest no deeper than this (GeoJSON advises against nesting them)
MAX_NESTING = 16

_TIME_KEYS = ("time", "timestamp", "datetime", "date_time", "when", "Time", "Timestamp")
_LATLNG = re.compile(r"^\s*(?:geo:)?\s*([+-]?\d+(?:\.\d+)?)\s*°?\s*,\s*([+-]?\d+(?:\.\d+)?)\s*°?")


def _e7(value: Any) -> float:
    """Degrees of a Google ``latitudeE7``-style value (degrees x 1e7)."""
    return to_float(value, "E7 coordinate") * 1e-7


#: what an item of an unexpected shape raises (a string where a list belongs, ...)
_SHAPE_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError)


class _Json:
    def __init__(self, raw: RawTrack) -> None:
        self.raw = raw
        self.segment = 0
        self.span = 0

    def guard(self, read: Callable[[Any, str], None], item: Any, where: str) -> None:
        """``read(item, where)``; an item of an unexpected shape is skipped with a
        warning (the rest of the file is still read)."""
        try:
            read(item, where)
        except _SHAPE_ERRORS as e:
            self.raw.warn(f"{where}: unexpected content ({type(e).__name__}: {e}); skipped")

    def add(self, t: Any, lat: Any, lon: Any, ele: Any, where: str, span: int = -1) -> None:
        try:
            tt = parse_any_time(t)
            la, lo = to_float(lat, "latitude"), to_float(lon, "longitude")
            el = to_float(ele, "altitude") if ele not in (None, "") else None
        except (ValueError, OverflowError) as e:
            self.raw.warn(f"{where}: {e}; skipped")
            return
        self.raw.add(tt, la, lo, el, self.segment, span, where=where)

    # -- GeoJSON -------------------------------------------------------------------------
    def feature(self, f: Any, where: str) -> None:
        if not isinstance(f, dict):
            return
        props = f.get("properties") or {}
        geom = f.get("geometry") or {}
        times = props.get("coordTimes", props.get("times"))
        t = next((props[k] for k in _TIME_KEYS if k in props), None)
        if t is None and "time_long" in props:
            t = props["time_long"]
        self.geometry(geom, t, times, where)

    def geometry(self, geom: Any, t: Any, times: Any, where: str, depth: int = 0) -> None:
        if not isinstance(geom, dict):
            return
        if depth > MAX_NESTING:
            raise TrackError(f"{where}: GeometryCollections nested over {MAX_NESTING} deep")
        kind = geom.get("type")
        coords = geom.get("coordinates")
        if kind == "Point":
            if t is None or not isinstance(coords, list) or len(coords) < 2:
                return
            self.add(t, coords[1], coords[0], coords[2] if len(coords) > 2 else None, where)
            self.segment += 1
        elif kind == "LineString":
            self.line(coords, times, where)
        elif kind == "MultiLineString":
            for i, line in enumerate(coords or []):
                sub = times[i] if isinstance(times, list) and i < len(times) else None
                self.line(line, sub, f"{where} line {i + 1}")
        elif kind == "GeometryCollection":
            for i, g in enumerate(geom.get("geometries") or []):
                sub = (
                    times[i]
                    if isinstance(times, list)
                    and times
                    and isinstance(times[0], list)
                    and i < len(times)
                    else times
                )
                self.geometry(g, t, sub, f"{where} geometry {i + 1}", depth + 1)

    def line(self, coords: Any, times: Any, where: str) -> None:
        if not isinstance(times, list) or not times:
            if coords:
                self.raw.warn(f"{where}: LineString without coordTimes/times; skipped")
            return
        if len(times) != len(coords):
            self.raw.warn(
                f"{where}: {len(coords)} coordinates but {len(times)} times; paired in order"
            )
        for i, (c, t) in enumerate(zip(coords, times, strict=False)):
            at = f"{where} point {i + 1}"
            if not isinstance(c, list) or len(c) < 2:
                self.raw.warn(f"{at}: not a [lon, lat] coordinate; skipped")
                continue
            self.add(t, c[1], c[0], c[2] if len(c) > 2 else None, at)
        self.segment += 1

    # -- Google --------------------------------------------------------------------------
    def records(self, locations: list, key: str) -> None:
        for i, loc in enumerate(locations):
            self.guard(self.record, loc, f"{key}[{i}]")
        self.segment += 1

    def record(self, loc: Any, where: str) -> None:
        if not isinstance(loc, dict):
            return
        if loc.get("type") == "Feature":
            self.feature(loc, where)
            return
        lat, lon = loc.get("latitudeE7"), loc.get("longitudeE7")
        t = loc.get("timestamp", loc.get("timestampMs"))
        if lat is None or lon is None or t is None:
            self.raw.warn(f"{where}: no latitudeE7/longitudeE7/timestamp; skipped")
            return
        self.add(t, _e7(lat), _e7(lon), loc.get("altitude"), where)

    def visit(self, lat: Any, lon: Any, start: Any, end: Any, where: str) -> None:
        if lat is None or start is None:
            return
        self.span += 1
        self.add(start, lat, lon, None, f"{where} start", self.span)
        if end is not None:
            self.add(end, lat, lon, None, f"{where} end", self.span)
        self.segment += 1

    def semantic(self, objects: list) -> None:
        for i, obj in enumerate(objects):
            self.guard(self.timeline_object, obj, f"timelineObjects[{i}]")

    def timeline_object(self, obj: Any, where: str) -> None:
        pv = obj.get("placeVisit") if isinstance(obj, dict) else None
        seg = obj.get("activitySegment") if isinstance(obj, dict) else None
        if pv:
            loc = pv.get("location") or {}
            d = pv.get("duration") or {}
            lat, lon = loc.get("latitudeE7"), loc.get("longitudeE7")
            self.visit(
                None if lat is None else _e7(lat),
                None if lon is None else _e7(lon),
                d.get("startTimestamp", d.get("startTimestampMs")),
                d.get("endTimestamp", d.get("endTimestampMs")),
                f"{where}.placeVisit",
            )
        if seg:
            d = seg.get("duration") or {}
            for end, key in ((False, "startLocation"), (True, "endLocation")):
                loc = seg.get(key) or {}
                t = d.get("endTimestamp" if end else "startTimestamp")
                if loc.get("latitudeE7") is not None and t is not None:
                    self.add(
                        t,
                        _e7(loc["latitudeE7"]),
                        _e7(loc["longitudeE7"]),
                        None,
                        f"{where}.activitySegment.{key}",
                    )
            for j, p in enumerate((seg.get("simplifiedRawPath") or {}).get("points") or []):
                t = p.get("timestamp", p.get("timestampMs"))
                if t is not None:
                    self.add(
                        t, _e7(p["latE7"]), _e7(p["lngE7"]), None, f"{where}.simplifiedRawPath[{j}]"
                    )
            self.segment += 1

    def latlng(self, text: Any) -> tuple[float, float] | None:
        if isinstance(text, dict):
            text = text.get("latLng", text.get("LatLng"))
        m = _LATLNG.match(text) if isinstance(text, str) else None
        return (float(m.group(1)), float(m.group(2))) if m else None

    def segments(self, segs: list, key: str) -> None:
        """On-device Timeline.json ``semanticSegments`` and the iOS export's list."""
        for i, s in enumerate(segs):
            self.guard(self.timeline_segment, s, f"{key}[{i}]")

    def timeline_segment(self, s: Any, where: str) -> None:
        if not isinstance(s, dict):
            return
        start, end = s.get("startTime"), s.get("endTime")
        visit = s.get("visit")
        if isinstance(visit, dict):
            p = self.latlng((visit.get("topCandidate") or {}).get("placeLocation"))
            if p:
                self.visit(p[0], p[1], start, end, f"{where}.visit")
        act = s.get("activity")
        if isinstance(act, dict):
            for k, t in (("start", start), ("end", end)):
                p = self.latlng(act.get(k))
                if p and t is not None:
                    self.add(t, p[0], p[1], None, f"{where}.activity.{k}")
            self.segment += 1
        path = s.get("timelinePath")
        if isinstance(path, list):
            for j, pt in enumerate(path):
                p = self.latlng(pt.get("point")) if isinstance(pt, dict) else None
                if not p:
                    continue
                t = pt.get("time")
                if t is None and "durationMinutesOffsetFromStartTime" in pt and start:
                    try:
                        t = parse_any_time(start) + 60 * float(
                            pt["durationMinutesOffsetFromStartTime"]
                        )
                    except ValueError as e:
                        self.raw.warn(f"{where}.timelinePath[{j}]: {e}; skipped")
                        continue
                if t is not None:
                    self.add(t, p[0], p[1], None, f"{where}.timelinePath[{j}]")
            self.segment += 1

    def raw_signals(self, signals: list) -> None:
        for i, s in enumerate(signals):
            self.guard(self.raw_signal, s, f"rawSignals[{i}]")
        self.segment += 1

    def raw_signal(self, s: Any, where: str) -> None:
        pos = s.get("position") if isinstance(s, dict) else None
        if not isinstance(pos, dict):
            return
        p = self.latlng(pos.get("LatLng", pos.get("latLng")))
        t = pos.get("timestamp")
        if p and t is not None:
            self.add(t, p[0], p[1], pos.get("altitudeMeters"), where)


def read(stream: BinaryIO, name: str = "") -> RawTrack:
    """A JSON document is read whole (the loader limits its size)."""
    try:
        doc = json.loads(stream.read().decode("utf-8-sig"))
    except RecursionError as e:
        raise TrackError("not a track: JSON nested thousands of levels deep") from e
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError, a 5000-digit number
        where = (
            f"line {e.lineno}, column {e.colno}: " if isinstance(e, json.JSONDecodeError) else ""
        )
        raise TrackError(f"{where}not valid JSON: {e}") from e
    raw = RawTrack("JSON")
    r = _Json(raw)
    if isinstance(doc, list):
        raw.format = "Google Timeline (iOS export)"
        r.segments(doc, "")
    elif not isinstance(doc, dict):
        raise TrackError("JSON is neither an object nor a list")
    elif doc.get("type") == "FeatureCollection" or "features" in doc:
        raw.format = "GeoJSON"
        for i, f in enumerate(doc.get("features") or []):
            r.guard(r.feature, f, f"features[{i}]")
    elif doc.get("type") == "Feature":
        raw.format = "GeoJSON"
        r.guard(r.feature, doc, "feature")
    elif "locations" in doc:
        locs = doc["locations"] or []
        geo = bool(locs) and isinstance(locs[0], dict) and locs[0].get("type") == "Feature"
        raw.format = "GeoJSON (Overland)" if geo else "Google Records.json"
        r.records(locs, "locations")
    elif "timelineObjects" in doc:
        raw.format = "Google Semantic Location History"
        r.semantic(doc["timelineObjects"] or [])
    elif "semanticSegments" in doc or "rawSignals" in doc:
        raw.format = "Google Timeline.json"
        r.segments(doc.get("semanticSegments") or [], "semanticSegments")
        r.raw_signals(doc.get("rawSignals") or [])
    else:
        raise TrackError(
            "JSON is not GeoJSON or a known Google location-history export "
            f"(top-level keys: {', '.join(list(doc)[:6])})"
        )
    return raw


def read_owntracks(stream: BinaryIO, name: str = "") -> RawTrack:
    """OwnTracks recorder ``.rec``: ``TIME<TAB>TOPIC<TAB>{json}`` lines; ``location``
    messages (``_type``) give ``lat``, ``lon``, ``tst`` (epoch s) and ``alt``."""
    raw = RawTrack("OwnTracks .rec")
    r = _Json(raw)
    for n, line in enumerate(text_lines(stream), 1):
        parts = line.split("\t", 2)
        if len(parts) < 3:
            continue
        try:
            msg = json.loads(parts[2])
        except RecursionError:
            raw.warn(f"line {n}: JSON nested too deep; skipped")
            continue
        except ValueError as e:
            raw.warn(f"line {n}: not JSON ({e}); skipped")
            continue
        if not isinstance(msg, dict) or msg.get("_type") != "location":
            continue
        r.add(msg.get("tst", parts[0]), msg.get("lat"), msg.get("lon"), msg.get("alt"), f"line {n}")
    return raw
