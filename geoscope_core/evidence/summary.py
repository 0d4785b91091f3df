"""What ``geoscope track FILE`` reports about a track: points, time span, gaps, extent."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from geoscope_core.evidence.formats.base import utc_text
from geoscope_core.evidence.placement import DEFAULT_MAX_GAP_S, _dist_m
from geoscope_core.evidence.tracks import Track
from geoscope_core.geo.distance import EARTH_RADIUS_KM
from geoscope_core.words import duration


@dataclass(frozen=True)
class Gap:
    """Fixes more than the gap limit apart: ``start``/``end`` epoch s, ``seconds``,
    ``km`` distance between the two fixes."""

    start: float
    end: float
    seconds: float
    km: float


@dataclass(frozen=True)
class TrackSummary:
    """``points`` fixes; ``start``/``end`` epoch s UTC; ``segments`` drawn lines;
    ``length_km`` along the fixes (excluding gaps); ``bbox`` (min lat, min lon, max lat,
    max lon) degrees; ``area_km2`` of that box; ``gaps`` longer than ``max_gap_s``,
    longest first; ``formats``; ``warnings`` what the reader skipped."""

    points: int
    start: float
    end: float
    segments: int
    length_km: float
    bbox: tuple[float, float, float, float]
    area_km2: float
    max_gap_s: float
    gaps: tuple[Gap, ...]
    formats: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start_utc"], d["end_utc"] = utc_text(self.start), utc_text(self.end)
        return d


def summarize(track: Track, max_gap_s: float = DEFAULT_MAX_GAP_S) -> TrackSummary:
    """Figures of ``track`` (non-empty); gaps are intervals longer than ``max_gap_s``."""
    dt = np.diff(track.t)
    steps = _dist_m(track.lat[:-1], track.lon[:-1], track.lat[1:], track.lon[1:]) / 1000.0
    big = dt > max_gap_s
    same_span = (track.span[:-1] >= 0) & (track.span[:-1] == track.span[1:])
    big &= ~same_span
    order = np.argsort(-dt[big])
    idx = np.nonzero(big)[0][order]
    gaps = tuple(
        Gap(float(track.t[i]), float(track.t[i + 1]), float(dt[i]), float(steps[i])) for i in idx
    )
    lat0, lat1 = float(track.lat.min()), float(track.lat.max())
    lon0, lon1 = _lon_range(track.lon)
    width = (lon1 - lon0) % 360 if lon1 != lon0 else 0.0
    area = (
        (EARTH_RADIUS_KM**2)
        * abs(math.sin(math.radians(lat1)) - math.sin(math.radians(lat0)))
        * math.radians(width)
    )
    return TrackSummary(
        points=len(track),
        start=track.start,
        end=track.end,
        segments=len(track.polylines(max_gap_s)),
        length_km=float(steps[~big].sum()),
        bbox=(lat0, lon0, lat1, lon1),
        area_km2=float(area),
        max_gap_s=max_gap_s,
        gaps=gaps,
        formats=tuple(dict.fromkeys(track.formats)),
        warnings=track.warnings,
    )


def _lon_range(lon: np.ndarray) -> tuple[float, float]:
    """West and east edge of the smallest longitude range holding every fix (one that
    crosses the antimeridian has west > east)."""
    s = np.sort(np.unique(lon))
    if len(s) < 2:
        return float(s[0]), float(s[0])
    gaps = np.diff(np.concatenate([s, [s[0] + 360.0]]))
    k = int(np.argmax(gaps))  # the largest empty arc lies after s[k]
    if k == len(s) - 1:
        return float(s[0]), float(s[-1])
    return float(s[k + 1]), float(s[k])


def format_summary(name: str, s: TrackSummary, max_warnings: int = 10) -> str:
    """The summary as the lines ``geoscope track`` prints."""
    lat0, lon0, lat1, lon1 = s.bbox
    lines = [
        f"{name}: {', '.join(s.formats)}",
        f"  points    {s.points} in {s.segments} line(s), {s.length_km:.2f} km along the fixes",
        f"  time      {utc_text(s.start)} .. {utc_text(s.end)} ({duration(s.end - s.start)})",
        f"  area      lat {lat0:.5f} .. {lat1:.5f}, lon {lon0:.5f} .. {lon1:.5f}"
        f" ({s.area_km2:.3g} km²)",
        f"  gaps      {len(s.gaps)} longer than {s.max_gap_s:.0f} s"
        + (" (photos in them are placed only near a fix)" if s.gaps else ""),
    ]
    for g in s.gaps[:5]:
        span = f"{utc_text(g.start)} .. {utc_text(g.end)}"
        lines.append(f"            {span}  {duration(g.seconds)}, {g.km:.2f} km")
    if len(s.gaps) > 5:
        lines.append(f"            ... and {len(s.gaps) - 5} more")
    if s.warnings:
        lines.append(f"  notes     {len(s.warnings)} (what was skipped or assumed, and where):")
        lines.extend(f"            {w}" for w in s.warnings[:max_warnings])
        if len(s.warnings) > max_warnings:
            lines.append(f"            ... and {len(s.warnings) - max_warnings} more")
    return "\n".join(lines)
