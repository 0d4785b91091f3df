"""Fuzzing the metadata read path (and the writer) with mutated real JPEG headers:
no exception other than MetadataError, no hang (every call runs under a timeout)."""

from __future__ import annotations

import concurrent.futures
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from photos_testutil import PREDICTION, samples_dir

from geoscope_core.errors import MetadataError
from geoscope_core.photos.metadata import PhotoMetadata, read_metadata
from geoscope_core.photos.plan import WriteOptions
from geoscope_core.photos.writer import write_locations

SEEDS = [
    "jpg/Canon_40D.jpg",
    "jpg/gps/DSCN0010.jpg",
    "jpg/Nikon_D70.jpg",
    "jpg/exif-org/fujifilm-dx10.jpg",
    "jpg/xmp/BlueSquare.jpg",
    "tiff/Arbitro.tiff",
]
HEADER_BYTES = 4096
TIMEOUT_S = 10.0

_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)


def seed_bytes() -> list[bytes]:
    return [(samples_dir() / s).read_bytes()[: HEADER_BYTES * 4] for s in SEEDS]


mutation = st.tuples(
    st.integers(min_value=0, max_value=len(SEEDS) - 1),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=HEADER_BYTES - 1), st.integers(0, 255)),
        min_size=1,
        max_size=24,
    ),
    st.one_of(st.none(), st.integers(min_value=0, max_value=HEADER_BYTES * 4)),
)


def mutate(seed: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    data = bytearray(seed)
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    return bytes(data[:cut] if cut is not None else data)


def run_with_timeout(fn, *args):  # type: ignore[no-untyped-def]
    future = _pool.submit(fn, *args)
    try:
        return future.result(timeout=TIMEOUT_S)
    except concurrent.futures.TimeoutError as e:
        raise AssertionError(f"{fn.__name__} hung for more than {TIMEOUT_S} s") from e


SEED_CACHE: list[bytes] = []


def seeds() -> list[bytes]:
    if not SEED_CACHE:
        SEED_CACHE.extend(seed_bytes())
    return SEED_CACHE


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(m=mutation)
def test_read_metadata_never_crashes_or_hangs(tmp_path: Path, m) -> None:  # type: ignore[no-untyped-def]
    index, edits, cut = m
    path = tmp_path / ("fuzz.tif" if SEEDS[index].endswith(".tiff") else "fuzz.jpg")
    path.write_bytes(mutate(seeds()[index], edits, cut))

    def read() -> object:
        try:
            return read_metadata(path)
        except MetadataError as e:
            return e

    result = run_with_timeout(read)
    assert isinstance(result, (PhotoMetadata, MetadataError))
    if isinstance(result, PhotoMetadata) and result.gps is not None:
        assert -90 <= result.gps[0] <= 90 and -180 <= result.gps[1] <= 180


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(m=mutation)
def test_writer_reports_instead_of_crashing(tmp_path: Path, m) -> None:  # type: ignore[no-untyped-def]
    index, edits, cut = m
    path = tmp_path / ("fuzz.tif" if SEEDS[index].endswith(".tiff") else "fuzz.jpg")
    data = mutate(seeds()[index], edits, cut)
    path.write_bytes(data)
    for sc in tmp_path.glob("*.xmp"):
        sc.unlink()
    report = run_with_timeout(
        write_locations,
        [(path, PREDICTION)],
        WriteOptions(overwrite_gps=True),
        tmp_path / "journals",
    )
    (r,) = report.results
    assert r.action in ("written", "sidecar", "failed", "skipped"), r
    if r.action != "written":
        assert r.reason
        # An unexpected exception is reported as "<Type>Error: ..." by the batch's catch-all.
        assert not re.match(r"^[A-Z]\w*(Error|Exception): ", r.reason), r.reason
        assert path.read_bytes() == data
    else:
        meta = read_metadata(path)
        assert meta.gps_is_estimate
