"""What every track reader fills: a :class:`RawTrack` of points in file order, and the time
and coordinate parsing they share."""

from __future__ import annotations

import calendar
import io
import math
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO

import numpy as np

from geoscope_core.errors import DataError


class TrackError(DataError):
    """A track file cannot be read, or holds no usable timed point."""


_ISO = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(\.\d*)?)?"
    r"\s*(Z|z|UTC|[+-]\d{1,2}(?::?\d{2})?)?\s*$"
)


def parse_time(text: str) -> float:
    """Seconds since 1970-01-01 UTC of an ISO 8601 time (``2024-01-29T10:25:02Z``,
    ``...+02:00``, ``...-0500``, fractions, a space for the ``T``). A time without a zone
    is UTC (GPX, KML and TCX say so). Raises ValueError for anything else."""
    m = _ISO.match(text)
    if not m:
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    t = calendar.timegm((int(y), int(mo), int(d), int(hh), int(mm), int(ss or 0), 0, 0, 0))
    if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31 and int(hh) <= 24 and int(mm) < 60):
        raise ValueError(f"time out of range: {text!r}")
    value = float(t) + (float(frac) if frac and frac != "." else 0.0)
    if tz and tz.upper() not in ("Z", "UTC"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours = int(digits[:-2] or 0) if len(digits) > 2 else int(digits)
        minutes = int(digits[-2:]) if len(digits) > 2 else 0
        value -= sign * (hours * 3600 + minutes * 60)
    return value


#: How many time texts :func:`parse_times` is given at once by the readers of long logs
#: (GPX, KML, TCX): numpy's temporaries stay a few MB however long the file.
TIME_BATCH = 1 << 14


def parse_times(texts: list[str]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """:func:`parse_time` of many texts at once: float64 [N] epoch seconds, NaN where a
    text is not a time, and ``(index, why)`` of those (in index order). The form nearly
    every logger writes (``2024-01-29T10:25:02Z``) is parsed with numpy, the others one by
    one; readers of long logs give it TIME_BATCH texts at a time."""
    out = np.full(len(texts), np.nan)
    if not texts:
        return out, []
    slow = np.ones(len(texts), bool)
    b = _text_bytes(texts)
    if b is not None and b.shape[1] >= 20:
        digits = b[:, _DIGIT_AT]
        fast = ((digits >= 48) & (digits <= 57)).all(axis=1)
        for at, ch in _SEPARATORS:
            fast &= b[:, at] == ch
        if b.shape[1] > 20:
            fast &= (b[:, 20:] == 0).all(axis=1)
        d = digits[fast].astype(np.int32) - 48
        year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
        month, day = d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]
        hh, mm, ss = d[:, 8] * 10 + d[:, 9], d[:, 10] * 10 + d[:, 11], d[:, 12] * 10 + d[:, 13]
        # an impossible date (2024-02-30, month 13) goes one by one, as parse_time reads it
        good = (hh < 24) & (mm < 60) & (ss < 61) & (month >= 1) & (month <= 12) & (day >= 1)
        good &= day <= _month_days(year, np.clip(month, 1, 12))
        idx = np.nonzero(fast)[0][good]
        days = _days_from_civil(year[good], month[good], day[good])
        out[idx] = days * 86400.0 + (hh * 3600 + mm * 60 + ss)[good]
        slow[idx] = False
    errors = []
    for i in np.nonzero(slow)[0]:
        try:
            out[i] = parse_time(texts[i])
        except ValueError as e:
            errors.append((int(i), str(e)))
    return out, errors


def _text_bytes(texts: list[str]) -> np.ndarray | None:
    """The texts' bytes as uint8 [N, W] (W: the longest; shorter ones NUL-padded), or None
    when one is not ASCII. Texts of one length (as a logger writes them) are joined
    and viewed, several times quicker than numpy's conversion of a list of strings."""
    try:
        width = len(texts[0])
        if all(len(t) == width for t in texts):
            joined = "".join(texts).encode("ascii")
            return np.frombuffer(joined, np.uint8).reshape(len(texts), width)
        a = np.array(texts, dtype="S")
    except UnicodeEncodeError:
        return None
    return a.view(np.uint8).reshape(len(a), a.dtype.itemsize)


def _month_days(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Days in ``month`` (1-12) of ``year`` (Gregorian), integer arrays."""
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return _DAYS_IN_MONTH[month - 1] + ((month == 2) & leap)


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of valid proleptic Gregorian dates, integer arrays (H. Hinnant's
    days_from_civil). numpy's own text-to-datetime64 cast is not used: given an
    impossible date among a thousand others it crashes the process (numpy 2.4)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int32)

#: positions of the digits and separators in ``2024-01-29T10:25:02Z``
_DIGIT_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_SEPARATORS = [(4, 45), (7, 45), (10, 84), (13, 58), (16, 58), (19, 90)]


def utc_epoch(year: int, month: int, day: int, hh: int, mm: int, ss: float) -> float:
    """Seconds since 1970-01-01 UTC of a UTC calendar time (``ss`` may have a fraction;
    a leap second, 60.x, is allowed). Raises ValueError when a part is out of range."""
    if not (1 <= month <= 12 and 1 <= day <= 31 and hh < 24 and mm < 60 and 0 <= ss < 61):
        raise ValueError("out of range")
    return float(calendar.timegm((year, month, day, hh, mm, 0, 0, 0, 0))) + ss


#: Times outside these (epoch s: 1900-01-01 .. 2200-01-01 UTC) are not GPS fixes.
MIN_TIME, MAX_TIME = -2208988800.0, 7258118400.0


def parse_epoch(value: str | float | int) -> float:
    """Seconds since the epoch from epoch seconds or milliseconds (a number above 1e11 is
    taken as milliseconds: 1e11 s is the year 5138). Raises ValueError for a time outside
    1900..2200."""
    try:
        v = float(value)
    except OverflowError as e:  # an integer of hundreds of digits
        raise ValueError(f"time {str(value)[:24]}... out of range") from e
    if not math.isfinite(v):
        raise ValueError(f"not a time: {value!r}")
    v = v / 1000.0 if abs(v) > 1e11 else v
    if not MIN_TIME <= v <= MAX_TIME:
        raise ValueError(f"time {str(value)[:24]} out of range (not 1900..2200)")
    return v


def parse_any_time(value: object) -> float:
    """ISO 8601 text or epoch seconds/milliseconds (number or digit string)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return parse_epoch(value)
    if isinstance(value, str):
        s = value.strip()
        if re.fullmatch(r"[+-]?\d+(\.\d*)?", s):
            return parse_epoch(s)
        return parse_time(s)
    raise ValueError(f"not a time: {value!r}")


def utc_text(t: float) -> str:
    """``2024-01-29T10:25:02Z`` (fraction kept when there is one) of epoch seconds."""
    dt = datetime.fromtimestamp(t, tz=timezone.utc)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = t - math.floor(t)
    if frac > 5e-4:
        text += f"{frac:.3f}"[1:].rstrip("0")
    return text + "Z"


@dataclass
class RawTrack:
    """Points as a reader found them, in file order, in compact typed columns (8 bytes a
    value, no Python object per point). ``t`` epoch seconds UTC (NaN: the point has no
    time), ``lat``/``lon`` degrees, ``ele`` metres (NaN unknown), ``segment`` the index of
    the track/segment/line it belongs to, ``span`` the id of the KML TimeSpan its time was
    spread over (-1 none; such points are always interpolated, as ExifTool does).
    ``warnings`` say what was skipped and where (line or element)."""

    format: str
    t: array = field(default_factory=lambda: array("d"))
    lat: array = field(default_factory=lambda: array("d"))
    lon: array = field(default_factory=lambda: array("d"))
    ele: array = field(default_factory=lambda: array("d"))
    segment: array = field(default_factory=lambda: array("i"))
    span: array = field(default_factory=lambda: array("i"))
    warnings: list[str] = field(default_factory=list)
    name: str = ""

    def add(
        self,
        t: float,
        lat: float,
        lon: float,
        ele: float | None = None,
        segment: int = 0,
        span: int = -1,
        where: str = "",
    ) -> bool:
        """Append a point; one with an impossible coordinate is skipped with a warning
        naming ``where`` (e.g. OpenTracks writes lat=100 as a pause marker)."""
        lat, lon = float(lat), float(lon)
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
            self.warn(f"{where}: coordinate {lat:g},{lon:g} out of range, point skipped")
            return False
        self.append(float(t), lat, lon, math.nan if ele is None else float(ele), segment, span)
        return True

    def append(
        self, t: float, lat: float, lon: float, ele: float, segment: int, span: int = -1
    ) -> None:
        """Append a point the caller has checked (floats; ``ele`` NaN when unknown)."""
        self.t.append(t)
        self.lat.append(lat)
        self.lon.append(lon)
        self.ele.append(ele)
        self.segment.append(segment)
        self.span.append(span)

    def columns(self) -> tuple[np.ndarray, ...]:
        """``t, lat, lon, ele`` float64 [N] and ``segment, span`` int32 [N] (copies)."""
        f = [np.frombuffer(c, np.float64).copy() for c in (self.t, self.lat, self.lon, self.ele)]
        i = [np.frombuffer(c, np.intc).astype(np.int32) for c in (self.segment, self.span)]
        return (*f, *i)

    def warn(self, message: str) -> None:
        if len(self.warnings) < 1000:
            self.warnings.append(message)
        elif len(self.warnings) == 1000:
            self.warnings.append("more problems not listed")

    def broken_at(self, where: str, what: str, cause: BaseException) -> None:
        """The file cannot be read past ``where``: keep the points read before it, with a
        warning, or raise TrackError when there are none."""
        if not len(self):
            raise TrackError(f"{where}: {what}; no fix before it") from cause
        self.warn(f"{where}: {what}; points before it kept")

    def __len__(self) -> int:
        return len(self.t)


def to_float(text: object, what: str) -> float:
    """``float(text)`` with a ValueError naming ``what``."""
    try:
        v = float(str(text).strip())
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} {text!r} is not a number") from e
    if not math.isfinite(v):
        raise ValueError(f"{what} {text!r} is not finite")
    return v


def text_lines(stream: BinaryIO, encoding: str = "utf-8-sig") -> Iterator[str]:
    """The lines of a binary stream as text (undecodable bytes replaced, line ends
    stripped), read a buffer at a time; the stream stays open."""
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline=None)
    try:
        for line in text:
            yield line.rstrip("\n")
    finally:
        text.detach()
