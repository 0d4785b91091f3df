"""The running scan: one ``ScanJob`` at a time, its progress and its end."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from geoscope_desktop.items import ProgressMeter
from geoscope_desktop.workers import ModelChoice, ScanJob, ScanWorker

if TYPE_CHECKING:
    from geoscope_core.evidence.personal import PersonalEvidence
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.types import ScanOptions

log = logging.getLogger(__name__)

#: photos per encoder run in the app's scans (the command line runs 16). ONNX Runtime's
#: arena grows to the largest run and keeps it: 16 photos (two views each) held ~250 MB,
#: half the app's RSS; 8 hold ~160 MB for ~12% more encoder CPU per photo (bench_desktop.py)
SCAN_BATCH = 8


class ScanController(QObject):
    """Starts, cancels and reports scans (all signals in the GUI thread).

    Signals: ``started()``; ``status(text)`` for the progress label;
    ``progress(done, total)``; ``model_ready(Predictor)``; ``result(ScanResult)``
    per photo; ``failed(message, details)``; ``finished(cancelled)`` always last.
    ``meter`` holds the rate and ETA of the running (or last) scan. ``options``: how the
    next scans run (default: ``ScanOptions`` with ``SCAN_BATCH`` photos per encoder run).
    """

    started = Signal()
    status = Signal(str)
    progress = Signal(int, int)
    model_ready = Signal(object)
    result = Signal(object)
    failed = Signal(str, str)
    finished = Signal(bool)

    def __init__(self, options: ScanOptions | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if options is None:
            from geoscope_core.scan.types import ScanOptions

            options = ScanOptions(batch_size=SCAN_BATCH)
        self.options: ScanOptions = options
        self.meter = ProgressMeter()
        self._job: ScanJob | None = None
        #: the user's evidence the last finished scan placed photos by (None: none)
        self.evidence: PersonalEvidence | None = None

    def is_scanning(self) -> bool:
        return self._job is not None

    def start(
        self, paths: Sequence[Path], choice: ModelChoice, predictor: Predictor | None
    ) -> bool:
        """Scan ``paths`` with ``predictor`` (loaded from ``choice`` when None) in a thread.

        Returns False when a scan is already running or there is nothing to scan.
        """
        if self._job is not None or not paths:
            return False
        worker = ScanWorker(list(paths), choice, self.options, predictor)
        worker.model_ready.connect(self._on_model_ready)
        worker.progress.connect(self._on_progress)
        worker.result.connect(self.result)
        worker.failed.connect(self.failed)
        job = ScanJob(worker, self)
        job.done.connect(self._on_done)
        self._job = job
        self.meter.reset(len(paths))
        self.started.emit()
        self.status.emit("Loading the model…" if predictor is None else "Reading the photos…")
        job.start()
        return True

    def add_tracks(self, paths: Sequence[Path]) -> list[np.ndarray]:
        """Place the next scans' photos by these track logs too; returns every loaded
        track's lines to draw ([K, 2] lat, lon degrees). Raises GeoScopeError for a file
        that cannot be read (the tracks in use stay as they were)."""
        from geoscope_core.evidence.personal import EvidenceOptions
        from geoscope_core.evidence.tracks import load_tracks

        options = self.options
        evidence = options.evidence or EvidenceOptions()
        files = tuple(dict.fromkeys([*evidence.track_files, *map(Path, paths)]))
        lines = load_tracks(list(files)).polylines() if files else []
        self.options = replace(options, evidence=replace(evidence, track_files=files))
        return lines

    def forget_evidence(self) -> None:
        """The next scans use none of the track logs, clock offsets and time zone given so
        far (another folder is opened: it has its own)."""
        if self.options.evidence is not None:
            evidence = replace(self.options.evidence, track_files=(), time_offsets=(), tz=None)
            self.options = replace(self.options, evidence=evidence)

    def set_time_offset(self, camera: str, seconds: float) -> None:
        """The next scans correct ``camera``'s clock by ``seconds`` (as --time-offset)."""
        from geoscope_core.evidence.personal import EvidenceOptions
        from geoscope_core.evidence.phototime import ClockOffset

        options = self.options
        evidence = options.evidence or EvidenceOptions()
        kept = [o for o in evidence.time_offsets if o.camera != camera]
        offsets = (*kept, ClockOffset(seconds, camera))
        self.options = replace(options, evidence=replace(evidence, time_offsets=offsets))

    def set_zone(self, zone: str | None) -> None:
        """The next scans read the clocks of cameras that wrote no OffsetTimeOriginal in
        ``zone`` (an IANA name or +-HH:MM, as --tz; None: from where the photos were).
        Raises ConfigError for a zone that is none."""
        from geoscope_core.evidence.personal import EvidenceOptions

        options = self.options
        evidence = options.evidence or EvidenceOptions()
        self.options = replace(options, evidence=replace(evidence, tz=zone or None))

    def set_time_window(self, seconds: float) -> None:
        """The next scans place photos by same-camera time neighbours within ``seconds``
        (as --time-window)."""
        self.options = replace(self.options, time_window_s=float(seconds))

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.status.emit("Cancelling…")

    def wait(self) -> None:
        """Stop and join a running scan (the window is closing)."""
        if self._job is not None:
            self._job.wait()
            self._job = None

    def cancelled_text(self) -> str:
        return f"Scan cancelled after {self.meter.done:,} of {self.meter.total:,} photos"

    @Slot(object)
    def _on_model_ready(self, predictor: Predictor) -> None:
        self.model_ready.emit(predictor)
        if self.meter.done == 0:
            self.status.emit("Reading the photos…")

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.meter.update(done, total)
        self.status.emit(self.meter.text())
        self.progress.emit(done, total)

    @Slot(bool)
    def _on_done(self, cancelled: bool) -> None:
        job, self._job = self._job, None
        if job is not None:
            self.evidence = job.worker.evidence
            job.deleteLater()
        self.finished.emit(cancelled)
