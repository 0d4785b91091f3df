"""The one sha256 of files (a photo's fingerprint, a bundle's files, the write journal)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from geoscope_core.fsio import sha256_file, sha256_fileobj

CHUNK = 1 << 18


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_sha256_file_matches_hashlib_across_chunk_edges(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(path, chunk=7) == hashlib.sha256(data).hexdigest()


def test_sha256_fileobj_hashes_what_is_left_to_read(tmp_path: Path) -> None:
    data = os.urandom(CHUNK + 1000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    with path.open("rb") as f:
        f.seek(123)
        assert sha256_fileobj(f) == hashlib.sha256(data[123:]).hexdigest()
        assert sha256_fileobj(f) == hashlib.sha256(b"").hexdigest()  # nothing left
