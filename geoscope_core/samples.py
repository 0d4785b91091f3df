"""Sample photos for the demo and the packaged app's self-test.

GeoScope ships no photos of its own. The samples are made from real photos
that installed packages ship (matplotlib's ``grace_hopper.jpg``; scikit-learn's
``china.jpg`` and ``flower.jpg`` when it is installed), plus one copy carrying
a camera GPS fix, and one taken during a walk that a sample GPS track
(``sample-track.gpx``, made here) records, so a scan shows every outcome
(``exif``, ``track`` and ``model``) side by side.

``python -m geoscope_core.samples [DEST]`` writes the folder (default: in the
user cache dir) and prints its path.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

from PIL import Image

from geoscope_core.errors import DataError
from geoscope_core.settings import cache_dir

log = logging.getLogger(__name__)

#: (package, path inside the package, file name in the sample folder)
_SHIPPED: tuple[tuple[str, str, str], ...] = (
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "grace_hopper.jpg"),
    ("sklearn", "datasets/images/china.jpg", "china.jpg"),
    ("sklearn", "datasets/images/flower.jpg", "flower.jpg"),
)

#: GPS written into the tagged sample: the Smithsonian, Washington DC (degrees).
TAGGED_LAT, TAGGED_LON = 38.8913, -77.0261

#: The sample track: a 30-minute walk along the National Mall, Washington DC, one fix
#: every 10 s from START_UTC; (lat, lon) corners in degrees, walked in straight lines.
TRACK_NAME = "sample-track.gpx"
TRACK_START_UTC = "2024-05-04T14:00:00Z"
TRACK_ROUTE = ((38.8895, -77.0353), (38.8899, -77.0230), (38.8881, -77.0199), (38.8893, -77.0091))
TRACK_FIXES = 181
#: The photo on the track: taken 10:17:35 local (EDT, -04:00), 1055 s into the walk.
ON_TRACK_NAME = "grace_hopper_on_track.jpg"
ON_TRACK_LOCAL, ON_TRACK_OFFSET = "2024:05:04 10:17:35", "-04:00"


def _package_file(package: str, rel: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    return path if path.is_file() else None


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    deg = int(value)
    minutes = int((value - deg) * 60)
    seconds = round((value - deg - minutes / 60) * 3600, 4)
    return (float(deg), float(minutes), seconds)


def _write_with_gps(src: Path, dest: Path, lat: float, lon: float) -> None:
    """Re-save ``src`` as a JPEG at ``dest`` with a GPS IFD (a new file, so re-encoding is fine)."""
    with Image.open(src) as im:
        exif = im.getexif()
        gps = exif.get_ifd(0x8825)
        gps.update(
            {
                0: b"\x02\x03\x00\x00",
                1: "N" if lat >= 0 else "S",
                2: _dms(lat),
                3: "E" if lon >= 0 else "W",
                4: _dms(lon),
                18: "WGS-84",
            }
        )
        exif[0x0110] = "Sample camera"
        im.convert("RGB").save(dest, "JPEG", quality=92, exif=exif)


def _route_point(f: float) -> tuple[float, float]:
    """Point at fraction ``f`` (0-1) of TRACK_ROUTE's length (degrees; short legs, so the
    legs are straight in degrees)."""
    import itertools
    import math

    legs = list(itertools.pairwise(TRACK_ROUTE))
    lens = [math.hypot(b[0] - a[0], (b[1] - a[1]) * math.cos(math.radians(a[0]))) for a, b in legs]
    d = f * sum(lens)
    for (a, b), n in zip(legs, lens, strict=True):
        if d <= n or (a, b) == legs[-1]:
            g = min(d / n, 1.0) if n else 0.0
            return a[0] + g * (b[0] - a[0]), a[1] + g * (b[1] - a[1])
        d -= n
    return TRACK_ROUTE[-1]


def write_sample_track(dest: Path) -> Path:
    """Write the sample GPX track (TRACK_FIXES fixes, 10 s apart) to ``dest``."""
    from geoscope_core.evidence.formats.base import parse_time, utc_text

    t0 = parse_time(TRACK_START_UTC)
    rows = []
    for i in range(TRACK_FIXES):
        lat, lon = _route_point(i / (TRACK_FIXES - 1))
        rows.append(
            f'  <trkpt lat="{lat:.6f}" lon="{lon:.6f}"><ele>{8 + i % 5}</ele>'
            f"<time>{utc_text(t0 + 10 * i)}</time></trkpt>"
        )
    dest.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="GeoScope samples" xmlns="http://www.topografix.com/GPX/1/1">\n'
        "<trk><name>Sample walk, National Mall</name><trkseg>\n"
        + "\n".join(rows)
        + "\n</trkseg></trk></gpx>\n",
        encoding="utf-8",
    )
    return dest


def _write_with_time(src: Path, dest: Path, local: str, offset: str) -> None:
    """Re-save ``src`` as a JPEG at ``dest`` with DateTimeOriginal and OffsetTimeOriginal."""
    with Image.open(src) as im:
        exif = im.getexif()
        exif[0x0110] = "Sample camera"
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = local
        sub[0x9011] = offset
        im.convert("RGB").save(dest, "JPEG", quality=92, exif=exif)


def make_sample_folder(dest: Path) -> Path:
    """Write the sample photos into ``dest`` (created if needed) and return it.

    Raises DataError when no installed package ships a usable photo.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    found: list[Path] = []
    for package, rel, name in _SHIPPED:
        src = _package_file(package, rel)
        if src is None:
            log.debug("%s not installed or lacks %s; sample skipped", package, rel)
            continue
        target = dest / name
        if not target.exists():
            target.write_bytes(src.read_bytes())
        found.append(target)
    if not found:
        raise DataError("no installed package ships a sample photo (is matplotlib installed?)")
    tagged = dest / f"{found[0].stem}_with_gps.jpg"
    if not tagged.exists():
        _write_with_gps(found[0], tagged, TAGGED_LAT, TAGGED_LON)
    on_track = dest / ON_TRACK_NAME
    if not on_track.exists():
        _write_with_time(found[0], on_track, ON_TRACK_LOCAL, ON_TRACK_OFFSET)
    if not (dest / TRACK_NAME).exists():
        write_sample_track(dest / TRACK_NAME)
    return dest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else cache_dir() / "samples"
    print(make_sample_folder(dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
