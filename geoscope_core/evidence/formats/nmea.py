"""NMEA 0183 logs (RMC, GGA, GLL, ZDA; Magellan ``$PMGNTRK``) with pynmea2, and IGC flight
logs (``B`` records).

pynmea2 parses and checksums the standard sentences. NMEA gives a date only in RMC
and ZDA: a GGA/GLL fix takes the date of the last dated sentence when it is less than
10 s later (ExifTool's rule, which keeps a wrong day from being guessed); sentences with
the same time of day make one fix, whose position is the first one read. Fixes left
without a date are skipped and counted.
"""

from __future__ import annotations

import calendar
import math
import re
from typing import BinaryIO

from geoscope_core.evidence.formats.base import RawTrack, TrackError, text_lines

_DAY = 86400.0


def _tod(t: object) -> float | None:
    """Seconds since midnight of a pynmea2 ``datetime.time`` (None when absent)."""
    if t is None or not hasattr(t, "hour"):
        return None
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6  # type: ignore[attr-defined]


def _midnight(d: object) -> float | None:
    if d is None or not hasattr(d, "year"):
        return None
    return float(calendar.timegm((d.year, d.month, d.day, 0, 0, 0, 0, 0, 0)))  # type: ignore[attr-defined]


def _day(yy: int, month: int, day: int) -> float:
    """Epoch seconds of midnight UTC of a two-digit-year date (70-99: 19xx)."""
    year = yy + (1900 if yy >= 70 else 2000)
    return float(calendar.timegm((year, month, day, 0, 0, 0, 0, 0, 0)))


_MGNTRK = re.compile(
    r"^\$PMGNTRK,(\d+)(\d{2}\.\d+),([NS]),(\d+)(\d{2}\.\d+),([EW]),(-?\d+\.?\d*),([MF]),"
    r"(\d{2})(\d{2})(\d{2}(?:\.\d*)?),A,(?:[^,]*,(\d{2})(\d{2})(\d{2}))?"
)


class _Fixes:
    """Groups sentences into fixes and dates them."""

    def __init__(self, raw: RawTrack) -> None:
        self.raw = raw
        self.last_date: float | None = None  # midnight (epoch s) of the last dated sentence
        self.last_secs = 0.0
        self.cur: dict | None = None
        self.undated = 0

    def date(self, secs: float, midnight: float) -> None:
        self.last_date, self.last_secs = midnight, secs
        if self.cur is not None and self.cur["date"] is None and abs(self.cur["secs"] - secs) < 10:
            day = midnight - _DAY if secs < self.cur["secs"] - 1 else midnight
            self.cur["date"] = day

    def fix(
        self,
        secs: float,
        midnight: float | None,
        lat: float,
        lon: float,
        ele: float | None,
        where: str,
    ) -> None:
        if midnight is None and self.last_date is not None:
            if secs < self.last_secs - 1:  # past midnight
                self.last_date += _DAY
                self.last_secs -= _DAY
            if secs - self.last_secs < 10:
                midnight = self.last_date
            else:
                self.last_date = None
        if self.cur is not None and abs(self.cur["secs"] - secs) < 1e-3:
            if self.cur["date"] is None and midnight is not None:
                self.cur["date"] = midnight
            if self.cur["ele"] is None and ele is not None:
                self.cur["ele"] = ele
            if midnight is not None:
                self.last_date, self.last_secs = midnight, secs
            return
        self.flush()
        self.cur = {
            "secs": secs,
            "date": midnight,
            "lat": lat,
            "lon": lon,
            "ele": ele,
            "where": where,
        }
        if midnight is not None:
            self.last_date, self.last_secs = midnight, secs

    def flush(self) -> None:
        c, self.cur = self.cur, None
        if c is None:
            return
        if c["date"] is None:
            self.undated += 1
            return
        self.raw.add(c["date"] + c["secs"], c["lat"], c["lon"], c["ele"], where=c["where"])


def read(stream: BinaryIO, name: str = "") -> RawTrack:
    import pynmea2

    raw = RawTrack("NMEA")
    fixes = _Fixes(raw)
    seen = 0
    midnight: float | None
    ele: float | None
    for n, line in enumerate(text_lines(stream, "ascii"), 1):
        i = line.find("$")
        if i < 0:
            continue
        s = line[i:].strip()
        where = f"line {n}"
        if s.startswith("$PMGNTRK"):
            m = _MGNTRK.match(s)
            if not m:
                continue
            seen += 1
            g = m.groups()
            lat = (int(g[0]) + float(g[1]) / 60) * (1 if g[2] == "N" else -1)
            lon = (int(g[3]) + float(g[4]) / 60) * (1 if g[5] == "E" else -1)
            ele = float(g[6]) if g[7] == "M" else float(g[6]) * 0.3048
            secs = int(g[8]) * 3600 + int(g[9]) * 60 + float(g[10])
            midnight = None
            if g[11]:
                yy = int(g[13])
                midnight = _day(yy, int(g[12]), int(g[11]))
            fixes.fix(secs, midnight, lat, lon, ele, where)
            continue
        try:
            msg = pynmea2.parse(s)
        except pynmea2.ChecksumError:
            raw.warn(f"{where}: checksum mismatch; sentence skipped")
            continue
        except (pynmea2.ParseError, ValueError, TypeError):
            continue  # unknown or proprietary sentence: not a fix
        kind = getattr(msg, "sentence_type", "")
        try:
            if kind == "ZDA":
                zsecs, zday = _tod(msg.timestamp), _midnight(msg.datestamp)
                if zsecs is not None and zday is not None:
                    fixes.date(zsecs, zday)
                continue
            if kind not in ("RMC", "GGA", "GLL"):
                continue
            seen += 1
            if kind == "RMC" and msg.status not in ("A", ""):
                continue
            if kind == "GGA" and str(msg.gps_qual or "").strip() in ("0",):
                continue
            if kind == "GLL" and getattr(msg, "status", "A") not in ("A", ""):
                continue
            if not msg.lat or not msg.lon:
                continue
            tod = _tod(msg.timestamp)
            if tod is None:
                continue
            secs = tod
            lat, lon = float(msg.latitude), float(msg.longitude)
            midnight = _midnight(msg.datestamp) if kind == "RMC" else None
            ele = None
            if kind == "GGA" and msg.altitude not in (None, ""):
                ele = float(msg.altitude)
                if not math.isfinite(ele):
                    ele = None
        except (ValueError, TypeError, AttributeError) as e:
            raw.warn(f"{where}: unreadable {kind} sentence ({e}); skipped")
            continue
        fixes.fix(secs, midnight, lat, lon, ele, where)
    fixes.flush()
    if not seen:
        raise TrackError("no NMEA position sentence (RMC, GGA, GLL, PMGNTRK) found")
    if fixes.undated:
        raw.warn(
            f"{fixes.undated} fix(es) with a time of day but no date (no RMC/ZDA within "
            "10 s) skipped"
        )
    return raw


_IGC_B = re.compile(
    r"^B(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})([NS])(\d{3})(\d{2})(\d{3})"
    r"([EW])([AV])(\d{5}|-\d{4})(\d{5}|-\d{4})"
)
_IGC_DATE = re.compile(r"^HFDTE(?:DATE:)?(\d{2})(\d{2})(\d{2})")


def read_igc(stream: BinaryIO, name: str = "") -> RawTrack:
    """IGC: the date from ``HFDTE``, fixes from ``B`` records (UTC; a time earlier than the
    previous one means the next day)."""
    raw = RawTrack("IGC")
    midnight: float | None = None
    last = -1.0
    undated = 0
    for n, line in enumerate(text_lines(stream, "ascii"), 1):
        m = _IGC_DATE.match(line)
        if m:
            dd, mm, yy = (int(x) for x in m.groups())
            midnight = _day(yy, mm, dd)
            continue
        m = _IGC_B.match(line)
        if not m:
            if line.startswith("B"):
                raw.warn(f"line {n}: unreadable B record; skipped")
            continue
        g = m.groups()
        secs = int(g[0]) * 3600 + int(g[1]) * 60 + int(g[2])
        if midnight is None:
            undated += 1
            continue
        if secs < last - 1:
            midnight += _DAY
        last = secs
        lat = (int(g[3]) + (int(g[4]) + int(g[5]) / 1000) / 60) * (1 if g[6] == "N" else -1)
        lon = (int(g[7]) + (int(g[8]) + int(g[9]) / 1000) / 60) * (1 if g[10] == "E" else -1)
        ele = float(g[13]) if g[11] == "A" else None
        raw.add(midnight + secs, lat, lon, ele, where=f"line {n}")
    if undated:
        raw.warn(f"{undated} B record(s) before any HFDTE date skipped")
    return raw
