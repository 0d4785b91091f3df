"""Every track-log format GeoScope reads, one row each: its name, file suffixes, how its
content is recognised, its reader and the words that describe it. The loader's
detection order is the rows' order; the CLI's ``--track`` help, the desktop app's file
dialog and drop filter, and the README's list of formats are all derived from here.

>>> fmt = detect(Head(b'<?xml version="1.0"?><gpx version="1.1">', ".gpx"))
>>> fmt.key, fmt.suffixes
('gpx', ('.gpx',))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import BinaryIO

from geoscope_core.evidence.formats import (
    bramor,
    delimited,
    fit,
    garmin,
    gpx,
    jsontracks,
    kml,
    nmea,
)
from geoscope_core.evidence.formats.base import RawTrack, TrackError

#: bytes of a file's start that detection looks at
HEAD_BYTES = 4096


@dataclass(frozen=True)
class Head:
    """The start of a file (``data``, up to :data:`HEAD_BYTES`) and its suffix (``ext``,
    lower case with the dot), as detection sees them."""

    data: bytes
    ext: str = ""

    @cached_property
    def binary(self) -> bool:
        return b"\x00" in self.data

    @cached_property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")

    @cached_property
    def xml(self) -> bool:
        return not self.binary and self.text.startswith("<")

    @cached_property
    def low(self) -> str:
        return self.text.lower()

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()[:50]

    @property
    def plain(self) -> bool:
        """Text that is not XML (where the line- and JSON-based formats are looked for)."""
        return not self.binary and not self.xml


@dataclass(frozen=True)
class TrackFormat:
    """One format: ``key`` (its name here), ``title`` (a few words, as in help texts),
    ``suffixes`` (lower case, with the dot; the first is the usual one), ``sniff`` (True
    when a file's :class:`Head` is this format), ``read`` (the reader: a binary stream and
    the file's name to a :class:`RawTrack`), ``whole`` (the reader holds the whole file
    in memory, so a smaller size limit applies), ``xml`` (an XML format: an XML file no
    row recognises goes to the one whose suffix it has) and ``about`` (a sentence for the
    docs)."""

    key: str
    title: str
    suffixes: tuple[str, ...]
    sniff: Callable[[Head], bool]
    read: Callable[[BinaryIO, str], RawTrack]
    about: str
    whole: bool = False
    xml: bool = False


_NMEA = ("$GP", "$GN", "$GL", "$PMGN")
_OWNTRACKS = re.compile(r"\d{4}-\d\d-\d\dT[^\t]*\t[^\t]*\t\{")

#: The formats in detection order: the first row whose ``sniff`` accepts a file reads it
#: (FIT before the text formats: a ``.fit`` file is read as FIT whatever it holds).
FORMATS: dict[str, TrackFormat] = {
    f.key: f
    for f in (
        TrackFormat(
            "gpx",
            "GPX",
            (".gpx",),
            lambda h: h.xml and "<gpx" in h.low,
            gpx.read,
            "GPX 1.0 and 1.1: tracks, routes and timed waypoints",
            xml=True,
        ),
        TrackFormat(
            "kml",
            "KML/KMZ",
            (".kml", ".kmz"),
            lambda h: h.data[:2] == b"PK" or (h.xml and "<kml" in h.low),
            kml.read,
            "KML and KMZ: gx:Track, timed Placemarks, Google Timeline's TimeSpans",
            xml=True,
        ),
        TrackFormat(
            "tcx",
            "TCX",
            (".tcx",),
            lambda h: (
                h.xml
                and any(
                    m in h.low
                    for m in ("trainingcenterdatabase", "forerunnerlogbook", "<trackpoint")
                )
            ),
            garmin.read,
            "Garmin TCX and the older Garmin ForerunnerLogbook XML",
            xml=True,
        ),
        TrackFormat(
            "fit",
            "FIT",
            (".fit",),
            lambda h: h.data[8:12] == b".FIT" or h.ext == ".fit",
            fit.read,
            "Garmin FIT activity files (watches, bike computers, phone apps)",
        ),
        TrackFormat(
            "json",
            "GeoJSON/Google JSON",
            (".geojson", ".json"),
            lambda h: h.plain and h.text.startswith(("{", "[")),
            jsontracks.read,
            "GeoJSON with times; Google location history (Takeout Records.json, Semantic "
            "Location History, the phone's Timeline.json, the iOS export)",
            whole=True,
        ),
        TrackFormat(
            "owntracks",
            "OwnTracks",
            (".rec",),
            lambda h: h.plain and bool(_OWNTRACKS.match(h.text)),
            jsontracks.read_owntracks,
            "OwnTracks recorder .rec files",
        ),
        TrackFormat(
            "igc",
            "IGC",
            (".igc",),
            lambda h: (
                h.plain
                and (h.ext == ".igc" or any(ln.lstrip().startswith("HFDTE") for ln in h.lines))
            ),
            nmea.read_igc,
            "IGC flight logs (gliders, paragliders)",
        ),
        TrackFormat(
            "nmea",
            "NMEA",
            (".nmea", ".nma", ".log"),
            lambda h: h.plain and any(any(s in ln for s in _NMEA) for ln in h.lines),
            nmea.read,
            "NMEA 0183 logs (RMC, GGA, GLL, ZDA; Magellan PMGNTRK); not date-less ones "
            "(GGA only: ExifTool matches those by time of day on any date)",
        ),
        TrackFormat(
            "bramor",
            "Bramor gEO",
            (".log",),
            lambda h: h.plain and any(bramor.is_record(ln) for ln in h.lines),
            bramor.read,
            "Bramor gEO logs (C-Astral UAV)",
        ),
        TrackFormat(
            "csv",
            "CSV",
            (".csv",),
            lambda h: h.plain,
            delimited.read,
            "CSV with a header naming time, latitude and longitude columns; DJI flight "
            "CSV (its start time from the file name, taken as UTC)",
        ),
    )
}


def detect(head: Head) -> TrackFormat:
    """The format of a file from its start (its suffix only breaks ties); raises
    TrackError for a binary file or XML that no XML format recognises."""
    for f in FORMATS.values():
        if f.sniff(head):
            return f
    if head.xml:
        for f in FORMATS.values():
            if f.xml and head.ext in f.suffixes:
                return f
        names = [f.title for f in FORMATS.values() if f.xml]
        raise TrackError(f"XML, but not {', '.join(names[:-1])} or {names[-1]}")
    raise TrackError("binary file, not a supported track format")


def suffixes() -> tuple[str, ...]:
    """Every registered suffix, once, in the table's order."""
    return tuple(dict.fromkeys(s for f in FORMATS.values() for s in f.suffixes))


def help_text() -> str:
    """``FIT (.fit), GPX (.gpx), KML/KMZ (.kml .kmz), ...``: every format with its
    suffixes in one line, for help texts."""
    return ", ".join(f"{f.title} ({' '.join(f.suffixes)})" for f in FORMATS.values())


def dialog_patterns() -> str:
    """``*.fit *.gpx ...``: every suffix as a file-dialog pattern."""
    return " ".join(f"*{s}" for s in suffixes())


def markdown() -> str:
    """The formats as a Markdown table (the README's list is this text)."""
    rows = ["| format | suffixes | what |", "|---|---|---|"]
    for f in FORMATS.values():
        rows.append(f"| {f.title} | {' '.join(f'`{s}`' for s in f.suffixes)} | {f.about} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # the README's table: python -m geoscope_core.evidence.formats.registry
    print(markdown(), end="")
