"""KML and KMZ: ``gx:Track`` (and ``gx:MultiTrack``), timestamped Placemarks, and Google
Maps Timeline placemarks whose points carry no time but a ``TimeSpan``.

Read with the standard library's ElementTree rather than fastkml: only four element
kinds matter here, fastkml validates geometry strictly (an empty ``gx:coord``, which
real exports contain, fails a whole track) and brings pygeoif and arrow along. The file is
read as a stream, one Placemark at a time, so a truncated file keeps every Placemark
before the damage. (A KMZ is opened, within size limits, by the loader.)

A Placemark with a ``TimeSpan`` and N untimed coordinates gets them spread evenly from
``begin`` to ``end`` (as ExifTool does); they share a span id and are always
interpolated between, however long the span. A file whose every altitude is 0 (Google's
location history, clamped to the ground) is read as having no elevation.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from array import array
from typing import BinaryIO

from geoscope_core.evidence.formats import xmlstream
from geoscope_core.evidence.formats.base import (
    TIME_BATCH,
    RawTrack,
    parse_time,
    parse_times,
    to_float,
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _descendants(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el.iter() if _local(c.tag) == name]


def _text(el: ET.Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _coords(text: str) -> list[tuple[float, float, float | None]]:
    """KML ``lon,lat[,alt]`` tuples separated by white space."""
    out = []
    for tup in text.split():
        parts = tup.split(",")
        if len(parts) < 2:
            raise ValueError(f"coordinate {tup!r} is not lon,lat[,alt]")
        alt = to_float(parts[2], "altitude") if len(parts) > 2 and parts[2] else None
        out.append((to_float(parts[0], "longitude"), to_float(parts[1], "latitude"), alt))
    return out


def _gx_coord(text: str) -> tuple[float, float, float | None]:
    """A ``gx:coord``: ``lon lat [alt]`` separated by spaces."""
    parts = text.split()
    if len(parts) < 2:
        raise ValueError(f"gx:coord {text!r} is not 'lon lat [alt]'")
    alt = to_float(parts[2], "altitude") if len(parts) > 2 else None
    return to_float(parts[0], "longitude"), to_float(parts[1], "latitude"), alt


class _Reader:
    def __init__(self) -> None:
        self.raw = RawTrack("KML")
        self.segment = 0
        self.span = 0
        self.placemarks = 0
        # each gx:Track's <when> and <gx:coord> texts, in order (kept out of the tree)
        self.texts: dict[int, dict[str, list[str]]] = {}

    def collect(self, track: ET.Element, child: str, text: str) -> None:
        self.texts.setdefault(id(track), {"when": [], "coord": []})[child].append(text.strip())

    def placemark(self, pm: ET.Element) -> None:
        self.placemarks += 1
        where = f"Placemark {self.placemarks}"
        tracks = _descendants(pm, "Track")
        if tracks:
            for i, trk in enumerate(tracks):
                self.track(trk, f"{where} gx:Track {i + 1}", pm)
            return
        when = _text(next(iter(_descendants(pm, "when")), None))
        span = next(iter(_descendants(pm, "TimeSpan")), None)
        coords: list[tuple[float, float, float | None]] = []
        for el in pm.iter():
            if _local(el.tag) == "coordinates" and _text(el):
                try:
                    coords.extend(_coords(_text(el)))
                except ValueError as e:
                    self.raw.warn(f"{where}: {e}; coordinates skipped")
        if not coords:
            return
        try:
            if when:
                t = parse_time(when)
                if len(coords) > 1:
                    self.raw.warn(
                        f"{where}: one TimeStamp for {len(coords)} points; only the first kept"
                    )
                lon, lat, alt = coords[0]
                self.raw.add(t, lat, lon, alt, self.segment, where=where)
            elif span is not None:
                self.spread(coords, span, where)
        except ValueError as e:
            self.raw.warn(f"{where}: {e}; placemark skipped")
        self.segment += 1

    def spread(self, coords: list, span: ET.Element, where: str) -> None:
        begin_s = _text(next(iter(_children(span, "begin")), None))
        end_s = _text(next(iter(_children(span, "end")), None))
        if not end_s:
            raise ValueError("TimeSpan without <end>")
        end = parse_time(end_s)
        begin = parse_time(begin_s) if begin_s else end
        if len(coords) == 1:
            coords = coords * 2
        n = len(coords) - 1
        self.span += 1
        for i, (lon, lat, alt) in enumerate(coords):
            t = begin + (end - begin) * (i / n) if n else end
            if i == 0 and t in self.raw.t[-len(coords) - 2 :]:
                t += 0.001  # the previous span ended here: keep both (ExifTool does)
            self.raw.add(t, lat, lon, alt, self.segment, self.span, where=f"{where} point {i + 1}")

    def track(self, trk: ET.Element, where: str, pm: ET.Element) -> None:
        texts = self.texts.pop(id(trk), {"when": [], "coord": []})
        whens, coords = texts["when"], texts["coord"]
        if not whens:
            span = next(iter(_descendants(pm, "TimeSpan")), None)
            parsed = []
            for i, c in enumerate(coords):
                if not c:
                    continue
                try:
                    parsed.append(_gx_coord(c))
                except ValueError as e:
                    self.raw.warn(f"{where} gx:coord {i + 1}: {e}; skipped")
            if parsed and span is not None:
                try:
                    self.spread(parsed, span, where)
                except ValueError as e:
                    self.raw.warn(f"{where}: {e}; track skipped")
            elif parsed:
                self.raw.warn(f"{where}: {len(parsed)} gx:coord without <when>; skipped")
            self.segment += 1
            return
        if len(whens) != len(coords):
            self.raw.warn(
                f"{where}: {len(whens)} <when> but {len(coords)} <gx:coord>; paired in order"
            )
        n = min(len(whens), len(coords))  # paired in order
        for a in range(0, n, TIME_BATCH):  # the times parsed as GPX's are: with numpy
            b = min(a + TIME_BATCH, n)
            t, errors = parse_times(whens[a:b])
            why = dict(errors)
            for i in range(a, b):
                at = f"{where} point {i + 1}"
                if not coords[i]:
                    self.raw.warn(f"{where} gx:coord {i + 1}: empty; skipped")
                    continue
                if i - a in why:
                    self.raw.warn(f"{at}: {why[i - a]}; skipped")
                    continue
                try:
                    lon, lat, alt = _gx_coord(coords[i])
                except ValueError as e:
                    self.raw.warn(f"{at}: {e}; skipped")
                    continue
                self.raw.add(t[i - a], lat, lon, alt, self.segment, where=at)
        self.segment += 1


def read(stream: BinaryIO, name: str = "") -> RawTrack:
    reader = _Reader()
    loose = 0
    try:
        for tag, el in xmlstream.iter_elements(
            stream,
            frozenset({"Placemark", "Track"}),
            divert={"Track": frozenset({"when", "coord"})},
            on_text=reader.collect,
        ):
            if tag == "Placemark":
                reader.placemark(el)
            else:
                loose += 1
                reader.track(el, f"gx:Track {loose} outside a Placemark", el)
    except xmlstream.XmlBroken as e:
        reader.raw.broken_at(f"line {e.line}, column {e.column}", f"not well-formed KML ({e})", e)
    ele = reader.raw.ele
    if ele and all(e == 0 or math.isnan(e) for e in ele):
        # Google's location history writes altitude 0 for every point: it knows none.
        reader.raw.ele = array("d", [math.nan]) * len(ele)
    return reader.raw
