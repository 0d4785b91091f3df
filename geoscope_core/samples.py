"""Sample photos for the demo and the packaged app's self-test.

GeoScope ships no photos of its own. The samples are a landscape photo drawn
here (``mountain_lake.jpg``: sky, clouds, hazy ridges mirrored in a lake, lens
vignetting and sensor noise, a real JPEG from the base install alone), one copy
of it carrying a camera GPS fix, one taken during a walk that a sample GPS track
(``sample-track.gpx``, made here) records, so a scan shows every outcome
(``exif``, ``track`` and ``model``) side by side; plus the real photos that
installed packages ship, when they are installed (matplotlib's
``grace_hopper.jpg``, scikit-learn's ``china.jpg`` and ``flower.jpg``).

``python -m geoscope_core.samples [DEST]`` writes the folder (default: in the
user cache dir) and prints its path.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from geoscope_core.settings import cache_dir

log = logging.getLogger(__name__)

#: The drawn photo; the GPS-tagged and on-track samples are copies of it.
DRAWN_NAME = "mountain_lake.jpg"

#: (package, path inside the package, file name in the sample folder): real photos
#: added when their (optional) package is installed.
_SHIPPED: tuple[tuple[str, str, str], ...] = (
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "grace_hopper.jpg"),
    ("sklearn", "datasets/images/china.jpg", "china.jpg"),
    ("sklearn", "datasets/images/flower.jpg", "flower.jpg"),
)
#: what each sample is and where a scan's answer for it comes from, as the demo says it
_ABOUT: dict[str, str] = {
    DRAWN_NAME: "a landscape GeoScope draws, of no real place: the model's answer only "
    "shows what an answer looks like (status 'predicted')",
    "mountain_lake_with_gps.jpg": "the drawn photo with a camera GPS fix written in "
    "(Washington DC): its location is its own (status 'exif')",
    "mountain_lake_on_track.jpg": "the drawn photo, taken during the walk sample-track.gpx "
    "records: the track places it (status 'track')",
    "grace_hopper.jpg": "a real photo matplotlib ships (US Navy, public domain): the "
    "model's estimate (status 'predicted')",
    "china.jpg": "a real photo scikit-learn ships (CC BY 2.0, danielbuechele): the "
    "model's estimate (status 'predicted')",
    "flower.jpg": "a real photo scikit-learn ships (CC BY 2.0, vultilion): the "
    "model's estimate (status 'predicted')",
}

#: GPS written into the tagged sample: the Smithsonian, Washington DC (degrees).
TAGGED_LAT, TAGGED_LON = 38.8913, -77.0261

#: The sample track: a 30-minute walk along the National Mall, Washington DC, one fix
#: every 10 s from START_UTC; (lat, lon) corners in degrees, walked in straight lines.
TRACK_NAME = "sample-track.gpx"
TRACK_START_UTC = "2024-05-04T14:00:00Z"
TRACK_ROUTE = ((38.8895, -77.0353), (38.8899, -77.0230), (38.8881, -77.0199), (38.8893, -77.0091))
TRACK_FIXES = 181
#: The photo on the track: taken 10:17:35 local (EDT, -04:00), 1055 s into the walk.
ON_TRACK_NAME = "mountain_lake_on_track.jpg"
ON_TRACK_LOCAL, ON_TRACK_OFFSET = "2024:05:04 10:17:35", "-04:00"


def _package_file(package: str, rel: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    return path if path.is_file() else None


def _noise(rng: np.random.Generator, width: int, height: int, scales: tuple) -> np.ndarray:
    """Smooth value noise [height, width] in 0-1: one random grid per (cell size in px,
    weight), each resized bicubically to the picture, averaged by weight."""
    out = np.zeros((height, width), np.float32)
    for size, weight in scales:
        grid = rng.random((height // size + 2, width // size + 2), dtype=np.float32)
        big = Image.fromarray(grid, "F").resize((width, height), Image.Resampling.BICUBIC)
        out += weight * np.asarray(big)
    return out / sum(w for _, w in scales)


def _ridge(rng: np.random.Generator, width: int, scales: tuple) -> np.ndarray:
    """A 1-D noise profile [width] in 0-1 (a skyline or a shore line)."""
    return _noise(rng, width, 4, scales)[1]


def draw_landscape(width: int = 1200, height: int = 800, seed: int = 2024) -> Image.Image:
    """A photo-like landscape (the same pixels for the same arguments): a sky darker
    overhead with a sun's glow and clouds, three mountain ridges hazier with distance
    (snow on the farthest), a lake that mirrors them with ripples, a grassy shore,
    lens vignetting, sensor noise and a lens's softness."""
    rng = np.random.default_rng(seed)
    horizon = int(height * 0.6)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = np.clip(yy / horizon, 0, 1)[..., None] ** 0.7
    img = np.array([58, 104, 170], np.float32) * (1 - t) + np.array([205, 218, 228]) * t
    sun = np.exp(-((xx - 0.72 * width) ** 2 + (yy - 0.18 * height) ** 2) / (0.03 * width**2))
    img += sun[..., None] * np.array([60, 45, 20], np.float32)
    clouds = _noise(rng, width, height, ((160, 1.0), (60, 0.5), (20, 0.25), (6, 0.1)))
    cover = np.clip((clouds - 0.52) * 4, 0, 1) * np.clip(1 - yy / horizon, 0, 1) ** 0.5
    shade = _noise(rng, width, height, ((40, 1.0), (10, 0.4)))
    cloud = np.array([242, 242, 240], np.float32) - shade[..., None] * 50
    img = img * (1 - cover[..., None]) + cloud * cover[..., None]
    haze_rgb = np.array([176, 192, 206], np.float32)
    tex = _noise(rng, width, height, ((30, 1.0), (8, 0.6), (3, 0.4)))[..., None]
    # (skyline's mean height, its amplitude (fractions of the height), colour, haze 0-1)
    for base, amp, rgb, haze in (
        (0.34, 0.10, (92, 104, 128), 0.65),
        (0.43, 0.08, (70, 92, 84), 0.40),
        (0.52, 0.06, (46, 72, 44), 0.12),
    ):
        prof = _ridge(rng, width, ((width // 6, 1.0), (width // 20, 0.45), (width // 80, 0.2)))
        top = np.minimum((base + amp * (prof - 0.5) * 2.2) * height, horizon - 1)[None, :]
        depth = np.clip((yy - top) / (horizon - top + 1), 0, 1)[..., None]
        rock = np.array(rgb, np.float32) * (0.75 + 0.5 * tex) * (1 - 0.25 * depth)
        if base < 0.4:
            snow = yy < top + 0.02 * height * (0.5 + tex[..., 0])
            rock = np.where(snow[..., None], np.float32(232) * (0.85 + 0.15 * tex), rock)
        rock = rock * (1 - haze) + haze_rgb * haze
        img = np.where(((yy >= top) & (yy < horizon))[..., None], rock, img)
    ripple = _noise(rng, width, height - horizon, ((12, 1.0), (4, 0.5))) - 0.5
    rows = np.arange(horizon, height)[:, None]
    src_r = 2 * horizon - 1 - rows + (ripple * 8 * (rows - horizon + 8) / 40).astype(int)
    src_c = np.arange(width)[None, :] + (ripple * 10).astype(int)
    mirrored = img[np.clip(src_r, 0, horizon - 1), np.clip(src_c, 0, width - 1)]
    img[horizon:] = mirrored * 0.72 + np.array([10, 30, 40], np.float32)
    shore = 0.86 + 0.1 * (_ridge(rng, width, ((width // 8, 1.0), (width // 40, 0.4))) - 0.5)
    blades = _noise(rng, width, height, ((6, 1.0), (2, 0.8)))[..., None]
    grass = (
        np.array([66, 98, 38], np.float32)
        * (0.6 + 0.7 * blades)
        * (0.8 + 0.25 * yy[..., None] / height)
    )
    img = np.where((yy >= shore[None, :] * height)[..., None], grass, img)
    img *= (1 - 0.7 * ((xx / width - 0.5) ** 2 + (yy / height - 0.5) ** 2))[..., None]
    img += rng.normal(0, 3.0, img.shape).astype(np.float32)
    photo = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    return photo.filter(ImageFilter.GaussianBlur(0.7))


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
    """Write the sample photos into ``dest`` (created if needed; files already there
    are kept) and return it."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    drawn = dest / DRAWN_NAME
    if not drawn.exists():
        exif = Image.Exif()
        exif[0x0110] = "Sample camera"
        draw_landscape().save(drawn, "JPEG", quality=92, exif=exif)
    for package, rel, name in _SHIPPED:
        src = _package_file(package, rel)
        if src is None:
            log.debug("%s not installed or lacks %s; sample skipped", package, rel)
        elif not (dest / name).exists():
            (dest / name).write_bytes(src.read_bytes())
    tagged = dest / f"{drawn.stem}_with_gps.jpg"
    if not tagged.exists():
        _write_with_gps(drawn, tagged, TAGGED_LAT, TAGGED_LON)
    on_track = dest / ON_TRACK_NAME
    if not on_track.exists():
        _write_with_time(drawn, on_track, ON_TRACK_LOCAL, ON_TRACK_OFFSET)
    if not (dest / TRACK_NAME).exists():
        write_sample_track(dest / TRACK_NAME)
    return dest


def describe(folder: Path) -> list[str]:
    """One line per sample photo in ``folder``: what it is, where its answer comes from."""
    return [f"  {p.name}: {_ABOUT.get(p.name, 'your photo')}" for p in sorted(folder.glob("*.jpg"))]


def main(argv: list[str] | None = None) -> int:
    """Write the sample folder, print its path (stdout) and what each photo is (stderr)."""
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else cache_dir() / "samples"
    folder = make_sample_folder(dest)
    print(f"Sample photos in {folder}:", *describe(folder), sep="\n", file=sys.stderr)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
