"""What every track reader fills: a :class:`RawTrack` of points in file order, and the time
and coordinate parsing they share."""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

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


def utc_epoch(year: int, month: int, day: int, hh: int, mm: int, ss: float) -> float:
    """Seconds since 1970-01-01 UTC of a UTC calendar time (``ss`` may have a fraction;
    a leap second, 60.x, is allowed). Raises ValueError when a part is out of range."""
    if not (1 <= month <= 12 and 1 <= day <= 31 and hh < 24 and mm < 60 and 0 <= ss < 61):
        raise ValueError("out of range")
    return float(calendar.timegm((year, month, day, hh, mm, 0, 0, 0, 0))) + ss


def parse_epoch(value: str | float | int) -> float:
    """Seconds since the epoch from epoch seconds or milliseconds (a number above 1e11 is
    taken as milliseconds: 1e11 s is the year 5138)."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"not a time: {value!r}")
    return v / 1000.0 if abs(v) > 1e11 else v


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
    """Points as a reader found them, in file order. ``t`` epoch seconds UTC (NaN: the point
    has no time), ``lat``/``lon`` degrees, ``ele`` metres (NaN unknown), ``segment`` the
    index of the track/segment/line it belongs to, ``span`` the id of the KML TimeSpan its
    time was spread over (-1 none; such points are always interpolated, as ExifTool does).
    ``warnings`` say what was skipped and where (line or element)."""

    format: str
    t: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    ele: list[float] = field(default_factory=list)
    segment: list[int] = field(default_factory=list)
    span: list[int] = field(default_factory=list)
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
        self.t.append(float(t))
        self.lat.append(lat)
        self.lon.append(lon)
        self.ele.append(float(ele) if ele is not None else math.nan)
        self.segment.append(int(segment))
        self.span.append(int(span))
        return True

    def warn(self, message: str) -> None:
        if len(self.warnings) < 1000:
            self.warnings.append(message)
        elif len(self.warnings) == 1000:
            self.warnings.append("more problems not listed")

    def broken_at(self, where: str, what: str, cause: BaseException) -> None:
        """The file cannot be read past ``where``: keep the points read before it, with a
        warning, or raise TrackError when there are none."""
        if not len(self):
            raise TrackError(f"{where}: {what}") from cause
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
