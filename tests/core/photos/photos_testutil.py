"""Shared helpers of the photo metadata tests (fixtures are copied, never modified)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import exifread

from geoscope_core.prediction import Prediction
from geoscope_core.settings import data_dir

#: Keys of an ExifTool dump that describe the file system or the file as a whole.
VOLATILE_KEYS = {
    "SourceFile",
    "ExifTool:ExifToolVersion",
    "File:FileSize",
}

#: Reykjavik: west of Greenwich, so the W longitude reference is exercised; the names
#: are the place that contains the point (the writer names the point itself). Its point
#: has the decimals its 25 km radius warrants (geo.precision), so it is written as is.
PREDICTION = Prediction(
    lat=64.14,
    lon=-21.93,
    confidence=0.42,
    radius_km=25.0,
    city="Reykjavík",
    admin1="Capital Region",
    country="Iceland",
    country_code="IS",
    model="geoscope-lite@0123456789ab",
)


def samples_dir() -> Path:
    """The real camera files; a missing folder is a failure, never a skip."""
    root = data_dir() / "fixtures" / "exif-samples"
    if not root.is_dir():
        raise AssertionError(
            f"fixture folder {root} is missing: set GEOSCOPE_DATA to the shared data folder"
        )
    return root


def exiftool_path() -> str:
    exe = shutil.which("exiftool")
    if exe is None:
        raise AssertionError(
            "exiftool is missing: install Debian's libimage-exiftool-perl "
            "(apt-get install -y libimage-exiftool-perl)"
        )
    return exe


def exiftool_dump(paths: list[Path]) -> dict[Path, dict[str, Any]]:
    """ExifTool's full numeric dump (-a -G1 -n) of each file."""
    out = subprocess.run(
        [exiftool_path(), "-j", "-a", "-G1", "-n", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    ).stdout
    return {Path(d["SourceFile"]): d for d in json.loads(out)}


def exiftool_tags(path: Path, *tags: str) -> dict[str, Any]:
    """ExifTool's numeric reading (-n) of ``tags`` of one file, by tag name."""
    out = subprocess.run(
        [exiftool_path(), "-j", "-n", *tags, str(path)], capture_output=True, check=True, timeout=60
    ).stdout
    (d,) = json.loads(out)
    d.pop("SourceFile")
    return dict(d)


def exiftool_warnings(paths: list[Path]) -> dict[Path, set[str]]:
    """The warnings of ``exiftool -validate`` for each file (its own checks of the spec)."""
    out = subprocess.run(
        [exiftool_path(), "-validate", "-warning", "-a", "-s", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    ).stdout
    result: dict[Path, set[str]] = {p: set() for p in paths}
    current = paths[0]
    for line in out.splitlines():
        if line.startswith("======== "):
            current = Path(line[len("======== ") :])
        elif line.startswith("Warning"):
            result.setdefault(current, set()).add(line.split(":", 1)[1].strip())
    return result


def exifread_dump(path: Path) -> dict[str, str]:
    with path.open("rb") as f:
        tags = exifread.process_file(f, details=True, truncate_tags=False, extract_thumbnail=False)
    return {k: str(v.values) for k, v in tags.items()}


def copy_fixture(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    """Copy a fixture into ``dest_dir`` and make the copy writable (the shared ones are 0444)."""
    dest = dest_dir / (name or src.name)
    shutil.copyfile(src, dest)
    dest.chmod(0o644)
    return dest


def after_sos(data: bytes) -> bytes:
    """The compressed image data of a JPEG: everything from the first SOS marker."""
    from geoscope_core.photos.jpegedit import split_jpeg

    return split_jpeg(data)[1]


def pixels(path_or_bytes: Path | bytes) -> bytes:
    from PIL import Image

    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with Image.open(src) as im:
        im.load()
        return im.mode.encode() + repr(im.size).encode() + im.tobytes()
