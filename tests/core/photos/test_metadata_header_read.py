"""The metadata pass reads a JPEG's header segments, not its image data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from geoscope_core.photos.metadata import XMP_SCAN_BYTES, _xmp_scan, embedded_xmp, read_metadata

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="45,49.0N" '
    b'exif:GPSLongitude="15,58.9E"/></rdf:RDF></x:xmpmeta>'
)


def _noisy_jpeg(path: Path) -> bytes:
    """A 1 MB-ish JPEG with an XMP APP1 segment after its EXIF."""
    px = np.random.default_rng(0).integers(0, 255, (900, 1200, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, "JPEG", quality=92, exif=Image.Exif().tobytes())
    data = buf.getvalue()
    payload = b"http://ns.adobe.com/xap/1.0/\0" + XMP
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    data = data[:2] + app1 + data[2:]
    path.write_bytes(data)
    return data


def test_jpeg_header_is_read_without_the_image_data(tmp_path: Path) -> None:
    data = _noisy_jpeg(tmp_path / "a.jpg")
    with open(tmp_path / "a.jpg", "rb") as f:
        head = _xmp_scan(f, data[:32])
    assert len(data) > 500_000 and len(head) < 10_000  # the pixels are left to the decoder
    assert data.startswith(head) and head[-4:-2] == b"\xff\xda"  # up to the start of scan
    assert embedded_xmp(head) == XMP.decode()
    meta = read_metadata(tmp_path / "a.jpg")
    assert meta.gps is not None and abs(meta.gps[0] - 45.8167) < 1e-3  # the XMP's GPS


def test_a_file_that_breaks_its_markers_is_scanned_plainly(tmp_path: Path) -> None:
    data = b"\xff\xd8\x00\x00" + XMP + b"\0" * 100
    with io.BytesIO(data) as f:
        assert _xmp_scan(f, data[:32]) == data[:XMP_SCAN_BYTES]
