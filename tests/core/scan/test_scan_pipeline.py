from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.errors import ConfigError
from geoscope_core.photos.cache import ScanCache
from geoscope_core.photos.walk import iter_photos
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.pipeline import Scanner
from geoscope_core.scan.types import ScanOptions, ScanStatus
from tests.bundles import BLUE, GREEN, RED, solid_image, write_jpeg

ZAGREB = (45.815, 15.982)


def _folder(root: Path) -> dict[str, Path]:
    files = {
        "red": write_jpeg(root / "a" / "red.jpg", RED),
        "blue": write_jpeg(root / "a" / "blue.jpg", BLUE),
        "green": write_jpeg(root / "b" / "green.jpg", GREEN),
        "tagged": write_jpeg(root / "b" / "tagged.jpg", RED, gps=ZAGREB),
    }
    bad = root / "b" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    files["broken"] = bad
    return files


def _scan(bundle: Path, paths, **opts):
    scanner = Scanner(Predictor.load(bundle), ScanOptions(neighbors=False, **opts))
    return scanner, {r.path: r for r in scanner.scan(list(paths))}


def test_scan_outcomes(zs_bundle: Path, tmp_path: Path) -> None:
    f = _folder(tmp_path / "p")
    progress = []
    scanner = Scanner(Predictor.load(zs_bundle), ScanOptions(neighbors=False))
    results = list(
        scanner.scan(
            list(iter_photos(tmp_path / "p")), progress=lambda d, t: progress.append((d, t))
        )
    )
    by = {r.path: r for r in results}
    assert len(results) == 5 and progress[-1] == (5, 5)
    assert [d for d, _ in progress] == [1, 2, 3, 4, 5]
    assert by[f["red"]].status is ScanStatus.PREDICTED and by[f["red"]].prediction.city == "Split"
    assert by[f["blue"]].prediction.city == "Tokyo"
    assert by[f["green"]].prediction.city == "Paris"
    t = by[f["tagged"]]
    assert t.status is ScanStatus.EXIF and t.prediction.source.value == "exif"
    assert (t.prediction.lat, t.prediction.lon) == pytest.approx(ZAGREB, abs=1e-4)
    assert t.prediction.country_code == "HR" and t.prediction.city  # reverse geocoded name
    b = by[f["broken"]]
    assert b.status is ScanStatus.ERROR and b.prediction is None and b.error
    assert scanner.stats.counts == {
        ScanStatus.EXIF: 1,
        ScanStatus.TRACK: 0,
        ScanStatus.NEIGHBORS: 0,
        ScanStatus.PREDICTED: 3,
        ScanStatus.ERROR: 1,
    }
    assert scanner.stats.decoded == 3  # the tagged photo is not run through the model


def test_repredict_gps(zs_bundle: Path, tmp_path: Path) -> None:
    f = _folder(tmp_path / "p")
    _, by = _scan(zs_bundle, [f["tagged"]], repredict_gps=True)
    r = by[f["tagged"]]
    assert r.status is ScanStatus.PREDICTED and r.prediction.city == "Split"
    assert r.metadata.gps == pytest.approx(ZAGREB, abs=1e-4)


def test_cache_makes_rescans_skip_decoding(zs_bundle: Path, tmp_path: Path) -> None:
    f = _folder(tmp_path / "p")
    paths = sorted(f.values())
    s1, first = _scan(zs_bundle, paths)
    assert s1.stats.cached == 0 and s1.stats.decoded == 3
    s2, second = _scan(zs_bundle, paths)
    assert s2.stats.cached == 4 and s2.stats.decoded == 0  # only the broken file is retried
    for p in paths:
        assert second[p].status == first[p].status
        assert second[p].prediction == first[p].prediction
    st = f["red"].stat()
    os.utime(f["red"], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    s3, third = _scan(zs_bundle, paths)
    assert s3.stats.decoded == 1 and third[f["red"]].prediction.city == "Split"
    # a different model does not reuse the first model's rows
    s4, _ = _scan(zs_bundle, paths, use_cache=True, batch_size=2)
    assert s4.stats.cached == 4


def test_no_cache_writes_nothing(zs_bundle: Path, tmp_path: Path) -> None:
    f = _folder(tmp_path / "p")
    _scan(zs_bundle, f.values(), use_cache=False)
    assert not ScanCache.default_path().exists()


def test_memory_is_bounded_by_the_window(zs_bundle: Path, tmp_path: Path) -> None:
    paths = [
        write_jpeg(tmp_path / f"{i:03d}.jpg", solid_image((i, 255 - i, 90)), size=(96, 64))
        for i in range(0, 240, 3)
    ]
    live = {"now": 0, "max": 0}
    lock = threading.Lock()

    class Counting(Scanner):
        def _decode(self, path):
            out = super()._decode(path)
            with lock:
                live["now"] += 1
                live["max"] = max(live["max"], live["now"])
            return out

        def _run_batch(self, batch):
            super()._run_batch(batch)
            with lock:
                live["now"] -= len(batch)

    opts = ScanOptions(batch_size=4, workers=2, use_cache=False, neighbors=False)
    results = list(Counting(Predictor.load(zs_bundle), opts).scan(paths))
    assert len(results) == len(paths) and all(r.status is ScanStatus.PREDICTED for r in results)
    assert live["now"] == 0
    assert live["max"] <= max(2 * 4, 4 * 2) + 4  # window + one batch


def test_cancel_stops_early(zs_bundle: Path, tmp_path: Path) -> None:
    paths = [write_jpeg(tmp_path / f"{i}.jpg", RED, size=(64, 64)) for i in range(40)]
    cancel = threading.Event()
    scanner = Scanner(Predictor.load(zs_bundle), ScanOptions(batch_size=2, neighbors=False))

    def progress(done: int, total: int) -> None:
        if done >= 4:
            cancel.set()

    results = list(scanner.scan(paths, progress=progress, cancel=cancel))
    assert 4 <= len(results) < 40


def test_missing_file_is_an_error_result(zs_bundle: Path, tmp_path: Path) -> None:
    _, by = _scan(zs_bundle, [tmp_path / "gone.jpg"])
    r = by[tmp_path / "gone.jpg"]
    assert r.status is ScanStatus.ERROR and "cannot read file" in r.error


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        ScanOptions(batch_size=0)
    with pytest.raises(ConfigError):
        ScanOptions(time_window_s=-1)


def test_embeddings_are_cached_for_the_gallery(zs_bundle: Path, tmp_path: Path) -> None:
    f = _folder(tmp_path / "p")
    pr = Predictor.load(zs_bundle)
    list(Scanner(pr, ScanOptions(neighbors=False)).scan([f["blue"]]))
    from geoscope_core.photos.cache import FileKey

    with ScanCache.open() as cache:
        entry = cache.get_many([FileKey.of(f["blue"])], pr.model_id)[str(f["blue"].resolve())]
    assert entry.prediction.city == "Tokyo" and entry.metadata.camera
    from PIL import Image

    from tests.bundles import write_jpeg as _w  # noqa: F401  (helper is importable)

    px = np.asarray(Image.open(f["blue"]).convert("RGB").resize((64, 64)))
    assert float(entry.embedding @ pr.embed(px[None])[0]) > 0.95


def test_blas_runs_on_one_thread_during_a_scan(zs_bundle: Path, tmp_path: Path) -> None:
    """NumPy's BLAS threads would only contend with the decoders and ONNX Runtime: one
    thread while the scan runs, the caller's setting back once it is done."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    f = _folder(tmp_path / "p")
    scanner = Scanner(Predictor.load(zs_bundle), ScanOptions(neighbors=False))
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() == {2}
        during = [blas_threads() for _ in scanner.scan([f["red"], f["blue"]])]
        assert during == [{1}, {1}]
        assert blas_threads() == {2}
