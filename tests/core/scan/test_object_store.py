"""Photos in an object store: a real S3 endpoint (moto's server, started here) holding
real camera photos, scanned on a local Ray instance and in one process, against the scan
of the same photos on the local disk."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")
moto_server = pytest.importorskip("moto.server")

from pyarrow import fs  # noqa: E402

from geoscope_core.cli import main  # noqa: E402
from geoscope_core.errors import ConfigError, DataError  # noqa: E402
from geoscope_core.runtime.predictor import Predictor  # noqa: E402
from geoscope_core.scan import store as store_module  # noqa: E402
from geoscope_core.scan.output import read_results, shard_files  # noqa: E402
from geoscope_core.scan.pipeline import Scanner  # noqa: E402
from geoscope_core.scan.ray_engine import RayOptions, scan_on_ray  # noqa: E402
from geoscope_core.scan.store import ObjectStore, scan_any, scan_objects  # noqa: E402
from geoscope_core.scan.types import ScanOptions, ScanResult, ScanStatus  # noqa: E402

OPTIONS = ScanOptions(use_cache=False)
#: key in the bucket -> file of the shared camera fixtures (jpg/...): two folders, GPS
#: photos of one camera with time neighbours of the same camera, photos without GPS
PHOTOS = {
    "trip/DSCN0010.jpg": "gps/DSCN0010.jpg",  # camera GPS
    "trip/DSCN0012.jpg": "gps/DSCN0012.jpg",  # camera GPS
    "trip/Canon_40D.jpg": "Canon_40D.jpg",
    "trip/Nikon_D70.jpg": "Nikon_D70.jpg",
    "trip/broken.jpg": "",  # not a JPEG: an error row
    "home/Pentax_K10D.jpg": "Pentax_K10D.jpg",
    "home/Sony_HDR-HC3.jpg": "Sony_HDR-HC3.jpg",
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """``host:port`` of an S3 server; the credentials in the environment before Ray
    starts, so its workers read the store as a node with AWS variables does."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield f"{host}:{port}"
        finally:
            ray.shutdown()
            server.stop()


def _query(endpoint: str) -> str:
    return f"?endpoint_override={endpoint}&scheme=http&region=us-east-1"


@pytest.fixture
def bucket(endpoint: str, fixtures_dir: Path, request: pytest.FixtureRequest) -> str:
    """A new bucket holding PHOTOS under ``archive/`` (and a note and a hidden photo,
    which are not photos to scan); its URI, with the endpoint's query."""
    name = request.node.name.replace("_", "-")[:50].strip("-").lower()
    s3 = _s3(endpoint)
    s3.create_dir(name)
    for key in PHOTOS:
        _put(s3, f"{name}/archive/{key}", _content(fixtures_dir, key))
    _put(s3, f"{name}/archive/trip/notes.txt", b"not a photo")
    _put(s3, f"{name}/archive/trip/.hidden.jpg", b"skipped as folder walking skips it")
    return f"s3://{name}/archive{_query(endpoint)}"


@pytest.fixture
def local_copy(fixtures_dir: Path, tmp_path: Path) -> Path:
    """The same photos on the local disk, in the same folders."""
    root = tmp_path / "local"
    for key in PHOTOS:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(_content(fixtures_dir, key))
    return root


def _content(fixtures_dir: Path, key: str) -> bytes:
    src = PHOTOS[key]
    return (fixtures_dir / "jpg" / src).read_bytes() if src else b"\xff\xd8\xff\xe0 truncated"


def _s3(endpoint: str) -> fs.S3FileSystem:
    return fs.S3FileSystem(
        endpoint_override=endpoint, scheme="http", region="us-east-1", allow_bucket_creation=True
    )


def _put(s3: fs.S3FileSystem, path: str, data: bytes) -> None:
    with s3.open_output_stream(path) as f:
        f.write(data)


def _objects(endpoint: str, bucket_uri: str) -> dict[str, tuple[int | None, bytes]]:
    """Every object of the bucket: its time and bytes."""
    s3 = _s3(endpoint)
    name = bucket_uri.removeprefix("s3://").partition("/")[0]
    infos = s3.get_file_info(fs.FileSelector(name, recursive=True))
    out = {}
    for i in infos:
        if i.type == fs.FileType.File:
            with s3.open_input_stream(i.path) as f:
                out[i.path] = (i.mtime_ns, f.read())
    return out


def _ray_scan(bundle: Path, store: ObjectStore, shards: Path, **kw) -> list[ScanResult]:
    predictor = Predictor.load(bundle)
    photos = store.list_photos()
    return list(
        scan_on_ray(
            photos,
            bundle,
            predictor.model_id,
            "cpu",
            OPTIONS,
            RayOptions(workers=2),
            shards,
            stores={store.root: store},
            **kw,
        )
    )


def _assert_same_as_local(
    remote: list[ScanResult], local: dict[str, ScanResult], store: ObjectStore, root: Path
) -> None:
    """``remote`` (keyed by URI) says of each object what the local scan said of its copy."""
    assert sorted(r.uri for r in remote) == sorted(f"{store.root}/{k}" for k in PHOTOS)
    for r in remote:
        key = r.uri.removeprefix(store.root + "/")
        want = local[key]
        assert r.where == r.uri and r.path == Path(r.uri)
        assert (r.status, r.prediction, r.reason) == (want.status, want.prediction, want.reason)
        assert r.error == want.error.replace(str(root), store.root)
        if want.metadata is None:
            assert r.metadata is None
            continue
        assert r.metadata is not None and r.metadata.fingerprint is not None
        fp, want_fp = r.metadata.fingerprint, want.metadata.fingerprint
        assert want_fp is not None
        assert (fp.size, fp.sha256) == (want_fp.size, want_fp.sha256)  # the object's bytes
        assert dataclasses.replace(r.metadata, path=want.metadata.path, fingerprint=want_fp) == (
            want.metadata
        )


def _local_scan(bundle: Path, root: Path) -> dict[str, ScanResult]:
    photos = sorted(str(root / k) for k in PHOTOS)
    results = Scanner(Predictor.load(bundle), OPTIONS).scan(photos)
    return {r.path.relative_to(root).as_posix(): r for r in results}


def test_ray_scan_of_a_bucket_equals_the_local_scan_and_resumes(
    zs_bundle: Path, bucket: str, local_copy: Path, tmp_path: Path
) -> None:
    store = ObjectStore.open(bucket)
    local = _local_scan(zs_bundle, local_copy)
    statuses = {k: r.status for k, r in local.items()}
    assert statuses["trip/DSCN0010.jpg"] is ScanStatus.EXIF
    assert statuses["trip/broken.jpg"] is ScanStatus.ERROR
    assert statuses["home/Pentax_K10D.jpg"] is ScanStatus.PREDICTED

    shards = tmp_path / "shards"
    stop = threading.Event()
    first = _ray_scan(zs_bundle, store, shards, progress=lambda d, t: stop.set(), cancel=stop)
    kept = {f.name: f.stat().st_mtime_ns for f in shard_files(shards)}
    assert len(kept) == 1 and len(first) < len(PHOTOS)  # killed after one folder of two

    seen: list[tuple[int, int]] = []
    second = _ray_scan(zs_bundle, store, shards, progress=lambda d, t: seen.append((d, t)))
    _assert_same_as_local(second, local, store, local_copy)  # each object exactly once
    assert seen[-1] == (len(PHOTOS), len(PHOTOS))
    assert {f.name: f.stat().st_mtime_ns for f in shard_files(shards) if f.name in kept} == kept
    assert len(shard_files(shards)) == 2
    _assert_same_as_local(list(read_results(shards)), local, store, local_copy)


def test_cli_scans_a_bucket_on_either_engine_and_write_refuses_its_rows(
    zs_bundle: Path,
    bucket: str,
    endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    before = _objects(endpoint, bucket)
    scan = ["scan", bucket, "--model", str(zs_bundle), "--no-cache", "--no-progress"]
    assert main([*scan, "--engine", "ray", "--out", "ray.json"]) == 1  # broken.jpg
    assert main([*scan, "--out", "one.json"]) == 1  # the single-process engine
    out = capsys.readouterr().out
    root = bucket.partition("?")[0]
    assert f"{root}/trip/broken.jpg: " in out  # the failure named by its URI
    assert endpoint not in out  # the connection's options name no photo

    def rows(path: str) -> dict[str, tuple]:
        return {r.where: (r.status, r.prediction, r.error) for r in read_results(Path(path))}

    on_ray = rows("ray.json")
    assert sorted(on_ray) == sorted(f"{root}/{k}" for k in PHOTOS)
    assert rows("one.json") == on_ray

    assert main(["write", "ray.json", "--min-confidence", "0"]) == 1
    text = capsys.readouterr().out
    words = [line.split() for line in text.splitlines()]
    refused = [w[1] for w in words if w[0] == "refused" and w[1].startswith("s3://")]
    placed = [w for w, (status, pred, _) in on_ray.items() if pred and status != "exif"]
    assert sorted(refused) == sorted(placed) and placed
    assert f"refused {len(placed)} photos: photos in an object store are never written" in text
    assert "aws s3 sync" in text
    assert "journal:" not in text
    assert _objects(endpoint, bucket) == before  # nothing in the store changed
    assert not [n for n in os.listdir(tmp_path) if n.startswith("s3")]  # nor anything here


def test_scan_write_of_a_bucket_is_refused_in_one_line(
    zs_bundle: Path, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", bucket, "--model", str(zs_bundle), "--write", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("geoscope scan: error: s3://") and "never written" in err
    assert "\n" not in err


def test_an_object_too_large_or_gone_is_a_row_with_an_error(
    zs_bundle: Path, bucket: str, endpoint: str
) -> None:
    store = ObjectStore.open(bucket)
    trip = [u for u in store.list_photos() if "/trip/" in u]
    assert {u.rpartition("/")[2] for u in trip} == {
        k.removeprefix("trip/") for k in PHOTOS if k.startswith("trip/")
    }  # no note, no hidden photo
    gone = f"{store.root}/trip/Canon_40D.jpg"
    _s3(endpoint).delete_file(store.fs_path(gone))
    results = {
        r.uri: r for r in scan_objects(Scanner(Predictor.load(zs_bundle)), store, trip, 100_000)
    }
    assert sorted(results) == sorted(trip)
    assert results[gone].error == "the object is no longer in the store"
    big = results[f"{store.root}/trip/DSCN0010.jpg"]  # 161,713 bytes
    assert big.status is ScanStatus.ERROR and "161,713 bytes, more than the 100,000" in big.error
    small = results[f"{store.root}/trip/Nikon_D70.jpg"]
    assert small.status is ScanStatus.PREDICTED and small.prediction is not None


def test_store_uri_names_photos_without_its_credentials_or_options(endpoint: str) -> None:
    store = ObjectStore.open(f"s3://KEY:SECRET@my-bucket/a%20b/{_query(endpoint)}")
    assert store.root == "s3://my-bucket/a b"
    assert store.uri_of("my-bucket/a b/x/y.jpg") == "s3://my-bucket/a b/x/y.jpg"
    assert store.fs_path("s3://my-bucket/a b/x/y.jpg") == "my-bucket/a b/x/y.jpg"


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("s3://bucket/archive?no_such_option=1", "Unexpected query parameter"),
        ("hdfs://localhost:1/archive", "Java runtime and libhdfs"),
    ],
)
def test_a_store_pyarrow_cannot_open_is_refused_in_one_line(
    uri: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=says):
        ObjectStore.open(uri)
    assert main(["scan", uri, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"geoscope scan: error: {uri}: pyarrow cannot open this store: ")
    assert "\n" not in err


def test_one_object_is_scanned_alone_and_a_missing_prefix_is_refused(
    zs_bundle: Path, bucket: str, endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _, query = bucket.partition("?")
    one = f"{root}/home/Pentax_K10D.jpg"
    out = tmp_path / "one.json"
    args = ["--model", str(zs_bundle), "--no-progress"]
    assert main(["scan", f"{one}?{query}", *args, "--out", str(out)]) == 0
    [r] = read_results(out)
    assert (r.uri, r.status) == (one, ScanStatus.PREDICTED)

    capsys.readouterr()
    assert main(["scan", f"{root}/no/such/prefix?{query}", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"geoscope scan: error: {root}/no/such/prefix does not exist"


class _Watched(Scanner):
    """A scanner that notes when each folder's scan starts and ends in ``events``, and
    holds the first folder's scan until ``release`` is set (or 30 s have passed)."""

    def __init__(self, bundle: Path, events: list[str], release: threading.Event) -> None:
        super().__init__(Predictor.load(bundle), OPTIONS)
        self.events = events
        self.release = release

    def scan(self, paths: Sequence[Path | str], *args, **kwargs) -> Iterator[ScanResult]:
        folder = "home" if any("Pentax" in os.fspath(p) for p in paths) else "trip"
        self.events.append(f"scan {folder}")
        if folder == "home":
            self.events.append(f"released {self.release.wait(30)}")
        yield from super().scan(paths, *args, **kwargs)
        self.events.append(f"scanned {folder}")


@pytest.fixture
def watched_fetches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[list[str], threading.Event, Path]:
    """Each object fetch noted ("fetch home" / "fetch trip") in the list returned, an
    event set once an object of trip is fetched, and the temporary folder the copies go
    to (empty before and after a scan)."""
    events: list[str] = []
    trip_fetched = threading.Event()
    fetch = store_module._fetch

    def noted(store: ObjectStore, fs_path: str, *args) -> None:
        fetch(store, fs_path, *args)
        folder = fs_path.rsplit("/", 2)[1]
        events.append(f"fetch {folder}")
        if folder == "trip":
            trip_fetched.set()

    monkeypatch.setattr(store_module, "_fetch", noted)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return events, trip_fetched, tmp


def _room_for(monkeypatch: pytest.MonkeyPatch, tmp: Path, budget: int) -> None:
    """The temporary folder's disk holds ``budget`` bytes (the copies in ``tmp`` use it)."""

    def disk_usage(path: object) -> shutil._ntuple_diskusage:  # type: ignore[name-defined]
        used = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
        return shutil._ntuple_diskusage(budget, used, budget - used)  # type: ignore[attr-defined]

    monkeypatch.setattr(store_module, "FREE_MARGIN_BYTES", 0)
    monkeypatch.setattr(shutil, "disk_usage", disk_usage)


def _folder_bytes(fixtures_dir: Path, folder: str) -> int:
    return sum(len(_content(fixtures_dir, k)) for k in PHOTOS if k.startswith(folder + "/"))


def test_one_process_fetches_the_next_folder_while_this_one_scans(
    zs_bundle: Path,
    bucket: str,
    local_copy: Path,
    watched_fetches: tuple[list[str], threading.Event, Path],
) -> None:
    events, trip_fetched, tmp = watched_fetches
    store = ObjectStore.open(bucket)
    scanner = _Watched(zs_bundle, events, release=trip_fetched)
    results = list(scan_any(scanner, store.list_photos(), {store.root: store}))
    # home's scan, held until an object of trip was fetched, was released: trip's objects
    # were fetched while home scanned
    assert "released True" in events
    assert events.index("scan home") < events.index("fetch trip") < events.index("scanned home")
    assert events.count("fetch trip") == sum(k.startswith("trip/") for k in PHOTOS)
    _assert_same_as_local(results, _local_scan(zs_bundle, local_copy), store, local_copy)
    assert not list(tmp.iterdir())  # both folders' copies removed


def _released() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


def test_a_next_folder_without_room_beside_this_one_is_fetched_after_it(
    zs_bundle: Path,
    bucket: str,
    local_copy: Path,
    fixtures_dir: Path,
    watched_fetches: tuple[list[str], threading.Event, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, _, tmp = watched_fetches
    # trip fits alone, not beside home's copies
    _room_for(monkeypatch, tmp, _folder_bytes(fixtures_dir, "trip") + 1000)
    store = ObjectStore.open(bucket)
    scanner = _Watched(zs_bundle, events, release=_released())
    results = list(scan_any(scanner, store.list_photos(), {store.root: store}))
    assert events.index("scanned home") < events.index("fetch trip")
    _assert_same_as_local(results, _local_scan(zs_bundle, local_copy), store, local_copy)
    assert not list(tmp.iterdir())


def test_a_folder_without_room_alone_fails_whole_after_the_folders_before_it(
    zs_bundle: Path,
    bucket: str,
    fixtures_dir: Path,
    watched_fetches: tuple[list[str], threading.Event, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, _, tmp = watched_fetches
    _room_for(monkeypatch, tmp, _folder_bytes(fixtures_dir, "home") + 1000)  # trip: never
    store = ObjectStore.open(bucket)
    scanner = _Watched(zs_bundle, events, release=_released())
    rows: list[ScanResult] = []
    with pytest.raises(DataError, match=r"trip is [\d,]+ bytes, more than .* set TMPDIR"):
        for r in scan_any(scanner, store.list_photos(), {store.root: store}):
            rows.append(r)
    home = [f"{store.root}/{k}" for k in PHOTOS if k.startswith("home/")]
    assert sorted(r.uri for r in rows) == sorted(home)
    assert "fetch trip" not in events
    assert not list(tmp.iterdir())
