"""Track logs as time-sorted arrays of UTC fixes, and the one loader for every format.

>>> track = load_track(Path("walk.gpx"))       # GPX, KML/KMZ, NMEA, IGC, TCX, FIT, GeoJSON,
>>> len(track), track.start, track.end         # CSV (also DJI's), Bramor gEO, Google JSON
>>> for line in track.polylines(): ...         # [K, 2] (lat, lon) arrays to draw

The format is recognised from the content (the extension only breaks ties). All tracks
and segments of a file become one time-sorted list, as ExifTool reads them: a photo in
the gap between two segments is interpolated when the gap is short enough. Two fixes
with the same time keep the one read last (ExifTool's rule). Points without a time, or
with an impossible coordinate, are skipped and counted in ``warnings``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geoscope_core.evidence.formats import bramor
from geoscope_core.evidence.formats.base import RawTrack, TrackError

log = logging.getLogger(__name__)

__all__ = ["Track", "TrackError", "detect_format", "load_track", "load_tracks", "merge_tracks"]


@dataclass(frozen=True, eq=False)
class Track:
    """Fixes sorted by time. ``t`` float64 [N] seconds since 1970-01-01 UTC (strictly
    increasing); ``lat``/``lon`` float64 [N] degrees (WGS84); ``ele`` float64 [N] metres
    (NaN unknown); ``segment`` int32 [N] the track/segment (per file) a fix came from, for
    drawing; ``span`` int32 [N] -1, or the id of a time span (a KML TimeSpan, a Google
    visit) whose fixes are always interpolated between. ``sources`` the files read,
    ``formats`` their formats, ``warnings`` what was skipped and where."""

    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    ele: np.ndarray
    segment: np.ndarray
    span: np.ndarray
    name: str = ""
    sources: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def start(self) -> float:
        """Time of the first fix (epoch s); raises TrackError on an empty track."""
        if not len(self):
            raise TrackError("empty track")
        return float(self.t[0])

    @property
    def end(self) -> float:
        if not len(self):
            raise TrackError("empty track")
        return float(self.t[-1])

    @classmethod
    def from_arrays(
        cls,
        t: Sequence[float] | np.ndarray,
        lat: Sequence[float] | np.ndarray,
        lon: Sequence[float] | np.ndarray,
        ele: Sequence[float] | np.ndarray | None = None,
        segment: Sequence[int] | np.ndarray | None = None,
        span: Sequence[int] | np.ndarray | None = None,
        **kw: object,
    ) -> Track:
        """A track from fixes in any order (sorted here; NaN times dropped; for equal times
        the last given wins)."""
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        n = t.shape[0]
        lat = np.asarray(lat, dtype=np.float64).reshape(-1)
        lon = np.asarray(lon, dtype=np.float64).reshape(-1)
        ele = np.full(n, np.nan) if ele is None else np.asarray(ele, dtype=np.float64)
        seg = np.zeros(n, np.int32) if segment is None else np.asarray(segment, dtype=np.int32)
        spn = np.full(n, -1, np.int32) if span is None else np.asarray(span, dtype=np.int32)
        if not (lat.shape == lon.shape == ele.shape == seg.shape == spn.shape == (n,)):
            raise TrackError("track arrays differ in length")
        ok = np.isfinite(t) & np.isfinite(lat) & np.isfinite(lon)
        ok &= (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        idx = np.nonzero(ok)[0]
        order = idx[np.argsort(t[idx], kind="stable")]
        ts = t[order]
        keep = np.ones(len(order), bool)
        keep[:-1] = ts[1:] != ts[:-1]  # of equal times, the last read stays
        order = order[keep]
        return cls(t[order], lat[order], lon[order], ele[order], seg[order], spn[order], **kw)  # type: ignore[arg-type]

    @classmethod
    def from_raw(cls, raw: RawTrack, source: str = "") -> Track:
        warnings = list(raw.warnings)
        n = len(raw)
        tr = cls.from_arrays(
            raw.t,
            raw.lat,
            raw.lon,
            raw.ele,
            raw.segment,
            raw.span,
            name=raw.name,
            sources=(source,) if source else (),
            formats=(raw.format,),
        )
        dup = n - len(tr)
        if dup:
            warnings.append(f"{dup} fix(es) with the time of a later one dropped")
        return cls(
            tr.t,
            tr.lat,
            tr.lon,
            tr.ele,
            tr.segment,
            tr.span,
            tr.name,
            tr.sources,
            tr.formats,
            tuple(warnings),
        )

    def polylines(self, max_gap_s: float = 1800.0) -> list[np.ndarray]:
        """The track as lines to draw: [K, 2] (lat, lon) arrays in time order, broken where
        the segment changes or fixes are more than ``max_gap_s`` seconds apart."""
        if not len(self):
            return []
        brk = np.nonzero((np.diff(self.segment) != 0) | (np.diff(self.t) > max_gap_s))[0] + 1
        pts = np.stack([self.lat, self.lon], axis=1)
        return [p for p in np.split(pts, brk) if len(p)]

    def shifted(self, seconds: float) -> Track:
        """The same fixes ``seconds`` later (a logger whose clock was off)."""
        return Track(
            self.t + seconds,
            self.lat,
            self.lon,
            self.ele,
            self.segment,
            self.span,
            self.name,
            self.sources,
            self.formats,
            self.warnings,
        )


def merge_tracks(tracks: Sequence[Track], name: str = "") -> Track:
    """One track of all fixes (segment and span ids renumbered per track)."""
    if len(tracks) == 1:
        return tracks[0]
    parts = []
    seg0 = span0 = 0
    for tr in tracks:
        span = np.where(tr.span >= 0, tr.span + span0, -1)
        parts.append((tr.t, tr.lat, tr.lon, tr.ele, tr.segment + seg0, span))
        seg0 += int(tr.segment.max()) + 1 if len(tr) else 0
        span0 += int(tr.span.max()) + 1 if len(tr) and tr.span.max() >= 0 else 0
    cols = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(6)]
    return Track.from_arrays(
        *cols,
        name=name or " + ".join(tr.name for tr in tracks if tr.name),
        sources=tuple(s for tr in tracks for s in tr.sources),
        formats=tuple(f for tr in tracks for f in tr.formats),
        warnings=tuple(w for tr in tracks for w in tr.warnings),
    )


#: File extensions of the track logs read here (``detect_format`` reads the content).
TRACK_SUFFIXES = frozenset(
    {
        ".gpx",
        ".kml",
        ".kmz",
        ".tcx",
        ".fit",
        ".nmea",
        ".nma",
        ".log",
        ".igc",
        ".geojson",
        ".json",
        ".csv",
    }
)


def detect_format(data: bytes, name: str = "") -> str:
    """The reader for ``data``: ``gpx``, ``kml``, ``tcx``, ``fit``, ``json``, ``owntracks``,
    ``nmea``, ``igc``, ``bramor`` or ``csv``, from the content (the extension only breaks
    ties)."""
    ext = Path(name).suffix.lower()
    if data[:2] == b"PK":
        return "kml"
    if data[8:12] == b".FIT" or ext == ".fit":
        return "fit"
    if b"\x00" in data[:4096]:
        raise TrackError("binary file, not a supported track format")
    head = data[:4096].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        low = head.lower()
        if "<gpx" in low:
            return "gpx"
        if "<kml" in low:
            return "kml"
        if "trainingcenterdatabase" in low or "forerunnerlogbook" in low or "<trackpoint" in low:
            return "tcx"
        by_ext = {".gpx": "gpx", ".kml": "kml", ".tcx": "tcx"}.get(ext)
        if by_ext:
            return by_ext
        raise TrackError("XML, but not GPX, KML or TCX")
    if head.startswith(("{", "[")):
        return "json"
    if re.match(r"\d{4}-\d\d-\d\dT[^\t]*\t[^\t]*\t\{", head):
        return "owntracks"
    lines = head.splitlines()[:50]
    if any(ln.lstrip().startswith("HFDTE") for ln in lines) or ext == ".igc":
        return "igc"
    if any("$GP" in ln or "$GN" in ln or "$GL" in ln or "$PMGN" in ln for ln in lines):
        return "nmea"
    if any(bramor.is_record(ln) for ln in lines):
        return "bramor"
    return "csv"


def _readers() -> dict[str, Callable[[bytes, str], RawTrack]]:
    from geoscope_core.evidence.formats import delimited, fit, garmin, gpx, jsontracks, kml, nmea

    return {
        "gpx": gpx.read,
        "kml": kml.read,
        "tcx": garmin.read,
        "fit": fit.read,
        "bramor": bramor.read,
        "json": jsontracks.read,
        "nmea": nmea.read,
        "igc": nmea.read_igc,
        "csv": delimited.read,
        "owntracks": jsontracks.read_owntracks,
    }


def load_track(path: Path | str, data: bytes | None = None) -> Track:
    """Read one track file (any supported format) into a :class:`Track`.

    Good fixes are kept even when part of the file is damaged; what was skipped is in
    ``Track.warnings`` (each naming the line or element). Raises TrackError (a
    DataError) naming the file when it cannot be read or holds no timed fix.
    """
    path = Path(path)
    try:
        data = path.read_bytes() if data is None else data
    except OSError as e:
        raise TrackError(f"{path}: cannot read: {e.strerror or e}") from e
    if not data.strip():
        raise TrackError(f"{path}: empty file")
    try:
        fmt = detect_format(data, path.name)
        raw = _readers()[fmt](data, path.name)
    except TrackError as e:
        raise TrackError(f"{path}: {e}") from e
    track = Track.from_raw(raw, str(path))
    for w in track.warnings:
        log.info("%s: %s", path, w)
    if not len(track):
        why = f" ({'; '.join(track.warnings[:3])})" if track.warnings else ""
        raise TrackError(f"{path}: no fix with a time and a position{why}")
    return track


def load_tracks(paths: Sequence[Path | str]) -> Track:
    """Every file's fixes merged into one track (see :func:`merge_tracks`)."""
    if not paths:
        raise TrackError("no track file given")
    return merge_tracks([load_track(p) for p in paths])
