from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np

from geoscope_core.photos.cache import CacheEntry, FileKey, ScanCache
from geoscope_core.photos.metadata import PhotoMetadata
from geoscope_core.photos.walk import iter_photos
from geoscope_core.prediction import Candidate, Prediction, Source


def test_walk_is_sorted_recursive_and_skips_hidden(tmp_path: Path) -> None:
    for rel in ("b/2.JPG", "a/1.jpg", "a/z/3.heic", ".hidden/4.jpg", "a/.5.jpg", "a/notes.txt",
                "c/6.png"):  # fmt: skip
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_photos(tmp_path)]
    assert found == ["a/1.jpg", "a/z/3.heic", "b/2.JPG", "c/6.png"]
    hidden = [
        p.relative_to(tmp_path).as_posix() for p in iter_photos(tmp_path, include_hidden=True)
    ]
    assert ".hidden/4.jpg" in hidden and "a/.5.jpg" in hidden
    assert list(iter_photos(tmp_path / "a" / "1.jpg")) == [tmp_path / "a" / "1.jpg"]


def test_walk_survives_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "loop")
    os.symlink(tmp_path / "a" / "b", tmp_path / "again")
    found = list(iter_photos(tmp_path))
    assert len(found) == 1 and found[0].name == "x.jpg"


def _entry(path: Path) -> CacheEntry:
    meta = PhotoMetadata(path, gps=None, taken_at=datetime(2020, 1, 2, 3, 4, 5), camera="X Y")
    pred = Prediction(
        lat=45.0, lon=15.0, confidence=0.7, radius_km=30.0, country_code="HR", city="Zagreb",
        top_k=(Candidate(45.0, 15.0, 0.7, "HR", "Croatia", "", "Zagreb"),), model="m@1",
    )  # fmt: skip
    return CacheEntry(meta, pred, np.arange(4, dtype=np.float32))


def test_cache_roundtrip_and_staleness(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"abc")
    key = FileKey.of(photo)
    with ScanCache.open(tmp_path / "c.sqlite") as cache:
        cache.put_many([(key, _entry(photo))], "m@1")
        got = cache.get_many([key], "m@1")[key.path]
        assert got.metadata == _entry(photo).metadata
        assert got.prediction == _entry(photo).prediction and got.prediction.source is Source.MODEL
        assert np.array_equal(got.embedding, np.arange(4, dtype=np.float32))
        assert cache.get_many([key], "other@2") == {}
        photo.write_bytes(b"abcd")  # size changes -> stale
        assert cache.get_many([FileKey.of(photo)], "m@1") == {}
        sidecar = tmp_path / "p.jpg.xmp"
        key2 = FileKey.of(photo)
        cache.put_many([(key2, _entry(photo))], "m@1")
        sidecar.write_text("<x/>")  # a new sidecar can carry GPS -> stale
        assert cache.get_many([FileKey.of(photo)], "m@1") == {}


def test_corrupt_cache_file_is_replaced(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    db.write_bytes(b"this is not sqlite" * 100)
    with ScanCache.open(db) as cache:
        photo = tmp_path / "p.jpg"
        photo.write_bytes(b"abc")
        cache.put_many([(FileKey.of(photo), _entry(photo))], "m")
    assert sqlite3.connect(db).execute("select count(*) from entries").fetchone()[0] == 1
