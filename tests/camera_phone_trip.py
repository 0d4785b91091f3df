"""A camera + phone trip built from real photos, with a camera clock off by a known amount.

The photos are the 19 of pixTrail's Rome walk (Sony ILCE-9M2, 14 Aug 2024, CEST; 16 carry
GPS that a paired phone gave them, GPSDateTime 0-6 s after the shot). No real trip of two
devices is at hand, so one is made from them:

- the *phone*: every other GPS photo (8; or only the first ``phones`` of those), cropped (its own
  framing of the scene), made by an "Apple iPhone 13", taken at its GPS time (local
  +02:00, OffsetTimeOriginal +02:00) with the GPS: the reference photos, times known;
- the *camera*: all 19 photos with every GPS tag stripped, made by a "SONY ILCE-7M3" and
  their DateTimeOriginal moved ``shift_s`` seconds (its clock that far ahead).

The right correction of the camera is then ``-shift_s`` plus the shot-to-GPS lag (0-6 s);
half of the camera's photos of known place have a phone twin, the other half are placed
between the phone's photos by time alone.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from PIL import Image

from geoscope_core.photos.metadata import read_metadata
from geoscope_core.settings import data_dir

TRIP = data_dir() / "tracks" / "trips" / "pixtrail_rome_2024-08-10"
CAMERA_MODEL = "ILCE-7M3"


@dataclass(frozen=True)
class CameraPhoneTrip:
    """``camera`` and ``phone`` folders; ``truth`` camera photo -> its true (lat, lon)."""

    camera: Path
    phone: Path
    truth: dict[Path, tuple[float, float]]


def _exiftool_shift(shift_s: int) -> str:
    sign, a = ("+" if shift_s >= 0 else "-"), abs(shift_s)
    return f"-DateTimeOriginal{sign}=0:0:0 {a // 3600}:{a % 3600 // 60}:{a % 60}"


def build_trip(root: Path, shift_s: int, phones: int | None = None) -> CameraPhoneTrip:
    """Write the trip under ``root`` (made; must not hold one already)."""
    src = sorted(TRIP.glob("*.jpg"))
    if len(src) != 19:
        raise FileNotFoundError(f"test data missing: {TRIP} (set $GEOSCOPE_DATA)")
    cam_dir, phone_dir = root / "camera", root / "phone"
    cam_dir.mkdir(parents=True)
    phone_dir.mkdir()
    truth: dict[Path, tuple[float, float]] = {}
    tagged = []
    for p in src:
        dst = cam_dir / p.name
        dst.write_bytes(p.read_bytes())
        m = read_metadata(p)
        if m.gps is not None:
            truth[dst] = m.gps
            tagged.append(p)
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-gps:all=", "-xmp-exif:gps*=",
         f"-Model={CAMERA_MODEL}", _exiftool_shift(shift_s), str(cam_dir)],
        check=True,
    )  # fmt: skip
    for p in tagged[::2][:phones]:
        m = read_metadata(p)
        if m.gps_utc is None:
            raise ValueError(f"{p}: no GPS time")
        local = m.gps_utc + timedelta(hours=2)
        with Image.open(p) as im:
            w, h = im.size
            exif = im.getexif()
            exif[0x010F], exif[0x0110] = "Apple", "iPhone 13"
            sub = exif.get_ifd(0x8769)
            sub[0x9003] = local.strftime("%Y:%m:%d %H:%M:%S")
            sub[0x9011] = "+02:00"
            sub.pop(0x9291, None)  # SubSecTimeOriginal of the camera
            crop = (w // 8, h // 6, w - w // 5, h - h // 8)
            im.crop(crop).save(phone_dir / f"IMG_{p.stem[-4:]}.jpg", "JPEG", exif=exif)
    return CameraPhoneTrip(cam_dir, phone_dir, truth)
