"""Reading and writing survive what real folders hold: threads, odd names, FIFOs, huge
images, leftovers of a killed writer, a second writer, a full journal disk; and every
message names the problem plainly."""

from __future__ import annotations

import errno
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from photos_testutil import PREDICTION, copy_fixture, samples_dir
from PIL import Image

from geoscope_core.cli import main
from geoscope_core.fsio import TEMP_SUFFIX, folder_lock
from geoscope_core.photos import journal as journal_mod
from geoscope_core.photos.cache import CacheEntry, FileKey, ScanCache
from geoscope_core.photos.metadata import PhotoMetadata, read_metadata
from geoscope_core.photos.plan import WriteOptions
from geoscope_core.photos.writer import write_locations
from tests.bundles import RED, make_bundle, write_jpeg


def _gps_or_error(p: Path) -> object:
    try:
        return read_metadata(p).gps
    except Exception as e:  # the comparison is what matters, errors included
        return type(e).__name__


def test_heic_metadata_read_from_many_threads_is_right() -> None:
    files = sorted(p for p in (samples_dir() / "heic").rglob("*") if p.is_file())
    serial = {p: _gps_or_error(p) for p in files}
    assert sum(isinstance(g, tuple) for g in serial.values()) >= 3  # camera GPS HEICs
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            got = list(pool.map(lambda p: (p, _gps_or_error(p)), files * 4))
            assert all(g == serial[p] for p, g in got), [p.name for p, g in got if g != serial[p]]


def test_cache_keeps_photos_whose_names_are_not_utf8(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes, not UTF-8
    photo = tmp_path / name
    photo.write_bytes(b"x")
    key = FileKey.of(photo)
    with ScanCache.open(tmp_path / "c.sqlite") as cache:
        entry = CacheEntry(PhotoMetadata(path=photo), None, None)
        cache.put_many([(key, entry)], "m")
        got = cache.get_many([key], "m")
    assert got[key.path].metadata is not None and got[key.path].metadata.path == photo


def test_scan_of_a_folder_with_a_non_utf8_name_completes(
    zs_bundle: Path, tmp_path: Path, capsys
) -> None:
    folder = tmp_path / "p"
    write_jpeg(folder / "ok.jpg", RED)
    write_jpeg(folder / os.fsdecode(b"caf\xe9.jpg"), RED)
    out = tmp_path / "r.csv"
    args = ["scan", str(folder), "--model", str(zs_bundle), "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    assert "caf\\xe9.jpg" in out.read_text(encoding="utf-8")
    assert main(args) == 0  # the table, printed, and the cached second scan
    assert "caf\\xe9.jpg" in capsys.readouterr().out


def test_scan_refuses_a_fifo_and_a_dangling_link_without_hanging(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    assert main(["scan", str(fifo), "--no-progress"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    link = tmp_path / "gone.jpg"
    link.symlink_to(tmp_path / "nowhere.jpg")
    assert main(["scan", str(link), "--no-progress"]) == 2
    assert "dangling symbolic link" in capsys.readouterr().err


def test_scan_messages_before_and_after(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", str(tmp_path), "--min-confidence", "1.5", "--model", "nope"])
    assert exit_info.value.code == 2
    assert "not between 0 and 1" in capsys.readouterr().err  # before any model is loaded
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["scan", str(empty), "--no-progress"]) == 1
    assert "no photos found" in capsys.readouterr().out


def test_write_default_threshold_is_printed_with_the_count(tmp_path: Path, capsys) -> None:
    unsure = make_bundle(tmp_path / "unsure", logit_scale=1.0)  # confidences near 1/11
    photo = write_jpeg(tmp_path / "p" / "red.jpg", RED)
    before = photo.read_bytes()
    assert main(["scan", str(photo), "--model", str(unsure), "--write", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 estimate below the default --min-confidence 0.5" in out
    assert photo.read_bytes() == before


def test_a_101_megapixel_jpeg_is_decoded(tmp_path: Path) -> None:
    from geoscope_core.runtime.images import load_image

    f = tmp_path / "big.jpg"
    Image.new("L", (10100, 10080), 128).save(f, "JPEG", quality=50)
    arr = load_image(f, 64)
    assert arr.shape == (64, 64, 3) and int(np.abs(arr.astype(int) - 128).max()) <= 2


def test_leftover_temporary_files_are_removed_and_fresh_ones_kept(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    old = tmp_path / f".{f.name}.abc123{TEMP_SUFFIX}"
    fresh = tmp_path / f".{f.name}.def456{TEMP_SUFFIX}"
    old.write_bytes(b"half a photo")
    fresh.write_bytes(b"another writer's")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    assert write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j").results[0].action == (
        "written"
    )
    assert not old.exists() and fresh.exists()


def test_second_writer_on_a_folder_is_refused(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    before = f.read_bytes()
    with folder_lock(tmp_path):
        r = write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j").results[0]
    assert r.action == "failed" and "another GeoScope process" in r.reason
    assert f.read_bytes() == before
    assert write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j").results[0].action == (
        "written"
    )


def test_full_journal_disk_stops_the_batch_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [
        copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path, f"{i}.jpg")
        for i in range(3)
    ]
    before = [f.read_bytes() for f in files]

    def full(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_mod, "write_private", full)
    report = write_locations([(f, PREDICTION) for f in files], journal_dir=tmp_path / "j")
    assert [r.action for r in report.results] == ["failed"] * 3
    assert all("journal's disk is full" in r.reason for r in report.results)
    assert [f.read_bytes() for f in files] == before


def test_per_file_messages_are_plain(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    h = copy_fixture(samples_dir() / "heic" / "samplefilehub.heif", tmp_path)
    (tmp_path / (h.name + ".xmp")).write_bytes(b"<x:xmpmeta garbage")
    report = write_locations(
        [(empty, PREDICTION), (h, PREDICTION)],
        WriteOptions(),
        journal_dir=tmp_path / "j",
    )
    r_empty, r_side = report.results
    assert r_empty.action == "failed" and "empty file" in r_empty.reason
    assert r_side.action == "failed" and r_side.reason
    for r in report.results:
        assert str(r.path) not in r.reason  # the path is printed once, beside the reason
        assert "code" not in r.reason.lower() and "Exiv2Error" not in r.reason


def test_walk_reports_a_dangling_link(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from geoscope_core.photos.walk import iter_photos

    write_jpeg(tmp_path / "ok.jpg", RED)
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    assert [p.name for p in iter_photos(tmp_path)] == ["ok.jpg"]
    assert "gone.jpg: dangling symbolic link" in caplog.text
