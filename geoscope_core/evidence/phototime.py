"""A photo's capture time in UTC, and per-camera clock offsets.

EXIF DateTimeOriginal (+ SubSecTimeOriginal) is the camera clock's wall time. Its zone
comes from, in this order: OffsetTimeOriginal; the user's ``--tz ZONE``; the place
where the photo was (its own GPS, or where the track was at that time), looked up in
an offline time-zone map (tzfpy: a 5 MB wheel with no dependencies, the whole IANA
boundary set, microseconds a look-up; timezonefinder needs h3 and numpy-compiled data
of 40 MB). Each result says which (``PhotoTime.zone_note``).

A clock error is corrected like ExifTool's ``-geosync``: ``--time-offset +1:30`` adds
90 s to the camera time to get the true time; ``--time-offset "ILCE-7M2=-0:42"`` does so
only for the cameras whose "make model serial" contains ``ILCE-7M2``.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from geoscope_core.errors import ConfigError

_OFFSET_RE = re.compile(
    r"^\s*(?:(?P<cam>.*?)\s*=\s*)?(?P<sign>[+-])?(?P<body>\d+(?::\d+){0,2}(?:\.\d+)?)\s*$"
)
_TZ_RE = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.I)


@dataclass(frozen=True)
class ClockOffset:
    """``seconds`` to add to a camera's clock to get true time (ExifTool's Geosync sign);
    ``camera`` a case-insensitive part of the camera's "make model serial" ("" = all)."""

    seconds: float
    camera: str = ""

    def __post_init__(self) -> None:
        if not math.isfinite(self.seconds) or abs(self.seconds) > 366 * 86400:
            raise ConfigError(f"clock offset {self.seconds} s is not a usable offset")

    def applies_to(self, camera: str) -> bool:
        return not self.camera or self.camera.lower() in camera.lower()


def parse_time_offset(text: str) -> ClockOffset:
    """Parse ``[CAMERA=]+-[[HH:]MM:]SS[.s]`` (``+30``, ``-1:30``, ``Canon=+1:02:03``)."""
    m = _OFFSET_RE.match(text)
    if not m:
        raise ConfigError(f"--time-offset {text!r}: expected [CAMERA=]+-[[HH:]MM:]SS")
    parts = [float(p) for p in m.group("body").split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    if len(parts) > 1 and any(p >= 60 for p in parts[1:]):
        raise ConfigError(f"--time-offset {text!r}: minutes and seconds must be below 60")
    sign = -1.0 if m.group("sign") == "-" else 1.0
    return ClockOffset(sign * seconds, (m.group("cam") or "").strip())


def offset_for(camera: str, offsets: Sequence[ClockOffset]) -> float:
    """The offset (s) for ``camera``: the most specific matching entry (a named camera over
    the all-cameras one); 0 when none applies."""
    best: ClockOffset | None = None
    for o in offsets:
        if o.applies_to(camera) and (best is None or len(o.camera) > len(best.camera)):
            best = o
    return best.seconds if best is not None else 0.0


def utc_offset_text(minutes: int) -> str:
    """A fixed offset east of UTC as ``parse_zone`` and OffsetTimeOriginal spell it:
    -480 -> "-08:00", 345 -> "+05:45"."""
    h, m = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else '+'}{h:02d}:{m:02d}"


def parse_zone(text: str) -> tzinfo:
    """An IANA zone name (``Europe/Rome``), ``UTC``, or a fixed offset (``+02:00``, ``-8``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    s = text.strip()
    if s.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    m = _TZ_RE.match(s)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        if minutes > 14 * 60:
            raise ConfigError(f"--tz {text!r}: offsets go from -14:00 to +14:00")
        return timezone(timedelta(minutes=-minutes if m.group(1) == "-" else minutes))
    try:
        return ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"--tz {text!r}: not a time zone name or +-HH:MM offset") from e


@lru_cache(maxsize=4096)
def zone_at(lat: float, lon: float) -> str:
    """IANA zone name at ``lat``/``lon`` (degrees) from tzfpy's offline map ("" at sea
    when it has none)."""
    import tzfpy

    return str(tzfpy.get_tz(float(lon), float(lat)) or "")


def _epoch_naive_utc(dt: datetime) -> float:
    return calendar.timegm(dt.timetuple()) + dt.microsecond / 1e6


def local_to_utc(dt: datetime, zone: tzinfo) -> float:
    """Epoch seconds of the wall time ``dt`` (naive) in ``zone`` (DST resolved by zoneinfo;
    an ambiguous autumn hour takes its first occurrence)."""
    aware = dt.replace(tzinfo=zone, fold=0)
    return aware.timestamp()


@dataclass(frozen=True)
class PhotoTime:
    """``utc`` epoch seconds (NaN when unknown), ``zone_note`` where its zone came from
    (e.g. ``"+02:00 from OffsetTimeOriginal"``, ``"Europe/Rome from the track position"``),
    ``offset_s`` the clock correction applied (s)."""

    utc: float
    zone_note: str
    offset_s: float = 0.0

    @property
    def known(self) -> bool:
        return math.isfinite(self.utc)


def photo_utc(
    taken_at: datetime | None,
    utc_offset_min: int | None = None,
    *,
    zone: tzinfo | None = None,
    position: tuple[float, float] | None = None,
    position_at: Callable[[float], tuple[float, float] | None] | None = None,
    offset_s: float = 0.0,
) -> PhotoTime:
    """The UTC capture time of a photo whose camera clock read ``taken_at`` (naive).

    Zone, first found: ``utc_offset_min`` (OffsetTimeOriginal); ``zone`` (``--tz``);
    the zone at ``position`` (the photo's own GPS); the zone at ``position_at(t)`` (where
    the track was near time ``t``, epoch s: tried with the time read as UTC, then refined
    once). ``offset_s`` (a clock correction) is added to the result.
    """
    if taken_at is None:
        return PhotoTime(math.nan, "no capture time (DateTimeOriginal)")
    if utc_offset_min is not None:
        t = _epoch_naive_utc(taken_at) - 60 * utc_offset_min
        note = f"{utc_offset_text(utc_offset_min)} from OffsetTimeOriginal"
        return PhotoTime(t + offset_s, note, offset_s)
    if zone is not None:
        return PhotoTime(
            local_to_utc(taken_at, zone) + offset_s, f"{zone}, the zone you gave", offset_s
        )
    if position is not None:
        name = zone_at(*position)
        if name:
            from zoneinfo import ZoneInfo

            t = local_to_utc(taken_at, ZoneInfo(name))
            return PhotoTime(t + offset_s, f"{name} from the photo's GPS position", offset_s)
    if position_at is not None:
        from zoneinfo import ZoneInfo

        guess = _epoch_naive_utc(taken_at) + offset_s
        name = ""
        for _ in range(2):
            pos = position_at(guess)
            if pos is None:
                break
            name = zone_at(*pos)
            if not name:
                break
            guess = local_to_utc(taken_at, ZoneInfo(name)) + offset_s
        if name:
            return PhotoTime(guess, f"{name} from the track position", offset_s)
    return PhotoTime(math.nan, "no time zone (no OffsetTimeOriginal; give --tz)", offset_s)
