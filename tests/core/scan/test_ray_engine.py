"""The Ray engine on a local Ray instance this module starts (2 CPUs, no dashboard)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")

from geoscope_core.cli import main  # noqa: E402
from geoscope_core.errors import DataError  # noqa: E402
from geoscope_core.photos.metadata import read_metadata  # noqa: E402
from geoscope_core.photos.walk import iter_photos  # noqa: E402
from geoscope_core.runtime.predictor import Predictor  # noqa: E402
from geoscope_core.scan.output import read_results, shard_files, write_shard  # noqa: E402
from geoscope_core.scan.pipeline import Scanner  # noqa: E402
from geoscope_core.scan.ray_engine import RayOptions, scan_on_ray  # noqa: E402
from geoscope_core.scan.types import ScanOptions, ScanStatus  # noqa: E402
from tests.bundles import BLUE, GREEN, RED, write_jpeg  # noqa: E402

ZAGREB = (45.815, 15.982)
OPTIONS = ScanOptions(use_cache=False)  # workers must not share the user's cache file


@pytest.fixture(scope="module", autouse=True)
def _local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _archive(root: Path) -> list[Path]:
    """Three folders: model photos, a camera-GPS photo with time neighbours, a broken
    file (an error row)."""
    t = "2024:05:01 10:00:00"
    write_jpeg(root / "a" / "red.jpg", RED)
    write_jpeg(root / "a" / "blue.jpg", BLUE)
    write_jpeg(root / "b" / "tagged.jpg", RED, gps=ZAGREB, taken_at=t)
    write_jpeg(root / "b" / "green.jpg", GREEN, taken_at="2024:05:01 10:01:00")
    (root / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    write_jpeg(root / "c" / "blue2.jpg", BLUE)
    write_jpeg(root / "c" / "green2.jpg", GREEN)
    return list(iter_photos(root))


def _ray_scan(bundle: Path, photos: list[Path], shards: Path, **kw) -> list:
    predictor = Predictor.load(bundle)
    return list(
        scan_on_ray(
            photos,
            bundle,
            predictor.model_id,
            "cpu",
            OPTIONS,
            RayOptions(workers=2),
            shards,
            **kw,
        )
    )


def test_ray_scan_equals_local_scan(zs_bundle: Path, tmp_path: Path) -> None:
    photos = _archive(tmp_path / "p")
    local = {r.path: r for r in Scanner(Predictor.load(zs_bundle), OPTIONS).scan(photos)}
    on_ray = _ray_scan(zs_bundle, photos, tmp_path / "shards")
    assert sorted(r.path for r in on_ray) == sorted(photos)
    for r in on_ray:
        want = local[r.path]
        assert (r.status, r.prediction, r.error, r.reason) == (
            want.status,
            want.prediction,
            want.error,
            want.reason,
        )
        assert r.metadata == want.metadata  # its fingerprint included
    statuses = {r.path.name: r.status for r in on_ray}
    assert statuses["tagged.jpg"] is ScanStatus.EXIF
    assert statuses["green.jpg"] is ScanStatus.NEIGHBORS  # by time, within its folder
    assert statuses["broken.jpg"] is ScanStatus.ERROR  # a row, not a failed job
    assert len(shard_files(tmp_path / "shards")) == 3  # one per folder


def test_killed_scan_resumes_with_one_row_per_photo(zs_bundle: Path, tmp_path: Path) -> None:
    photos = _archive(tmp_path / "p")
    shards = tmp_path / "shards"
    stop = threading.Event()
    first = _ray_scan(zs_bundle, photos, shards, progress=lambda d, t: stop.set(), cancel=stop)
    kept = {f.name: f.stat().st_mtime_ns for f in shard_files(shards)}
    assert 1 <= len(kept) < 3 and len(first) < len(photos)
    seen: list[tuple[int, int]] = []
    second = _ray_scan(zs_bundle, photos, shards, progress=lambda d, t: seen.append((d, t)))
    assert sorted(r.path for r in second) == sorted(photos)  # each photo exactly once
    assert seen[-1] == (len(photos), len(photos))
    # the folders finished before the kill were read back, not scanned again
    assert {f.name: f.stat().st_mtime_ns for f in shard_files(shards) if f.name in kept} == kept
    assert len(shard_files(shards)) == 3
    assert sorted(r.path for r in read_results(shards)) == sorted(photos)


def test_results_of_other_photos_are_refused(zs_bundle: Path, tmp_path: Path) -> None:
    photos = _archive(tmp_path / "p")
    shards = tmp_path / "shards"
    shards.mkdir()
    write_shard([], shards / "part-0123456789abcdef0123.parquet")  # another scan's folder
    with pytest.raises(DataError, match="other photos"):
        _ray_scan(zs_bundle, photos, shards)


def test_write_of_ray_results_round_trips_with_undo(
    zs_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = _archive(tmp_path / "p")
    before = {p: p.read_bytes() for p in photos}
    out = tmp_path / "r.json"
    args = ["scan", str(tmp_path / "p"), "--model", str(zs_bundle), "--engine", "ray"]
    assert main([*args, "--no-cache", "--no-progress", "--out", str(out)]) == 1  # broken.jpg
    assert len(shard_files(tmp_path / "r.json.shards")) == 3
    assert sorted(r.path for r in read_results(out)) == sorted(photos)
    assert {p: p.read_bytes() for p in photos} == before  # the scan wrote no photo

    # a photo changed since the scan is refused, the others written
    changed = tmp_path / "p" / "c" / "blue2.jpg"
    changed.write_bytes(changed.read_bytes() + b"\0")
    before[changed] = changed.read_bytes()
    capsys.readouterr()
    assert main(["write", str(out), "--min-confidence", "0"]) == 1
    text = capsys.readouterr().out
    assert "not the photo that was scanned" in text and "blue2.jpg" in text
    assert changed.read_bytes() == before[changed]
    red = tmp_path / "p" / "a" / "red.jpg"
    meta = read_metadata(red)
    assert meta.gps is not None and meta.gps_is_estimate
    journal = next(line.split()[1] for line in text.splitlines() if line.startswith("journal:"))

    assert main(["undo", journal]) == 0
    assert {p: p.read_bytes() for p in photos} == before


def test_worker_that_cannot_start_names_its_cause(zs_bundle: Path, tmp_path: Path) -> None:
    photos = _archive(tmp_path / "p")
    with pytest.raises(DataError, match=r"could not start: DataError: worker loaded .* not "):
        list(
            scan_on_ray(
                photos, zs_bundle, "another-model", "cpu", OPTIONS, RayOptions(), tmp_path / "s"
            )
        )
    assert shard_files(tmp_path / "s") == []


def test_cli_reports_a_worker_that_cannot_start_in_one_line(
    zs_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _archive(tmp_path / "p")
    real_id = Predictor.load(zs_bundle).model_id
    load = Predictor.load

    def other_model(*a: object, **kw: object) -> Predictor:
        predictor = load(*a, **kw)
        predictor.model_id = "another-model"
        return predictor

    # the driver's model id differs from the one the workers load (another bundle there)
    monkeypatch.setattr(Predictor, "load", other_model)
    out = tmp_path / "r.json"
    args = ["scan", str(tmp_path / "p"), "--model", str(zs_bundle), "--engine", "ray"]
    assert main([*args, "--no-cache", "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert errors == [
        f"geoscope scan: error: a scan worker could not start: DataError: worker loaded "
        f"{real_id} from {zs_bundle}, not another-model: "
        "every node must see the same bundle"
    ], err
    assert "Traceback" not in err
    assert not out.exists()


def test_failed_folder_keeps_no_shard_and_is_scanned_again(zs_bundle: Path, tmp_path: Path) -> None:
    photos = _archive(tmp_path / "p")
    shards = tmp_path / "shards"
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache's folder should be")
    # every folder's scan raises in its worker (its cache cannot be opened there)
    bad = replace(OPTIONS, use_cache=True, cache_path=blocked / "cache.sqlite")
    model_id = Predictor.load(zs_bundle).model_id
    first = list(scan_on_ray(photos, zs_bundle, model_id, "cpu", bad, RayOptions(), shards))
    assert sorted(r.path for r in first) == sorted(photos)  # reported, one row a photo
    assert {r.status for r in first} == {ScanStatus.ERROR}
    assert all("cache.sqlite" in r.error or "blocked" in r.error for r in first)
    assert shard_files(shards) == []  # nothing kept: a resume must not skip them
    second = _ray_scan(zs_bundle, photos, shards)
    assert sorted(r.path for r in second) == sorted(photos)
    assert {r.path.name for r in second if r.status is ScanStatus.ERROR} == {"broken.jpg"}
    assert len(shard_files(shards)) == 3


def test_archive_given_as_a_file_uri_is_listed_through_pyarrow(
    zs_bundle: Path, tmp_path: Path
) -> None:
    photos = _archive(tmp_path / "my archive")  # a space: %20 in the URI
    uri = (tmp_path / "my archive").as_uri()
    assert "%20" in uri
    out = tmp_path / "r.json"
    args = ["scan", uri, "--model", str(zs_bundle), "--engine", "ray", "--no-cache"]
    assert main([*args, "--no-progress", "--out", str(out)]) == 1  # broken.jpg
    assert sorted(r.path for r in read_results(out)) == sorted(photos)  # local paths
