"""The photo file formats GeoScope handles: one table for scanning, metadata and writing.

Every format in ``FORMATS`` is found by the folder walk, decoded by the runtime,
has its metadata read, and is written either in place (the metadata rewritten
without touching the image data) or through an XMP sidecar ``photo.ext.xmp``.
A file whose suffix is not in the table is not a photo to GeoScope: it is not
scanned and not written. Camera raw files (``raw``) are scanned by the largest
JPEG preview the camera embedded in them (exiv2 finds it; no raw developer is
needed), their metadata read like any photo's, and never written: they get a
sidecar ``photo.nef.xmp``, the name darktable and digiKam read.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class WriteMode(str, enum.Enum):
    """How an estimate is stored in a photo of a format."""

    IN_PLACE = "in-place"  # metadata rewritten inside the file, image data byte-identical
    SIDECAR = "sidecar"  # an XMP sidecar next to the file; the file is never modified


@dataclass(frozen=True)
class PhotoFormat:
    """One file format: its ``name``, lower-case ``suffixes`` (with the dot), the
    ``signatures`` (byte offset, magic bytes) its files start with, and ``write``."""

    name: str
    suffixes: tuple[str, ...]
    signatures: tuple[tuple[int, bytes], ...]
    write: WriteMode
    heif: bool = False  # decoded through pillow-heif
    raw: bool = False  # camera raw: decoded by its embedded JPEG preview (exiv2)


FORMATS: tuple[PhotoFormat, ...] = (
    PhotoFormat("JPEG", (".jpg", ".jpeg", ".jpe", ".jfif"), ((0, b"\xff\xd8\xff"),),
                WriteMode.IN_PLACE),
    PhotoFormat("TIFF", (".tif", ".tiff"), ((0, b"II*\x00"), (0, b"MM\x00*")),
                WriteMode.IN_PLACE),
    PhotoFormat("PNG", (".png",), ((0, b"\x89PNG\r\n\x1a\n"),), WriteMode.SIDECAR),
    PhotoFormat("WebP", (".webp",), ((8, b"WEBP"),), WriteMode.SIDECAR),
    PhotoFormat("BMP", (".bmp",), ((0, b"BM"),), WriteMode.SIDECAR),
    PhotoFormat("HEIF", (".heic", ".heif", ".hif"), ((4, b"ftyp"),), WriteMode.SIDECAR,
                heif=True),
    PhotoFormat("AVIF", (".avif",), ((4, b"ftyp"),), WriteMode.SIDECAR),
    # Camera raw, after the formats whose headers they share (TIFF's, ISO BMFF's).
    PhotoFormat("DNG", (".dng",), ((0, b"II*\x00"), (0, b"MM\x00*")), WriteMode.SIDECAR,
                raw=True),
    PhotoFormat("Nikon NEF", (".nef", ".nrw"), ((0, b"II*\x00"), (0, b"MM\x00*")),
                WriteMode.SIDECAR, raw=True),
    PhotoFormat("Canon CR2", (".cr2",), ((0, b"II*\x00"),), WriteMode.SIDECAR, raw=True),
    PhotoFormat("Canon CR3", (".cr3",), ((4, b"ftypcrx "),), WriteMode.SIDECAR, raw=True),
    PhotoFormat("Sony ARW", (".arw",), ((0, b"II*\x00"),), WriteMode.SIDECAR, raw=True),
    PhotoFormat("Fujifilm RAF", (".raf",), ((0, b"FUJIFILMCCD-RAW"),), WriteMode.SIDECAR,
                raw=True),
    PhotoFormat("Olympus ORF", (".orf",), ((0, b"IIRO"), (0, b"IIRS"), (0, b"MMOR")),
                WriteMode.SIDECAR, raw=True),
    PhotoFormat("Panasonic RW2", (".rw2",), ((0, b"IIU\x00"),), WriteMode.SIDECAR, raw=True),
)  # fmt: skip

_BY_SUFFIX: dict[str, PhotoFormat] = {s: f for f in FORMATS for s in f.suffixes}


def format_of(path: Path) -> PhotoFormat | None:
    """The format ``path``'s suffix names (case-insensitive), or None when it is not a photo."""
    return _BY_SUFFIX.get(Path(path).suffix.lower())


def is_photo(path: Path) -> bool:
    """Whether ``path``'s suffix is a supported photo format (case-insensitive)."""
    return format_of(path) is not None


def format_from_header(head: bytes) -> PhotoFormat | None:
    """The format whose signature ``head`` (the file's first bytes, >= 16) starts with."""
    for fmt in FORMATS:
        for offset, magic in fmt.signatures:
            if head[offset : offset + len(magic)] == magic:
                return fmt
    return None
