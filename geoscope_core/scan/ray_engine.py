"""Scan an archive on Ray Data: the same ``Scanner`` per folder, on a pool of actors.

The archive is split into the units a scan settles at once (its folders,
``pipeline.folders``). Ray Data streams the units to an actor pool; each actor loads
the ``Predictor`` once and runs the single-machine ``Scanner`` over one folder at a
time, so placement, evidence and the model's answers are those of ``geoscope scan``.
Workers read local photos by path: such an archive must be at the same path on every
node (shared storage). A folder of an object store (``s3://``; ``scan.store``) is fetched
by its worker into a private temporary folder and scanned there by the same ``Scanner``,
its results keyed by the objects' URIs. Workers never write to a photo: writing stays a
local, journaled step on the results (``geoscope write``).

The driver writes each finished folder's results as one Parquet shard,
``part-<id>.parquet`` (``id`` from the folder's photo paths), renamed into place when
whole: the shard folder is the job's journal. Started again with the same shard folder,
a killed job skips the folders whose shards exist and scans the rest, so no photo is
scanned twice and none is lost. Needs the extra ``cluster`` (ray[data], pyarrow).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.fsio import path_text
from geoscope_core.scan.output import (
    read_shard,
    shard_files,
    shard_result,
    shard_row,
    shard_schema,
    write_shard,
)
from geoscope_core.scan.pipeline import folders, load_evidence
from geoscope_core.scan.store import ObjectStore, scan_objects, store_of
from geoscope_core.scan.types import ScanOptions, ScanResult, ScanStatus

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

UNIT = "unit"  # the column naming the folder (unit of work) a row belongs to
UNIT_ERROR = "unit_error"  # why the whole folder failed in its worker (null: it did not)
STORE = "store"  # the root of the store a folder is in ("" for a local folder)


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a Ray scan runs: ``address`` of a running cluster (None: start
    a local instance, or use the one this process already started); ``workers`` scan
    actors, each with ``cpus_per_worker`` CPUs (its decode threads and ONNX Runtime
    threads) and ``gpus_per_worker`` GPUs (0, a fraction or whole GPUs); the shards keep
    camera body serial numbers only if ``include_serials``."""

    address: str | None = None
    workers: int = 2
    cpus_per_worker: int = 1
    gpus_per_worker: float = 0.0
    include_serials: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= 10_000:
            raise ConfigError(f"workers must be in 1..10000, got {self.workers}")
        if not 1 <= self.cpus_per_worker <= 256:
            raise ConfigError(f"cpus_per_worker must be in 1..256, got {self.cpus_per_worker}")
        if not 0 <= self.gpus_per_worker <= 64:
            raise ConfigError(f"gpus_per_worker must be in 0..64, got {self.gpus_per_worker}")


def unit_id(paths: Sequence[Path | str]) -> str:
    """Name of a unit's shard: a hash of its photo paths (a folder whose photos changed
    is a new unit)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(path_text(p).encode("utf-8") + b"\0")
    return h.hexdigest()[:20]


def _shard_name(unit: str) -> str:
    return f"part-{unit}.parquet"


class ScanWorker:
    """A Ray actor: one Predictor, one Scanner; turns units into result rows."""

    def __init__(
        self,
        model: str,
        provider: str,
        model_id: str,
        options: ScanOptions,
        threads: int,
        include_serials: bool = False,
        stores: Mapping[str, ObjectStore] | None = None,
    ) -> None:
        from geoscope_core.runtime.predictor import Predictor
        from geoscope_core.scan.pipeline import Scanner

        predictor = Predictor.load(model, provider=provider, threads=threads)
        if predictor.model_id != model_id:  # another bundle at that path on this node
            raise DataError(
                f"worker loaded {predictor.model_id} from {model}, not {model_id}: every "
                "node must see the same bundle"
            )
        self.scanner = Scanner(predictor, options)
        self.include_serials = include_serials
        self.stores = dict(stores or {})
        import pyarrow as pa

        # a shard's columns, the unit a row belongs to and why it failed: built once
        self.schema = shard_schema().append(pa.field(UNIT, pa.string()))
        self.schema = self.schema.append(pa.field(UNIT_ERROR, pa.string()))

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow as pa

        rows: list[dict[str, Any]] = []
        for unit, paths, store in zip(
            batch.column(UNIT).to_pylist(),
            batch.column("paths").to_pylist(),
            batch.column(STORE).to_pylist(),
            strict=True,
        ):
            results, failed = self._scan(paths, self.stores.get(store))
            rows.extend(
                {**shard_row(r, self.include_serials), UNIT: unit, UNIT_ERROR: failed}
                for r in results
            )
        return pa.Table.from_pylist(rows, schema=self.schema)

    def _scan(
        self, paths: list[str], store: ObjectStore | None
    ) -> tuple[list[ScanResult], str | None]:
        """The unit's results (``paths`` local, or objects of ``store``), and why the whole
        unit failed (None: it did not)."""
        try:
            if store is not None:
                return list(scan_objects(self.scanner, store, paths)), None
            return list(self.scanner.scan([Path(p) for p in paths])), None
        except Exception as e:  # the unit's edge: its photos become error rows, job goes on
            error = f"{type(e).__name__}: {e}"
            log.warning("scanning %s failed: %s", os.path.dirname(paths[0]), error)
            uri = store is not None
            return [
                ScanResult(Path(p), ScanStatus.ERROR, None, None, error, uri=p if uri else "")
                for p in paths
            ], error


def _done_units(shards: Path, units: dict[str, list[Path | str]]) -> set[str]:
    """Units whose shards exist; a shard of photos not in this scan is refused (it would
    mix two scans' results in one folder)."""
    done = set()
    for f in shard_files(shards):
        unit = f.stem.removeprefix("part-")
        if unit not in units:
            raise DataError(
                f"{shards} holds results of other photos ({f.name}): resume with the same "
                "photos, or give a new output folder"
            )
        done.add(unit)
    return done


def _init_ray(address: str | None) -> bool:
    """Connect to ``address`` (or start a local instance); True when this call started
    it (and so should shut it down)."""
    try:
        import ray
    except ImportError as e:
        raise ConfigError("--engine ray needs the extra: pip install 'geoscope[cluster]'") from e
    if ray.is_initialized():
        return False
    ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return True


def scan_on_ray(
    photos: Sequence[Path | str],
    model: str | Path,
    model_id: str,
    provider: str,
    options: ScanOptions,
    engine: RayOptions,
    shards: Path,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    stores: Mapping[str, ObjectStore] | None = None,
) -> Iterator[ScanResult]:
    """Yield one ScanResult per photo of ``photos`` (local paths, and URIs of objects in
    ``stores``: ``scan.store.open_stores``), scanned on Ray (``engine``) with the
    bundle at ``model`` (whose id must be ``model_id`` on every node), and kept in
    ``shards``: the results of folders a previous run finished come first, read back,
    then the others as their folders finish. A folder that failed as a whole in its
    worker (not one file: its scan raised) gets no shard, so the next run scans it again;
    its photos are error rows naming the cause. ``progress(done, total)`` counts photos
    (resumed ones included); ``cancel`` stops after the folders in flight. A worker that
    cannot start (the bundle unreadable on its node, another model there) raises a
    DataError naming the cause."""
    load_evidence(options)  # a bad track file fails here, before any worker starts
    units = {unit_id(ps): ps for ps in folders(photos)}
    shards = Path(shards)
    shards.mkdir(parents=True, exist_ok=True)
    done_units = _done_units(shards, units)
    total, done = len(photos), 0
    for unit in units:  # in folder order, as a run from the start gives them
        if unit in done_units:
            for r in read_shard(shards / _shard_name(unit)):
                done += 1
                yield r
    if progress is not None:
        progress(done, total)
    stores = dict(stores or {})
    pending = []
    for u, ps in units.items():
        if u not in done_units:
            store = store_of(ps[0], stores)
            paths = [path_text(p) for p in ps]
            pending.append({UNIT: u, "paths": paths, STORE: store.root if store else ""})
    if not pending:
        return
    log.info("ray scan: %d folders done, %d to scan", len(done_units), len(pending))
    started = _init_ray(engine.address)
    try:
        run = _run(pending, model, model_id, provider, options, engine, shards, cancel, stores)
        for r in run:
            done += 1
            yield r
            if progress is not None:
                progress(done, total)
    finally:
        if started:
            import ray

            ray.shutdown()


def _run(
    pending: list[dict[str, Any]],
    model: str | Path,
    model_id: str,
    provider: str,
    options: ScanOptions,
    engine: RayOptions,
    shards: Path,
    cancel: threading.Event | None,
    stores: dict[str, ObjectStore],
) -> Iterator[ScanResult]:
    """The results of the ``pending`` units, each unit's written as its shard first."""
    import ray

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # results in folder order, run after run
    ctx.enable_progress_bars = False  # the caller shows progress
    threads = engine.cpus_per_worker
    worker_options = replace(options, workers=threads)
    ds = ray.data.from_items(pending, override_num_blocks=len(pending)).map_batches(
        ScanWorker,
        fn_constructor_kwargs={
            "model": str(model),
            "provider": provider,
            "model_id": model_id,
            "options": worker_options,
            "threads": threads,
            "include_serials": engine.include_serials,
            "stores": stores,
        },
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=min(engine.workers, len(pending))),
        num_cpus=engine.cpus_per_worker,
        num_gpus=engine.gpus_per_worker or None,
    )
    expected = {p[UNIT]: len(p["paths"]) for p in pending}  # one row per photo
    partial: dict[str, list[dict[str, Any]]] = {}
    failed: dict[str, str] = {}  # unit -> why it failed as a whole
    for table in _blocks(ds):
        for row in table.to_pylist():
            unit = row.pop(UNIT)
            if (why := row.pop(UNIT_ERROR)) is not None:
                failed[unit] = why
            unit_rows = partial.setdefault(unit, [])
            unit_rows.append(row)
            if len(unit_rows) < expected[unit]:
                continue
            del partial[unit]
            if unit in failed:  # no shard: the next run scans this folder again
                log.warning(
                    "folder %s failed in its worker (%s); no results kept for it, the "
                    "next run with the same output scans it again",
                    os.path.dirname(unit_rows[0]["path"]),
                    failed[unit],
                )
            else:
                try:
                    write_shard(unit_rows, shards / _shard_name(unit))
                except OSError as e:
                    raise DataError(f"cannot write results to {shards}: {e}") from e
            yield from (shard_result(r) for r in unit_rows)
        if cancel is not None and cancel.is_set():
            return


#: the last line of a Python traceback: ``module.ExceptionName: message``
_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$")


def _blocks(ds: Any) -> Iterator[pa.Table]:
    """The blocks of ``ds`` as pyarrow Tables; Ray's errors become DataErrors that name
    their cause (the exception a worker raised, without Ray's traceback)."""
    import ray

    # Ray Data logs a failure's whole stack trace itself: quiet unless asked (-v)
    ray_data_log = logging.getLogger("ray.data")
    level = ray_data_log.level
    if not log.isEnabledFor(logging.INFO):
        ray_data_log.setLevel(logging.CRITICAL)
    try:
        yield from ds.iter_batches(batch_size=None, batch_format="pyarrow")
    except ray.exceptions.RayError as e:
        cause = _cause(e)
        if getattr(e, "actor_init_failed", False):
            raise DataError(f"a scan worker could not start: {cause}") from e
        raise DataError(f"the Ray scan failed: {cause}") from e
    finally:
        ray_data_log.setLevel(level)


def _cause(e: BaseException) -> str:
    """What raised ``e`` on a worker, in one line: the last ``Name: message`` line of the
    remote traceback Ray puts in its message, else the message's first line."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    for line in reversed(lines):
        if m := _EXCEPTION_LINE.match(line):
            return f"{m.group(1)}: {m.group(2)}"
    return lines[0] if lines else type(e).__name__
