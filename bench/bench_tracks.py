"""Track logs from the file to placement: read time and peak memory per format, and the
placement of photos on a long track (prints figures; no assertion).

    python bench/bench_tracks.py [--points 1000000] [--formats gpx,kml,tcx,csv,nmea]
                                 [--baseline REV] [--photos 10000] [--keep DIR]

Writes a synthetic 1 Hz track (a random walk at 1.5 m/s with some hour-long gaps) in
each format (the GPX of 1M points is 82 MB, as GPS loggers write it), then reads each
file with ``load_track`` in a fresh Python process, which reports the seconds from the
file to the built ``Track`` and its peak resident memory (VmHWM: the interpreter and
numpy included, about 35 MB). ``--baseline REV`` runs the same reads with the code of git revision
REV (e.g. the commit before streaming reads), side by side. The files are written to a
temporary folder (``--keep DIR`` keeps them); nothing is committed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geoscope_core.evidence.placement import place_by_time  # noqa: E402
from geoscope_core.evidence.tracks import Track  # noqa: E402


def synthetic(n: int, seed: int = 0) -> Track:
    rng = np.random.default_rng(seed)
    dt = np.ones(n)
    dt[rng.choice(n, size=max(1, n // 20000), replace=False)] = 3600.0  # some long gaps
    t = 1.7e9 + np.cumsum(dt)
    heading = np.cumsum(rng.normal(0, 0.2, n))
    step = 1.5 / 111_320.0
    lat = 45.0 + np.cumsum(step * np.cos(heading))
    lon = 7.0 + np.cumsum(step * np.sin(heading) / np.cos(np.radians(45.0)))
    return Track.from_arrays(t, lat, lon, 300.0 + 20 * np.sin(np.arange(n) / 500.0))


def _iso(t: np.ndarray) -> list[str]:
    return [s + "Z" for s in np.datetime_as_string(t.astype("datetime64[s]"), unit="s")]


def _write(path: Path, head: str, lines: Callable[[int, int], list[str]], n: int, tail: str):
    with path.open("w", encoding="ascii") as f:
        f.write(head)
        for i in range(0, n, 100_000):
            f.write("".join(lines(i, min(n, i + 100_000))))
        f.write(tail)


def write_gpx(tr: Track, path: Path) -> None:
    """One trkpt a line with lat, lon and time (82 bytes a point), as loggers write."""
    iso = _iso(tr.t)
    _write(
        path,
        '<?xml version="1.0"?>\n<gpx version="1.1" creator="bench"><trk><trkseg>\n',
        lambda a, b: [
            f'<trkpt lat="{tr.lat[i]:.7f}" lon="{tr.lon[i]:.7f}"><time>{iso[i]}</time></trkpt>\n'
            for i in range(a, b)
        ],
        len(tr),
        "</trkseg></trk></gpx>\n",
    )


def write_kml(tr: Track, path: Path) -> None:
    """One gx:Track of <when> and <gx:coord> pairs, as Google and OpenTracks write."""
    iso = _iso(tr.t)
    _write(
        path,
        '<?xml version="1.0"?>\n<kml xmlns="http://www.opengis.net/kml/2.2" '
        'xmlns:gx="http://www.google.com/kml/ext/2.2"><Document><Placemark><gx:Track>\n',
        lambda a, b: [
            f"<when>{iso[i]}</when><gx:coord>{tr.lon[i]:.7f} {tr.lat[i]:.7f} "
            f"{tr.ele[i]:.1f}</gx:coord>\n"
            for i in range(a, b)
        ],
        len(tr),
        "</gx:Track></Placemark></Document></kml>\n",
    )


def write_tcx(tr: Track, path: Path) -> None:
    iso = _iso(tr.t)
    _write(
        path,
        '<?xml version="1.0"?>\n<TrainingCenterDatabase xmlns="http://www.garmin.com/'
        'xmlschemas/TrainingCenterDatabase/v2"><Activities><Activity><Lap><Track>\n',
        lambda a, b: [
            f"<Trackpoint><Time>{iso[i]}</Time><Position><LatitudeDegrees>{tr.lat[i]:.7f}"
            f"</LatitudeDegrees><LongitudeDegrees>{tr.lon[i]:.7f}</LongitudeDegrees>"
            f"</Position><AltitudeMeters>{tr.ele[i]:.1f}</AltitudeMeters></Trackpoint>\n"
            for i in range(a, b)
        ],
        len(tr),
        "</Track></Lap></Activity></Activities></TrainingCenterDatabase>\n",
    )


def write_csv(tr: Track, path: Path) -> None:
    iso = _iso(tr.t)
    _write(
        path,
        "time,lat,lon,ele\n",
        lambda a, b: [
            f"{iso[i]},{tr.lat[i]:.7f},{tr.lon[i]:.7f},{tr.ele[i]:.1f}\n" for i in range(a, b)
        ],
        len(tr),
        "",
    )


def write_nmea(tr: Track, path: Path) -> None:
    """$GPRMC sentences (date and time) with checksums."""
    iso = _iso(tr.t)

    def rmc(i: int) -> str:
        d, hms = iso[i][:10], iso[i][11:19].replace(":", "")
        la, lo = abs(tr.lat[i]), abs(tr.lon[i])
        body = (
            f"GPRMC,{hms}.00,A,{int(la):02d}{(la % 1) * 60:08.5f},{'N' if tr.lat[i] >= 0 else 'S'},"
            f"{int(lo):03d}{(lo % 1) * 60:08.5f},{'E' if tr.lon[i] >= 0 else 'W'},0.0,0.0,"
            f"{d[8:10]}{d[5:7]}{d[2:4]},,,A"
        )
        cs = 0
        for ch in body:
            cs ^= ord(ch)
        return f"${body}*{cs:02X}\n"

    _write(path, "", lambda a, b: [rmc(i) for i in range(a, b)], len(tr), "")


WRITERS = {
    "gpx": write_gpx,
    "kml": write_kml,
    "tcx": write_tcx,
    "csv": write_csv,
    "nmea": write_nmea,
}

#: what a fresh process runs: read one file, report seconds and peak memory as JSON
CHILD = """
import json, sys, time
from geoscope_core.evidence.tracks import load_track

def hwm_mb():  # this process's peak resident memory (VmHWM; ru_maxrss keeps the parent's)
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM")) / 1024

start = hwm_mb()
t0 = time.perf_counter(); c0 = time.process_time()
track = load_track(sys.argv[1])
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"points": len(track), "s": wall, "cpu_s": cpu, "peak_mb": hwm_mb(),
                  "start_mb": start}))
"""


def measure(path: Path, code_root: Path) -> dict | str:
    env = {"PYTHONPATH": str(code_root), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=code_root,
    )
    if proc.returncode:
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def export_revision(rev: str, into: Path) -> Path:
    """The ``geoscope_core`` package of git revision ``rev``, written under ``into``."""
    data = subprocess.run(
        ["git", "archive", "--format=tar", rev, "geoscope_core"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def _cell(r: dict | str | None) -> str:
    if r is None:
        return f"{'-':>27s}"
    if isinstance(r, str):
        return f"{'error: ' + r[:40]:>27s}"
    return f"{r['s']:7.2f} s {r['cpu_s']:6.2f} cpu {r['peak_mb']:6.0f} MB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--formats", default="gpx,kml,tcx,csv,nmea")
    ap.add_argument("--baseline", metavar="REV", help="also read with the code of git REV")
    ap.add_argument("--photos", type=int, default=10_000, help="photos placed on the track")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="write the files here and keep them")
    args = ap.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(formats) - WRITERS.keys()
    if unknown:
        ap.error(f"unknown format(s) {sorted(unknown)}; known: {', '.join(WRITERS)}")

    track = synthetic(args.points)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        old_root = export_revision(args.baseline, Path(tmp) / "old") if args.baseline else None
        print(f"{len(track):,} points a file; seconds from the file to the Track, peak RSS")
        head = f"{'file':>14s} {'MB':>6s}  {'this tree':>27s}"
        print(head + (f"  {'baseline ' + args.baseline:>27s}  speed-up" if old_root else ""))
        for fmt in formats:
            path = folder / f"bench.{fmt}"
            if not path.exists():
                WRITERS[fmt](track, path)
            new = measure(path, ROOT)
            line = f"{path.name:>14s} {path.stat().st_size / 1e6:6.1f}  {_cell(new)}"
            if old_root is not None:
                old = measure(path, old_root)
                ratio = (
                    f"  {old['s'] / new['s']:5.1f}x"
                    if isinstance(old, dict) and isinstance(new, dict)
                    else ""
                )
                line += f"  {_cell(old)}{ratio}"
            print(line, flush=True)

    rng = np.random.default_rng(1)
    times = rng.uniform(track.start - 3600, track.end + 3600, args.photos)
    t0 = time.perf_counter()
    p = place_by_time(track, times)
    t_place = time.perf_counter() - t0
    print(
        f"placed {args.photos:,} photos on {len(track):,} points in {t_place:.3f} s "
        f"({int(p.ok.sum()):,} placed, {int((~p.ok).sum()):,} refused)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
