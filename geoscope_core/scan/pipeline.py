"""Geolocate many photos: cached, decode pool overlapped with batched inference.

Pipeline of ``Scanner.scan``, one folder at a time (a folder's photos are settled
together; only one folder's photos are held, so memory does not grow with the archive):

1. stat every photo and look it up in the scan cache (``photos/cache.py``);
2. read the metadata of the photos the cache does not know (thread pool);
3. photos with a camera GPS fix are reported as ``exif`` (not predicted unless
   ``repredict_gps``); when neighbours are on they are run through the model
   first, to build the visual gallery from their embeddings;
4. the other photos: by UTC time on the user's track logs (``track``), then on the
   fixes of every GPS-tagged photo of any device, in the scan or in ``references``
   (``neighbors``; see ``evidence/personal.py``); the rest through the model, blended
   with the visual gallery;
5. every photo's evidence weighed together by the placement model
   (``geoscope_core/placement``): each camera's photos in time order, a guess among
   trip-mates pulled to them, a photo near a GPS photo of its camera (within
   ``time_window_s``) held by it. Each result says why.

Decoding runs in a thread pool (Pillow releases the GIL) while the main thread
runs ONNX Runtime on the previous batch; at most ``window`` decoded images are
in memory at any time, whatever the number of photos. NumPy's BLAS runs on one
thread while a scan runs: its matrices are small (a batch's embeddings), and BLAS
threads of their own only wake up to contend with the decoders and ONNX Runtime for
the cores, spinning as they wait.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from geoscope_core.errors import GeoScopeError
from geoscope_core.evidence.personal import EvidenceOptions, PersonalEvidence, TimePlacement
from geoscope_core.evidence.placement import PlacementLimits
from geoscope_core.geo.gazetteer import warm_up
from geoscope_core.photos.cache import CacheEntry, FileKey, ScanCache
from geoscope_core.photos.metadata import read_metadata
from geoscope_core.photos.neighbors import VisualGallery
from geoscope_core.prediction import Source
from geoscope_core.runtime.images import preprocess
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.items import (
    Item,
    default_workers,
    name_exif,
    name_placements,
    place_trips,
    result_of,
)
from geoscope_core.scan.types import ScanOptions, ScanResult, ScanStats

log = logging.getLogger(__name__)


class Scanner:
    """Runs a Predictor over photo paths; used by ``geoscope scan``/``eval`` and the app.

    The constructor does no I/O; the cache is opened by ``scan``. ``stats`` holds
    the figures of the last scan.
    """

    def __init__(self, predictor: Predictor, options: ScanOptions | None = None) -> None:
        self.predictor = predictor
        self.options = options or ScanOptions()
        self.stats = ScanStats()
        #: the user's evidence of the last scan (tracks, reference photos, camera offsets)
        self.evidence: PersonalEvidence | None = None
        self._lock = threading.Lock()

    # -- public ------------------------------------------------------------------------
    def scan(
        self,
        paths: Sequence[Path | str],
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[ScanResult]:
        """Yield one ScanResult per path, folder by folder (within a folder, tagged photos
        first when neighbours are on); the user's evidence of ``self.evidence`` afterwards
        is the last folder's.

        ``progress(done, total)`` is called after each result; setting ``cancel``
        stops the scan after the current batch (results so far stay valid).
        """
        opts = self.options
        self.stats = stats = ScanStats()
        t0 = time.perf_counter()
        total = len(paths)
        done = 0
        cache = ScanCache.open(opts.cache_path) if opts.use_cache else None
        pool = ThreadPoolExecutor(opts.workers or default_workers(), "geoscope-decode")
        cancelled = cancel if cancel is not None else threading.Event()

        def tick() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        warm_up()  # place names' tables and KD-tree load while the first photos are read
        blas = threadpool_limits(limits=1, user_api="blas")
        try:
            tracks = load_evidence(opts)  # first: a bad track file fails before any work
            for folder in folders(paths):
                if cancelled.is_set():
                    return
                # each folder with evidence of its own (the tracks read once): what one
                # folder's photos settle (offsets, fixes, trips) never leans on another's
                evidence = PersonalEvidence(tracks.track, tracks.options)
                for it, counted in self._scan_folder(
                    folder, evidence, pool, cache, cancelled, tick
                ):
                    result = result_of(it, opts.repredict_gps)
                    stats.counts[result.status] += 1
                    if not counted:  # photos run through the model counted as they were
                        tick()
                    yield result
        finally:
            blas.restore_original_limits()
            pool.shutdown(wait=True, cancel_futures=True)
            if cache is not None:
                cache.close()
            stats.wall_s = time.perf_counter() - t0

    def _scan_folder(
        self,
        paths: list[Path | str],
        evidence: PersonalEvidence,
        pool: ThreadPoolExecutor,
        cache: ScanCache | None,
        cancelled: threading.Event,
        tick: Callable[[], None],
    ) -> Iterator[tuple[Item, bool]]:
        """Yield every item of one folder's ``paths``, finished (tagged photos first when
        neighbours are on), with whether ``tick`` already counted it (the photos run
        through the model are counted as they are, before the folder is placed as one
        trip); only this folder's items are held. A folder is a trip: its photos'
        evidence is weighed together by the placement model."""
        opts = self.options
        items = [Item(Path(p)) for p in paths]
        self._stat_and_cache(items, cache)
        self._read_metadata([it for it in items if it.key and it.meta is None], pool)
        live = [it for it in items if not it.error]
        yield from ((it, False) for it in items if it.error)
        tagged = [it for it in live if it.tagged]
        untagged = [it for it in live if not it.tagged]

        # 1. photos with camera GPS: reported as exif (and embedded for the gallery).
        name_exif(tagged, self.options.repredict_gps)
        need_embed = opts.neighbors or opts.repredict_gps
        gallery_items: list[Item] = []
        for it in self._infer(tagged, pool, cache, cancelled, need=need_embed):
            if it.emb is not None and not it.error:
                gallery_items.append(it)
            yield it, False
        if cancelled.is_set():
            return

        # 2. the others' own evidence: the track logs, the GPS-tagged photos of every
        #    device (by UTC time), else the model blended with the gallery.
        gallery = self._gallery(gallery_items) if opts.neighbors else None
        used = self._evidence(
            evidence,
            live,
            gallery_items,
            pool,
            cache,
            lambda its: self._embed(its, pool, cache, cancelled),
        )
        placed = used.place([it.meta for it in untagged if it.meta]) if used else []
        by_evidence = iter(placed)
        to_model: list[Item] = []
        by_time: list[Item] = []
        named: list[tuple[Item, TimePlacement]] = []
        for it in untagged:
            tp = next(by_evidence) if used is not None and it.meta else None
            if tp is not None:
                named.append((it, tp))
                by_time.append(it)
            else:
                to_model.append(it)
        name_placements(named)
        if cache is not None:
            self._store(by_time, cache)  # their metadata, so a re-scan skips reading it
        for it in self._infer(to_model, pool, cache, cancelled, need=True):
            if gallery is not None and it.emb is not None and it.pred is not None:
                it.pred = gallery.blend(it.emb, it.pred)
            tick()

        # 3. every photo's evidence weighed together: a folder is a trip
        anchors = tagged if opts.neighbors else []
        place_trips([*anchors, *untagged], self.options)
        modelled = set(map(id, to_model))
        for it in untagged:
            if it.pred is not None or not cancelled.is_set():
                yield it, id(it) in modelled

    # -- stages ------------------------------------------------------------------------
    def _stat_and_cache(
        self, items: list[Item], cache: ScanCache | None, count: bool = True
    ) -> None:
        for it in items:
            try:
                it.key = FileKey.of(it.path)
            except OSError as e:
                it.error = f"cannot read file: {e.strerror or e}"
        if cache is None:
            return
        keyed = [(it, it.key) for it in items if it.key is not None]
        found = cache.get_many([key for _, key in keyed], self.predictor.model_id)
        for it, key in keyed:
            entry = found.get(key.path)
            if entry is not None:
                it.meta, it.pred, it.emb = entry.metadata, entry.prediction, entry.embedding
                self.stats.cached += count

    def _read_metadata(self, items: list[Item], pool: ThreadPoolExecutor) -> None:
        def one(it: Item) -> None:
            t = time.perf_counter()
            try:
                it.meta = read_metadata(it.path)
            except GeoScopeError as e:
                it.meta_error = str(e)
                log.debug("no metadata for %s: %s", it.path, e)
            except Exception as e:  # per-file edge: a broken file must not stop the batch
                it.meta_error = f"{type(e).__name__}: {e}"
                log.warning("metadata reader failed on %s: %s", it.path, it.meta_error)
            it.dirty = True
            with self._lock:
                self.stats.metadata_s += time.perf_counter() - t

        for _ in pool.map(one, items):
            pass

    def _decode(self, path: Path) -> np.ndarray:
        t, c = time.perf_counter(), time.thread_time()
        try:
            return preprocess(path, self.predictor.preprocess)
        finally:
            with self._lock:
                self.stats.decode_s += time.perf_counter() - t
                self.stats.decode_cpu_s += time.thread_time() - c

    def _infer(
        self,
        items: list[Item],
        pool: ThreadPoolExecutor,
        cache: ScanCache | None,
        cancel: threading.Event,
        need: bool,
    ) -> Iterator[Item]:
        """Yield ``items`` in order, each with a prediction and embedding when ``need``
        (decoded and run in batches unless cached) and the photo is not reported as exif."""
        opts = self.options
        bs = opts.batch_size
        window = max(2 * bs, 4 * (opts.workers or default_workers()))
        queue: deque[tuple[Item, Future | None]] = deque()
        source = iter(items)

        def wants_model(it: Item) -> bool:
            if not need:
                return False
            if it.tagged and not (opts.neighbors or opts.repredict_gps):
                return False
            return it.pred is None or it.emb is None

        def refill() -> None:
            while len(queue) < window and not cancel.is_set():
                it = next(source, None)
                if it is None:
                    return
                fut = pool.submit(self._decode, it.path) if wants_model(it) else None
                queue.append((it, fut))

        out: list[Item] = []
        batch: list[tuple[Item, np.ndarray]] = []
        refill()
        while queue:
            it, fut = queue.popleft()
            refill()
            if fut is not None:
                t = time.perf_counter()
                try:
                    pixels = fut.result()
                    batch.append((it, pixels))
                except GeoScopeError as e:
                    it.error = str(e)
                except Exception as e:  # per-file edge: report what failed, go on
                    it.error = f"{type(e).__name__}: {e}"
                    log.warning("decoding %s failed: %s", it.path, it.error)
                self.stats.wait_s += time.perf_counter() - t
            out.append(it)
            if len(batch) >= bs or not queue or (not batch and len(out) >= bs):
                self._run_batch(batch)
                batch = []
                if cache is not None:
                    self._store(out, cache)
                yield from out
                out = []
                if cancel.is_set():
                    return
        if out or batch:
            self._run_batch(batch)
            if cache is not None:
                self._store(out, cache)
            yield from out

    def _run_batch(self, batch: list[tuple[Item, np.ndarray]]) -> None:
        if not batch:
            return
        t = time.perf_counter()
        pixels = np.stack([px for _, px in batch])
        preds, embs = self.predictor.predict_with_embeddings(pixels)
        self.stats.infer_s += time.perf_counter() - t
        self.stats.decoded += len(batch)
        for (it, _), pred, emb in zip(batch, preds, embs, strict=True):
            it.pred, it.emb, it.dirty = pred, np.asarray(emb, np.float32), True

    def _store(self, items: list[Item], cache: ScanCache) -> None:
        rows = [
            (
                it.key,
                CacheEntry(
                    it.meta,
                    it.pred if it.pred is not None and it.pred.source is Source.MODEL else None,
                    it.emb,
                ),
            )
            for it in items
            if it.dirty and it.key is not None and not it.error
        ]
        cache.put_many(rows, self.predictor.model_id)
        for it in items:
            it.dirty = False

    # -- neighbours --------------------------------------------------------------------
    def _gallery(self, items: list[Item]) -> VisualGallery | None:
        if not items:
            return None
        emb = np.stack([it.embedding() for it in items]).astype(np.float32)
        lats = np.array([it.camera_gps()[0] for it in items], dtype=np.float64)
        lons = np.array([it.camera_gps()[1] for it in items], dtype=np.float64)
        return VisualGallery(emb, lats, lons)

    def _embed(
        self,
        items: list[Item],
        pool: ThreadPoolExecutor,
        cache: ScanCache | None,
        cancel: threading.Event,
    ) -> None:
        """Run the model on ``items`` now (their predictions and embeddings are kept, so
        the later stages do not run it again)."""
        for _ in self._infer(items, pool, cache, cancel, need=True):
            pass

    def _evidence(
        self,
        evidence: PersonalEvidence,
        live: list[Item],
        embedded: list[Item],
        pool: ThreadPoolExecutor,
        cache: ScanCache | None,
        embed: Callable[[list[Item]], None],
    ) -> PersonalEvidence | None:
        """The user's evidence for this scan: ``evidence`` (its track logs read), and every
        camera-GPS photo of the scan and of ``references`` as a fix; clock offsets settled
        (a camera whose offset must be estimated from look-alike photos has its photos, and
        the reference photos, run through the model first: ``embed``; its estimates of them
        weigh in where the look-alikes are not clear). None when there is
        no evidence (no track, and neighbours off or no tagged photo)."""
        opts = self.options
        refs: list[Item] = []
        if opts.references:
            from geoscope_core.photos.walk import iter_photos

            seen = {it.path for it in live}
            refs = [Item(p) for d in opts.references for p in iter_photos(d) if p not in seen]
            self._stat_and_cache(refs, cache, count=False)
            self._read_metadata([it for it in refs if it.key and it.meta is None], pool)
            if cache is not None:
                self._store([it for it in refs if it.meta is not None], cache)
        if opts.neighbors or opts.references:
            metas = [it.meta for it in (*live, *refs) if it.meta is not None and it.tagged]
            evidence.add_reference_photos(metas)
        if evidence.empty:
            self.evidence = None
            return None
        metas = [it.meta for it in live if it.meta is not None]
        need = evidence.cameras_to_estimate(metas)
        if need:
            todo = [it for it in live if it.meta and not it.tagged and it.meta.camera in need]
            todo += [it for it in (*live, *refs) if it.tagged]
            embed([it for it in todo if it.emb is None and not it.error])
        embeddings = {it.path: it.emb for it in (*embedded, *live, *refs) if it.emb is not None}
        # the model's estimates of every photo of the cameras estimated (all run above), and
        # of no other: an offset never depends on what else the cache holds
        judged = {
            it.path: p
            for it in live
            if it.meta and it.meta.camera in need and (p := it.pred) and p.source is Source.MODEL
        }
        evidence.resolve_offsets([it.meta for it in live if it.meta], embeddings, judged)
        self.evidence = evidence
        return evidence


def folders(paths: Sequence[Path | str]) -> list[list[Path | str]]:
    """``paths`` grouped by folder (in the order each folder first appears): the unit a
    scan settles at once, so its memory is bounded by the largest folder, not the archive.
    The paths are kept as given (text is a tenth of the memory of Path objects)."""
    groups: dict[str, list[Path | str]] = {}
    for p in paths:
        groups.setdefault(os.path.dirname(os.fspath(p)), []).append(p)
    return list(groups.values())


def load_evidence(opts: ScanOptions) -> PersonalEvidence:
    """The evidence of a scan with ``opts``: its track logs read (TrackError names a bad
    file), no photo added yet."""
    ev_opts = opts.evidence or EvidenceOptions()
    if ev_opts.photo_limits is None:
        # photos are sparser than a log: take a photo's position only within the
        # time-neighbour window of it (interpolating between two up to the gap limit)
        lim = ev_opts.limits
        ext = min(opts.time_window_s, lim.max_extrapolation_s)
        ev_opts = replace(ev_opts, photo_limits=PlacementLimits(lim.max_gap_s, ext))
    return PersonalEvidence.load(ev_opts)
