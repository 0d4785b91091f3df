"""Sample photos for the demo and the packaged app's self-test.

GeoScope ships no photos of its own. The samples are made from real photos
that installed packages ship (matplotlib's ``grace_hopper.jpg``; scikit-learn's
``china.jpg`` and ``flower.jpg`` when it is installed), plus one copy carrying
a camera GPS fix so a scan shows both outcomes (``exif`` and ``model``).

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
    return dest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else cache_dir() / "samples"
    print(make_sample_folder(dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
