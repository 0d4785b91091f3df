"""Decode a photo into the square uint8 RGB input of a bundle's image encoder.

Large JPEGs are decoded at a reduced DCT scale (``Image.draft``: 1/2, 1/4 or 1/8
of full size, still at least the target size), which makes a 12 MP photo cost a
small fraction of a full decode; HEIC/HEIF files use an embedded thumbnail
when one is at least the target size. A bundle with several views (``PreprocessSpec.views``)
gets each square from that one decode. EXIF orientation is applied; CMYK, 16-bit,
float, palette and alpha images are converted; HEIC/HEIF is read through
pillow-heif, registered on first use. Images whose pixel count exceeds
``max_pixels`` are refused before any pixel is decoded.

Thread safety: ``load_image`` may run in many threads at once (Pillow releases
the GIL while decoding and resizing).
"""

from __future__ import annotations

import logging
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from geoscope_core.errors import ImageDecodeError
from geoscope_core.formats import format_of
from geoscope_core.runtime.manifest import Interpolation, PreprocessSpec, ResizeMode, View

log = logging.getLogger(__name__)

#: Default ceiling on width x height (pixels): 200 MP, far above any camera's
#: output, far below what would exhaust memory.
DEFAULT_MAX_PIXELS = 200_000_000

_RESAMPLING = {
    Interpolation.BICUBIC: Image.Resampling.BICUBIC,
    Interpolation.BILINEAR: Image.Resampling.BILINEAR,
}

_heif_lock = threading.Lock()
_heif_registered = False

# Exceptions Pillow's decoders raise on broken files (beyond OSError).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    struct.error,
    EOFError,
    IndexError,
    TypeError,
    ZeroDivisionError,
    KeyError,
    Image.DecompressionBombError,
)


def register_heif() -> bool:
    """Register pillow-heif's opener with Pillow (once). Returns whether HEIF is available."""
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            try:
                import pillow_heif
            except ImportError:
                log.warning("pillow-heif is not installed: HEIC/HEIF photos cannot be read")
                return False
            pillow_heif.register_heif_opener()
            _heif_registered = True
    return True


def _target_box(width: int, height: int, resize: ResizeMode, view: View) -> tuple:
    """Source box (left, top, right, bottom) in pixels that maps onto the square output."""
    if resize is ResizeMode.SQUASH:
        return (0.0, 0.0, float(width), float(height))
    side = min(width, height)
    share = {View.START: 0.0, View.CENTER: 0.5, View.END: 1.0}[view]
    left = (width - side) * share
    top = (height - side) * share
    return (left, top, left + side, top + side)


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is composited onto white."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        if mode.startswith("I;16") or hi > 255:
            scale = 65535.0 if hi > 255 or mode.startswith("I;16") else 255.0
            if mode == "F" and hi <= 1.0:
                scale = 1.0
            arr = arr * (255.0 / max(scale, 1e-9))
        elif mode == "F" and hi <= 1.0:
            arr = arr * 255.0
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _allow_pixels(max_pixels: int) -> None:
    """Raise Pillow's decompression-bomb ceiling (an error at twice MAX_IMAGE_PIXELS) to
    ``max_pixels``, so the one limit that applies is GeoScope's; never lowers it."""
    with _heif_lock:
        current = Image.MAX_IMAGE_PIXELS
        if current is not None and 2 * current < max_pixels:
            Image.MAX_IMAGE_PIXELS = max_pixels // 2 + 1


def preprocess(
    path: Path, spec: PreprocessSpec, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """The image encoder's input uint8 [views, size, size, 3] from the photo at ``path``,
    as ``spec`` (a bundle manifest's ``input``, or a training backbone's) says: one
    square per ``spec.views``, all from one decode."""
    return _load_views(path, spec.size, spec.resize, max_pixels, spec.interpolation, spec.views)


def load_image(
    path: Path,
    size: int,
    resize: ResizeMode = ResizeMode.CENTER_CROP,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    interpolation: Interpolation = Interpolation.BICUBIC,
) -> np.ndarray:
    """Decode ``path`` to a uint8 RGB array of shape [size, size, 3].

    ``resize``: CENTER_CROP scales the shorter side to ``size`` and keeps the
    centre square; SQUASH scales both sides to ``size``; with the ``interpolation``
    filter. Orientation from EXIF is applied first. Raises ImageDecodeError for unreadable, corrupt,
    unsupported or too large (> ``max_pixels`` pixels) images.
    """
    return _load_views(path, size, resize, max_pixels, interpolation, (View.CENTER,))[0]


#: the most pixels of a camera raw file's embedded preview the scan decodes
MAX_PREVIEW_PIXELS = 64_000_000


def raw_preview(path: Path, max_pixels: int = MAX_PREVIEW_PIXELS) -> tuple[bytes, int]:
    """The largest JPEG preview embedded in the camera raw file ``path`` of at most
    ``max_pixels`` pixels (its encoded bytes) and the raw file's EXIF orientation (1-8;
    a preview usually has none of its own); ImageDecodeError when there is no such
    preview or exiv2 cannot read the file. Only the metadata is parsed (exiv2 0.28 reads
    Canon's CR3, an ISO BMFF file, with the BMFF support it is built with)."""
    import exiv2

    try:
        image = exiv2.ImageFactory.open(str(path))
        image.readMetadata()
        previews = exiv2.PreviewManager(image)
        jpegs = [
            p
            for p in previews.getPreviewProperties()
            if p.mimeType_ == "image/jpeg" and 0 < p.width_ * p.height_ <= max_pixels
        ]
        if not jpegs:
            raise ImageDecodeError(f"{path}: no embedded JPEG preview to decode")
        best = max(jpegs, key=lambda p: (p.width_ * p.height_, p.size_))
        data = bytes(previews.getPreviewImage(best).copy().data())
        exif = image.exifData()
        it = exif.findKey(exiv2.ExifKey("Exif.Image.Orientation"))
        orientation = it.toInt64() if it != exif.end() else 1
        return data, orientation if 1 <= orientation <= 8 else 1
    except exiv2.Exiv2Error as e:
        raise ImageDecodeError(f"{path}: cannot read its previews ({e})") from e


def _raw_preview(path: Path, max_pixels: int) -> Image.Image:
    """The largest embedded JPEG preview of the camera raw file ``path`` (within
    ``max_pixels``), opened, with the raw file's orientation unless it has its own."""
    import io

    data, orientation = raw_preview(path, max_pixels)
    im = Image.open(io.BytesIO(data))
    exif = im.getexif()
    if orientation != 1 and 0x0112 not in exif:
        exif[0x0112] = orientation
    return im


def raw_preview_fitted(path: Path, size: int) -> np.ndarray:
    """The embedded preview of the camera raw file ``path`` as a viewer shows it: turned
    and mirrored as its EXIF orientation says (all eight, by the same rule as the scan's
    decode) and scaled to fit ``size`` x ``size`` px (DCT-domain downscale first): uint8
    [H, W, 3] RGB. ImageDecodeError when it has no preview that decodes."""
    try:
        im = _raw_preview(path, MAX_PREVIEW_PIXELS)
        im.draft("RGB", (size, size))  # never below the size asked for
        im.load()
        out = _to_rgb(ImageOps.exif_transpose(im) or im)
        out.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
        return np.asarray(out, dtype=np.uint8)
    except _DECODE_ERRORS as e:
        raise ImageDecodeError(f"{path}: its preview cannot be decoded ({e})") from e


def _load_views(
    path: Path,
    size: int,
    resize: ResizeMode,
    max_pixels: int,
    interpolation: Interpolation,
    views: tuple[View, ...],
) -> np.ndarray:
    """``load_image`` for each of ``views`` from one decode: uint8 [len(views), size, size, 3]."""
    path = Path(path)
    fmt = format_of(path)
    heif = fmt is not None and fmt.heif
    if heif:
        register_heif()
    _allow_pixels(max_pixels)
    try:
        with warnings.catch_warnings():
            # The limit is ``max_pixels`` (checked below), not Pillow's 89 MP warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            raw = fmt is not None and fmt.raw
            im = _raw_preview(path, max_pixels) if raw else Image.open(path)
    except FileNotFoundError as e:
        raise ImageDecodeError(f"{path}: file not found") from e
    except UnidentifiedImageError as e:
        if not heif and register_heif():
            # A HEIF file with a misleading suffix.
            try:
                im = Image.open(path)
            except Exception as e2:
                raise ImageDecodeError(f"{path}: not a recognised image format") from e2
        else:
            raise ImageDecodeError(f"{path}: not a recognised image format") from e
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise ImageDecodeError(f"{path}: image too large to decode safely ({e})") from e
    except _DECODE_ERRORS as e:
        raise ImageDecodeError(f"{path}: cannot open image: {e}") from e

    try:
        with im:
            width, height = im.size
            if width <= 0 or height <= 0:
                raise ImageDecodeError(f"{path}: empty image ({width}x{height})")
            if width * height > max_pixels:
                raise ImageDecodeError(
                    f"{path}: {width}x{height} = {width * height / 1e6:.0f} MP exceeds the "
                    f"{max_pixels / 1e6:.0f} MP limit"
                )
            if im.format in ("JPEG", "HEIF"):
                # JPEG: DCT-domain downscale; HEIF: an embedded thumbnail. Either way the
                # result still covers ``size`` on the short side (draft never goes below
                # the requested size).
                side = min(width, height)
                scale = size / side
                request = (max(size, int(width * scale)), max(size, int(height * scale)))
                if resize is ResizeMode.SQUASH:
                    request = (size, size)
                im.draft("RGB" if im.mode in ("RGB", "YCbCr") else im.mode, request)
            im.load()
            out = ImageOps.exif_transpose(im) or im
            out = _to_rgb(out)
            crops: dict[View, np.ndarray] = {}  # a mirror shares its centre's resize

            def square(view: View) -> np.ndarray:
                crop = View.CENTER if view is View.MIRROR else view
                if crop not in crops:
                    box = _target_box(out.width, out.height, resize, crop)
                    scaled = out.resize((size, size), _RESAMPLING[interpolation], box=box,
                                        reducing_gap=3.0)  # fmt: skip
                    crops[crop] = np.asarray(scaled, dtype=np.uint8)
                return crops[crop][:, ::-1] if view is View.MIRROR else crops[crop]

            arr = np.stack([square(view) for view in views])
    except ImageDecodeError:
        raise
    except MemoryError as e:
        raise ImageDecodeError(f"{path}: out of memory while decoding") from e
    except _DECODE_ERRORS as e:
        raise ImageDecodeError(f"{path}: corrupt or unsupported image: {e}") from e
    if arr.shape != (len(views), size, size, 3):
        raise ImageDecodeError(f"{path}: decoded to unexpected shape {arr.shape}")
    return arr
