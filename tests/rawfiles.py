"""Real camera raw files for tests: a DNG built as the format defines it.

No camera raw sample ships with the shared data, and no writer of raw files is
installed, so a DNG is built the way Adobe's specification lays it out: a TIFF whose
IFD0 carries ``DNGVersion`` (tag 50706) and the sensor data (here a small
uncompressed RGB strip of one grey), with the camera's JPEG preview in IFD1 and
the EXIF (capture time, GPS) beside it. Pillow writes the TIFF, exiv2 adds the EXIF
and the preview; ExifTool identifies the result as a DNG. A Fujifilm RAF (a layout
exifread does not know) is its 160-byte header, "FUJIFILMCCD-RAW", pointing at the
camera's JPEG, which carries the EXIF; ExifTool and exiv2 read it as a RAF.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

#: The colour of the raw (sensor) strip: a decoder that shows it did not use the preview.
RAW_GREY = (120, 120, 120)


def _rational_dms(value: float) -> str:
    a = abs(value)
    d, m = int(a), int((a - int(a)) * 60)
    micro = round((a - d - m / 60) * 3600 * 1_000_000)
    return f"{d}/1 {m}/1 {micro}/1000000"


def write_dng(
    path: Path,
    preview: np.ndarray,
    taken_at: str | None = None,
    gps: tuple[float, float] | None = None,
    camera: tuple[str, str] = ("Nikon", "Z 6"),
    offset: str | None = None,
    orientation: int = 1,
    preview_size: tuple[int, int] = (320, 240),
) -> Path:
    """Write a DNG at ``path`` whose embedded JPEG preview is ``preview`` (uint8 [H, W, 3])
    scaled to ``preview_size``, with EXIF Make/Model, DateTimeOriginal
    (``"YYYY:MM:DD HH:MM:SS"``), OffsetTimeOriginal, Orientation and GPS (degrees)."""
    import exiv2
    from PIL import Image, TiffImagePlugin

    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[50706] = b"\x01\x04\x00\x00"  # DNGVersion 1.4.0.0
    ifd.tagtype[50706] = 1  # BYTE
    ifd[271], ifd[272] = camera
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), RAW_GREY).save(buf, "TIFF", tiffinfo=ifd)
    image = exiv2.ImageFactory.open(buf.getvalue())
    image.readMetadata()
    exif = image.exifData()
    exif["Exif.Image.Orientation"] = str(orientation)
    if taken_at:
        exif["Exif.Photo.DateTimeOriginal"] = taken_at
    if offset:
        exif["Exif.Photo.OffsetTimeOriginal"] = offset
    if gps is not None:
        exif["Exif.GPSInfo.GPSVersionID"] = "2 3 0 0"
        exif["Exif.GPSInfo.GPSLatitudeRef"] = "N" if gps[0] >= 0 else "S"
        exif["Exif.GPSInfo.GPSLatitude"] = _rational_dms(gps[0])
        exif["Exif.GPSInfo.GPSLongitudeRef"] = "E" if gps[1] >= 0 else "W"
        exif["Exif.GPSInfo.GPSLongitude"] = _rational_dms(gps[1])
    jpeg = io.BytesIO()
    Image.fromarray(preview).resize(preview_size).save(jpeg, "JPEG", quality=95)
    exiv2.ExifThumb(exif).setJpegThumbnail(jpeg.getvalue())
    image.writeMetadata()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(image.io().mmap()))
    return path


def write_raf(
    path: Path,
    preview: np.ndarray,
    taken_at: str,
    gps: tuple[float, float],
    camera: tuple[str, str] = ("FUJIFILM", "X-T3"),
) -> Path:
    """Write a RAF at ``path`` whose embedded JPEG is ``preview`` (uint8 [H, W, 3]) with
    EXIF Make/Model, DateTimeOriginal and GPS (degrees); no sensor data."""
    import struct

    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = camera
    exif.get_ifd(0x8769)[0x9003] = taken_at
    g = exif.get_ifd(0x8825)
    for (ref_tag, val_tag), value, (pos, neg) in (
        ((1, 2), gps[0], ("N", "S")),
        ((3, 4), gps[1], ("E", "W")),
    ):
        a = abs(value)
        d, m = int(a), int((a - int(a)) * 60)
        g[ref_tag] = pos if value >= 0 else neg
        g[val_tag] = (float(d), float(m), round((a - d - m / 60) * 3600, 4))
    jpeg = io.BytesIO()
    Image.fromarray(preview).save(jpeg, "JPEG", quality=95, exif=exif.tobytes())
    header = bytearray(160)
    header[0:16] = b"FUJIFILMCCD-RAW "
    header[16:20], header[20:28] = b"0201", b"FF383501"
    header[28 : 28 + len(camera[1])] = camera[1].encode()
    header[60:64] = b"0100"
    struct.pack_into(">II", header, 84, len(header), len(jpeg.getvalue()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(header) + jpeg.getvalue())
    return path
