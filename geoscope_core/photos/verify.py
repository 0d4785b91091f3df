"""Read-back verification of new bytes, by a reader independent of the editor (exifread).

Before a photo is replaced, its new bytes must carry the location (within
1e-6 degrees) and every tag it held before must read the same, maker notes
included, apart from the GPS block and pure position (offset) fields.
"""

from __future__ import annotations

import io
import math

from geoscope_core.errors import MetadataError
from geoscope_core.photos.metadata import exif_tags, gps_from_exif


class UnsafeInPlaceError(MetadataError):
    """Writing this photo in place would alter what it already holds: use a sidecar."""


#: Tags that legitimately change when GPS is added: the GPS block itself and positions.
_POSITIONAL = ("Image GPSInfo", "Image StripOffsets", "Thumbnail JPEGInterchangeFormat",
               "Thumbnail StripOffsets", "Image TileOffsets", "Image IPTC/NAA",
               "Image ApplicationNotes")  # fmt: skip


def metadata_dump(data: bytes) -> dict[str, str]:
    """Every tag exifread finds (maker notes included), as strings."""
    try:
        tags = exif_tags(io.BytesIO(data), details=True)
    except Exception as e:  # exifread raises many types on corrupt data
        raise MetadataError(f"unreadable metadata: {e}") from e
    return {k: str(getattr(v, "values", v)) for k, v in tags.items()}


def altered_tags(before: bytes, after: bytes, keep_gps: bool = False) -> list[str]:
    """Tags present in ``before`` whose value differs (or that vanished) in ``after``,
    ignoring pure position (offset) fields and, unless ``keep_gps``, the GPS block."""
    a, b = metadata_dump(before), metadata_dump(after)
    return [
        k
        for k, v in a.items()
        if (keep_gps or not k.startswith("GPS ")) and k not in _POSITIONAL and b.get(k) != v
    ]


def verify_location(data: bytes, lat: float, lon: float) -> None:
    """Raise UnsafeInPlaceError unless ``data`` reads back (exifread) with GPS at
    ``lat``/``lon`` (degrees) within 1e-6 degrees."""
    try:
        tags = exif_tags(io.BytesIO(data))
    except Exception as e:  # exifread raises many types on corrupt data
        raise UnsafeInPlaceError(f"the written file does not read back ({e})") from e
    gps = gps_from_exif(tags)
    if gps is None or not (
        math.isclose(gps[0], lat, abs_tol=1e-6) and math.isclose(gps[1], lon, abs_tol=1e-6)
    ):
        raise UnsafeInPlaceError("GPS written in place would not read back")
