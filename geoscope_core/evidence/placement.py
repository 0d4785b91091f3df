"""Placing photos on a track by time: great-circle interpolation between the bracketing
fixes, with ExifTool's limits.

For a photo at UTC time ``t`` and fixes ``T[0] < ... < T[n-1]``:

- ``t`` before ``T[0]`` or after ``T[n-1]``: the end fix, if no more than
  ``max_extrapolation_s`` away (ExifTool's GeoMaxExtSecs, default 1800 s), else refused;
- between ``T[i]`` and ``T[i+1]`` no more than ``max_gap_s`` apart (GeoMaxIntSecs, default
  1800 s), or inside one time span (a KML TimeSpan, a Google visit): interpolated along the
  great circle at fraction ``(t - T[i]) / (T[i+1] - T[i])``;
- in a longer gap: the nearer fix if within ``max_extrapolation_s``, else refused.

Elevation (as ExifTool's, where fixes lack one): from the fixes that have one, linearly
in time between the two that bracket an interpolated photo (each within ``max_gap_s`` of
it), else that of the nearest such fix within ``max_extrapolation_s``; else unknown (NaN).

Error radius (metres): ``GPS_ERROR_M + speed * dt`` with ``dt`` the time to the nearer
fix and ``speed`` the larger of walking speed and the speed between the two fixes (or
between the last two at an end). Confidence: ``0.99 * exp(-radius / CONFIDENCE_SCALE_M)``,
the chance the point is right at city scale, so it falls with both the gap and the speed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from geoscope_core.errors import ConfigError
from geoscope_core.evidence.tracks import Track
from geoscope_core.words import duration

#: Typical error of a logger's fix, metres.
GPS_ERROR_M = 10.0
#: Walking speed, m/s: the least a photographer may have moved between fixes.
WALKING_M_S = 1.5
#: Radius (m) at which confidence has fallen to 0.99/e.
CONFIDENCE_SCALE_M = 25_000.0
#: ExifTool's GeoMaxIntSecs and GeoMaxExtSecs defaults, seconds.
DEFAULT_MAX_GAP_S = 1800.0
DEFAULT_MAX_EXTRAPOLATION_S = 1800.0

_R_M = 6_371_008.8


class How(enum.IntEnum):
    """How a photo was placed (or why not)."""

    INTERPOLATED = 0  # between two fixes
    NEAREST = 1  # at the nearer fix of a long gap
    BEFORE_START = 2  # at the first fix, before the track began
    AFTER_END = 3  # at the last fix, after the track ended
    EXACT = 4  # on a fix's own time
    REFUSED_BEFORE = 10  # too far before the track
    REFUSED_AFTER = 11  # too far after the track
    REFUSED_GAP = 12  # in a gap, too far from either fix
    NO_TIME = 13  # the photo has no usable time


@dataclass(frozen=True)
class PlacementLimits:
    """``max_gap_s``: longest gap between two fixes that is interpolated (s);
    ``max_extrapolation_s``: farthest from a fix a photo may be and still take its
    position (s). Both as ExifTool's GeoMaxIntSecs / GeoMaxExtSecs."""

    max_gap_s: float = DEFAULT_MAX_GAP_S
    max_extrapolation_s: float = DEFAULT_MAX_EXTRAPOLATION_S

    def __post_init__(self) -> None:
        for name in ("max_gap_s", "max_extrapolation_s"):
            v = getattr(self, name)
            if not (v >= 0 and np.isfinite(v)):
                raise ConfigError(f"{name} must be a finite number >= 0, got {v}")


@dataclass(frozen=True)
class Placements:
    """Result of :func:`place_by_time` for M photo times; arrays [M].

    ``ok`` bool (placed or not), ``lat``/``lon`` degrees and ``ele`` metres (NaN where not
    placed or, for ``ele``, unknown), ``radius_m`` metres, ``confidence`` 0-1, ``dt_s``
    seconds from the photo to the nearest fix used (NaN when refused for lack of time),
    ``gap_s`` seconds between the bracketing fixes (0 at an end), ``how`` :class:`How`
    codes, ``fix`` index of the nearest fix (-1)."""

    ok: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    ele: np.ndarray
    radius_m: np.ndarray
    confidence: np.ndarray
    dt_s: np.ndarray
    gap_s: np.ndarray
    how: np.ndarray
    fix: np.ndarray

    def __len__(self) -> int:
        return int(self.ok.shape[0])

    def reason(self, i: int, label: str = "track") -> str:
        """``"track, 14 s from a fix"``-style explanation of photo ``i``."""
        how = How(int(self.how[i]))
        dt = float(self.dt_s[i]) if np.isfinite(self.dt_s[i]) else 0.0
        gap = duration(float(self.gap_s[i]))
        if how is How.NO_TIME:
            return f"{label}: photo has no capture time"
        if how is How.REFUSED_BEFORE:
            return f"{label}: {duration(dt)} before its first fix (too far)"
        if how is How.REFUSED_AFTER:
            return f"{label}: {duration(dt)} after its last fix (too far)"
        if how is How.REFUSED_GAP:
            return f"{label}: in a {gap} gap, {duration(dt)} from a fix"
        if how is How.EXACT:
            return f"{label}, on a fix"
        if how is How.INTERPOLATED:
            return f"{label}, {duration(dt)} from a fix"
        if how is How.NEAREST:
            return f"{label}, nearest fix {duration(dt)} away (in a {gap} gap)"
        where = "before its start" if how is How.BEFORE_START else "after its end"
        return f"{label}, {duration(dt)} {where} (end fix)"


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    c = np.cos(la)
    return np.stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)], axis=-1)


def slerp(
    lat0: np.ndarray, lon0: np.ndarray, lat1: np.ndarray, lon1: np.ndarray, f: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points at fraction ``f`` (0-1) along the great circles from (lat0, lon0) to
    (lat1, lon1), degrees; arrays broadcast."""
    a, b = _unit(lat0, lon0), _unit(lat1, lon1)
    dot = np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)
    omega = np.arccos(dot)
    f = np.asarray(f, dtype=np.float64)
    small = omega < 1e-9
    so = np.where(small, 1.0, np.sin(omega))
    wa = np.where(small, 1.0 - f, np.sin((1.0 - f) * omega) / so)
    wb = np.where(small, f, np.sin(f * omega) / so)
    v = wa[..., None] * a + wb[..., None] * b
    lat = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    return lat, lon


def _dist_m(lat0, lon0, lat1, lon1):  # type: ignore[no-untyped-def]
    a, b = _unit(lat0, lon0), _unit(lat1, lon1)
    return _R_M * np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0))


def place_by_time(
    track: Track, times: np.ndarray, limits: PlacementLimits | None = None
) -> Placements:
    """Place photos taken at ``times`` (float64 [M], seconds since 1970 UTC; NaN = unknown)
    on ``track``. Vectorised: O(M log N). See the module docstring for the rules."""
    lim = limits or PlacementLimits()
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    m, n = t.shape[0], len(track)
    how = np.full(m, How.NO_TIME, np.int16)
    lat = np.full(m, np.nan)
    lon = np.full(m, np.nan)
    dt = np.full(m, np.nan)
    gap = np.zeros(m)
    fix = np.full(m, -1, np.int64)
    speed = np.full(m, WALKING_M_S)
    if n == 0:
        nan = np.full(m, np.nan)
        return Placements(np.zeros(m, bool), lat, lon, nan, nan, np.zeros(m), dt, gap, how, fix)
    T = track.t
    timed = np.isfinite(t)
    i1 = np.clip(np.searchsorted(T, np.where(timed, t, 0.0), side="right"), 1, max(n - 1, 1))
    i0 = i1 - 1
    if n == 1:
        i0 = i1 = np.zeros(m, np.int64)
    before = timed & (t < T[0])
    after = timed & (t > T[-1])
    inside = timed & ~before & ~after

    # end speeds: between the first two and the last two fixes
    def _speed(a: int, b: int) -> float:
        d = float(_dist_m(track.lat[a], track.lon[a], track.lat[b], track.lon[b]))
        return max(WALKING_M_S, d / max(float(T[b] - T[a]), 1e-9))

    if before.any():
        dt[before] = T[0] - t[before]
        fix[before] = 0
        speed[before] = _speed(0, 1) if n > 1 else WALKING_M_S
        okb = before & (dt <= lim.max_extrapolation_s)
        how[okb] = How.BEFORE_START
        how[before & ~okb] = How.REFUSED_BEFORE
        lat[okb], lon[okb] = track.lat[0], track.lon[0]
    if after.any():
        dt[after] = t[after] - T[-1]
        fix[after] = n - 1
        speed[after] = _speed(n - 2, n - 1) if n > 1 else WALKING_M_S
        oka = after & (dt <= lim.max_extrapolation_s)
        how[oka] = How.AFTER_END
        how[after & ~oka] = How.REFUSED_AFTER
        lat[oka], lon[oka] = track.lat[-1], track.lon[-1]
    if inside.any():
        a, b = i0[inside], i1[inside]
        ti = t[inside]
        g = T[b] - T[a]
        d0, d1 = ti - T[a], T[b] - ti
        near = np.where(d0 <= d1, a, b)
        dnear = np.minimum(d0, d1)
        same_span = (track.span[a] >= 0) & (track.span[a] == track.span[b])
        interp = (g <= lim.max_gap_s) | same_span
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(g > 0, d0 / np.where(g > 0, g, 1.0), 0.0)
        la, lo = slerp(track.lat[a], track.lon[a], track.lat[b], track.lon[b], f)
        seg_m = _dist_m(track.lat[a], track.lon[a], track.lat[b], track.lon[b])
        sp = np.maximum(WALKING_M_S, seg_m / np.maximum(g, 1e-9))
        h = np.where(
            interp,
            How.INTERPOLATED,
            np.where(dnear <= lim.max_extrapolation_s, How.NEAREST, How.REFUSED_GAP),
        )
        h = np.where(interp & (dnear == 0), How.EXACT, h)
        near_pos = h == How.NEAREST
        la = np.where(near_pos, track.lat[near], la)
        lo = np.where(near_pos, track.lon[near], lo)
        refused = h == How.REFUSED_GAP
        la[refused] = np.nan
        lo[refused] = np.nan
        idx = np.nonzero(inside)[0]
        how[idx], lat[idx], lon[idx] = h, la, lo
        dt[idx], gap[idx], fix[idx], speed[idx] = dnear, g, near, sp
    ok = how < How.REFUSED_BEFORE
    radius = np.where(ok, GPS_ERROR_M + speed * np.nan_to_num(dt), np.nan)
    conf = np.where(ok, 0.99 * np.exp(-np.nan_to_num(radius) / CONFIDENCE_SCALE_M), 0.0)
    ele = _elevation(track, t, how, lim)
    return Placements(ok, lat, lon, ele, radius, conf, dt, gap, how, fix)


def _elevation(track: Track, t: np.ndarray, how: np.ndarray, lim: PlacementLimits) -> np.ndarray:
    """Elevations (m, NaN unknown) of photos at ``t`` placed as ``how`` says, from the
    fixes of ``track`` that have one (see the module docstring)."""
    out = np.full(t.shape[0], np.nan)
    has = np.isfinite(track.ele)
    placed = how < How.REFUSED_BEFORE
    if not has.any() or not placed.any():
        return out
    te, ee = track.t[has], track.ele[has]
    tt = t[placed]
    j0 = np.searchsorted(te, tt, side="right") - 1  # the last fix with one at or before
    j1 = np.searchsorted(te, tt, side="left")  # the first at or after
    d0 = np.where(j0 >= 0, tt - te[np.maximum(j0, 0)], np.inf)
    d1 = np.where(j1 < len(te), te[np.minimum(j1, len(te) - 1)] - tt, np.inf)
    e0, e1 = ee[np.maximum(j0, 0)], ee[np.minimum(j1, len(te) - 1)]
    with np.errstate(invalid="ignore"):
        f = np.where(d0 + d1 > 0, d0 / (d0 + d1), 0.0)
    between = np.where(f > 0, e0 + f * (e1 - e0), e0)
    nearest = np.where(d0 <= d1, e0, e1)
    on_track = np.isin(how[placed], (How.INTERPOLATED, How.EXACT))
    bracketed = on_track & (d0 <= lim.max_gap_s) & (d1 <= lim.max_gap_s)
    near = np.minimum(d0, d1) <= lim.max_extrapolation_s
    ele = np.where(bracketed, between, np.where(near, nearest, np.nan))
    out[placed] = ele
    return out
