"""Placement speed: 1M track points and 10k photos (prints figures; no assertion).

    python bench/bench_tracks.py [--points N] [--photos M]

Builds a synthetic 1 Hz track (a random walk at 1.5 m/s with gaps), writes it as GPX and
reads it back (gpxpy), then places photos at random times with ``place_by_time``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geoscope_core.evidence.formats.base import utc_text
from geoscope_core.evidence.placement import place_by_time
from geoscope_core.evidence.tracks import Track, load_track


def synthetic(n: int, seed: int = 0) -> Track:
    rng = np.random.default_rng(seed)
    dt = np.ones(n)
    dt[rng.choice(n, size=max(1, n // 20000), replace=False)] = 3600.0  # some long gaps
    t = 1.7e9 + np.cumsum(dt)
    heading = np.cumsum(rng.normal(0, 0.2, n))
    step = 1.5 / 111_320.0
    lat = 45.0 + np.cumsum(step * np.cos(heading))
    lon = 7.0 + np.cumsum(step * np.sin(heading) / np.cos(np.radians(45.0)))
    return Track.from_arrays(t, lat, lon)


def write_gpx(track: Track, path: Path) -> None:
    with path.open("w") as f:
        f.write('<?xml version="1.0"?>\n<gpx version="1.1" creator="bench"><trk><trkseg>\n')
        for t, la, lo in zip(track.t, track.lat, track.lon, strict=True):
            f.write(f'<trkpt lat="{la:.7f}" lon="{lo:.7f}"><time>{utc_text(t)}</time></trkpt>\n')
        f.write("</trkseg></trk></gpx>\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--photos", type=int, default=10_000)
    ap.add_argument("--gpx-points", type=int, default=100_000, help="points for the GPX read")
    args = ap.parse_args()

    t0 = time.perf_counter()
    track = synthetic(args.points)
    t_build = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    times = rng.uniform(track.start - 3600, track.end + 3600, args.photos)

    t0 = time.perf_counter()
    p = place_by_time(track, times)
    t_place = time.perf_counter() - t0
    print(f"track of {len(track):,} points built in {t_build:.2f} s")
    print(
        f"placed {args.photos:,} photos on {len(track):,} points in {t_place:.3f} s "
        f"({int(p.ok.sum()):,} placed, {int((~p.ok).sum()):,} refused)"
    )

    small = synthetic(args.gpx_points, seed=2)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.gpx"
        write_gpx(small, path)
        t0 = time.perf_counter()
        back = load_track(path)
        t_read = time.perf_counter() - t0
    print(
        f"read a GPX of {len(back):,} points in {t_read:.2f} s "
        f"({len(back) / t_read:,.0f} points/s with gpxpy)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
