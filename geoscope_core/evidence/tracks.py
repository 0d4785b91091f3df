"""Track logs as time-sorted arrays of UTC fixes, and the one loader for every format.

>>> track = load_track(Path("walk.gpx"))       # any format of formats.registry.FORMATS
>>> len(track), track.start, track.end
>>> for line in track.polylines(): ...         # [K, 2] (lat, lon) arrays to draw

The format is recognised from the content (the extension only breaks ties). All tracks
and segments of a file become one time-sorted list, as ExifTool reads them: a photo in
the gap between two segments is interpolated when the gap is short enough. Two fixes
with the same time keep the one read last (ExifTool's rule). Points without a time, or
with an impossible coordinate, are skipped and counted in ``warnings``.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np

from geoscope_core.errors import ConfigError
from geoscope_core.evidence.formats import registry
from geoscope_core.evidence.formats.base import MAX_TIME, MIN_TIME, RawTrack, TrackError

log = logging.getLogger(__name__)

__all__ = [
    "TRACK_SUFFIXES",
    "ReadLimits",
    "Track",
    "TrackError",
    "load_track",
    "load_tracks",
    "merge_tracks",
]


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
        t, lat, lon, ele, seg, span = raw.columns()
        bad_time = np.isfinite(t) & ((t < MIN_TIME) | (t > MAX_TIME))
        if bad_time.any():
            warnings.append(f"{int(bad_time.sum())} fix(es) with a time outside 1900..2200 skipped")
            t[bad_time] = np.nan
        n = int(np.isfinite(t).sum())
        tr = cls.from_arrays(
            t,
            lat,
            lon,
            ele,
            seg,
            span,
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


#: File suffixes of the track logs read here (the format itself is read from the content).
TRACK_SUFFIXES = frozenset(registry.suffixes())


@dataclass(frozen=True)
class ReadLimits:
    """What a track file may take: ``max_bytes`` its size (any format; the readers stream,
    so this bounds time, not memory), ``max_whole_bytes`` the size of one that a reader
    holds whole in memory (JSON), ``max_ratio`` how many times larger than its compressed
    size a KMZ's KML may be (a KML compresses 10-30 times; a zip bomb thousands)."""

    max_bytes: int = 1_000_000_000
    max_whole_bytes: int = 256_000_000
    max_ratio: int = 200

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_whole_bytes", "max_ratio"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"ReadLimits.{name} must be > 0, got {getattr(self, name)}")


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # unreachable


def _open_regular(path: Path, limits: ReadLimits) -> BinaryIO:
    """``path`` opened for reading, once it is known to be a regular file within the size
    limit: a FIFO, socket or device (``/dev/zero``) is refused before it is opened (reading
    one would hang or never end); it is opened non-blocking and checked again."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise TrackError("not a regular file (a FIFO, socket, device or folder): refused")
        if st.st_size > limits.max_bytes:
            raise TrackError(
                f"{_size(st.st_size)}: track files over {_size(limits.max_bytes)} are refused "
                "(split it, or keep the days you need)"
            )
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
    except OSError as e:
        raise TrackError(f"cannot read: {e.strerror or e}") from e
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the check
        f.close()
        raise TrackError("not a regular file (a FIFO, socket, device or folder): refused")
    return f


def _kml_of_kmz(f: BinaryIO, limits: ReadLimits) -> BinaryIO:
    """The KML document of a KMZ (``doc.kml``, else the first ``.kml`` entry) as a stream,
    once its declared size and compression ratio are within ``limits`` (the stream stops
    at the declared size, so a member that lies inflates no further)."""
    try:
        z = zipfile.ZipFile(f)
        names = [i for i in z.infolist() if i.filename.lower().endswith(".kml")]
        if not names:
            raise TrackError("KMZ archive holds no .kml file")
        info = next((i for i in names if i.filename == "doc.kml"), names[0])
        if info.file_size > limits.max_bytes:
            raise TrackError(
                f"KMZ: {info.filename} inflates to {_size(info.file_size)}; over "
                f"{_size(limits.max_bytes)} is refused"
            )
        if info.file_size > limits.max_ratio * max(info.compress_size, 1) + (1 << 20):
            raise TrackError(
                f"KMZ: {info.filename} inflates {info.file_size // max(info.compress_size, 1)}"
                f" times ({_size(info.compress_size)} to {_size(info.file_size)}), a zip bomb's "
                f"ratio (a KML compresses {limits.max_ratio} times at most): refused"
            )
        return cast(BinaryIO, z.open(info))
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as e:
        raise TrackError(f"not a readable KMZ archive: {e}") from e


def _read(f: BinaryIO, size: int, name: str, limits: ReadLimits) -> RawTrack:
    head = registry.Head(f.read(registry.HEAD_BYTES), Path(name).suffix.lower())
    f.seek(0)
    if not head.data.strip() and size <= len(head.data):
        raise TrackError("empty file")
    fmt = registry.detect(head)
    if fmt.whole and size > limits.max_whole_bytes:
        raise TrackError(
            f"{_size(size)} of {fmt.title}: this format is read whole, and files over "
            f"{_size(limits.max_whole_bytes)} are refused (split it, e.g. by year)"
        )
    kmz = head.data[:2] == b"PK"
    stream = _kml_of_kmz(f, limits) if kmz else f
    try:
        raw = fmt.read(stream, name)
    except (zipfile.BadZipFile, EOFError) as e:  # a KMZ member damaged inside
        raise TrackError(f"not a readable KMZ archive: {e}") from e
    finally:
        if stream is not f:
            stream.close()
    if kmz:
        raw.format = raw.format.replace("KML", "KMZ")
    return raw


def load_track(
    path: Path | str, data: bytes | None = None, limits: ReadLimits = ReadLimits()
) -> Track:
    """Read one track file (any format in :data:`registry.FORMATS`) into a :class:`Track`,
    as a stream: memory grows with the number of fixes (41 bytes each), not the file's
    size. ``data`` the file's bytes when already read.

    Good fixes are kept even when part of the file is damaged; what was skipped is in
    ``Track.warnings`` (each naming the line or element). Raises TrackError (a
    DataError) naming the file when it cannot be read, is not a regular file, is over
    ``limits``, or holds no timed fix.
    """
    path = Path(path)
    try:
        if data is not None:
            raw = _read(io.BytesIO(data), len(data), path.name, limits)
        else:
            with _open_regular(path, limits) as f:
                raw = _read(f, os.fstat(f.fileno()).st_size, path.name, limits)
    except TrackError as e:
        raise TrackError(f"{path}: {e}") from e
    except OSError as e:
        raise TrackError(f"{path}: cannot read: {e.strerror or e}") from e
    track = Track.from_raw(raw, str(path))
    for w in track.warnings:
        log.info("%s: %s", path, w)
    if not len(track):
        why = f" ({'; '.join(track.warnings[:3])})" if track.warnings else ""
        raise TrackError(f"{path}: no fix with a time and a position{why}")
    return track


def load_tracks(paths: Sequence[Path | str], limits: ReadLimits = ReadLimits()) -> Track:
    """Every file's fixes merged into one track (see :func:`merge_tracks`)."""
    if not paths:
        raise TrackError("no track file given")
    return merge_tracks([load_track(p, limits=limits) for p in paths])
