"""Benchmark: the camera clock offset estimated on a camera + phone trip, truth vs estimate.

The trip is built from real photos (pixTrail's Rome walk, see tests/camera_phone_trip.py):
every other GPS photo, the phone's (cropped, their true times), is the ``--reference``; the camera's
copies of all 19 photos have no GPS and a clock ``shift`` ahead. Each is scanned by the
real scan path (``Scanner`` with ``references`` and ``--tz +02:00``, the default bundle),
with the offset estimated and with ``--no-estimate-offset``. Printed per shift: the right
correction (``-shift``; the phone shot 0-6 s after the camera), the estimate, whether it
was applied and how, and the median and largest distance of the camera's 16 photos of
known place from their truth, estimated vs not (``off``). ``phones=1`` keeps one phone
photo: one look-alike pair, which must apply no offset.

Run:  nice -n 10 python bench/bench_offsets.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from geoscope_core.evidence.offsets import format_offset
from geoscope_core.evidence.personal import EvidenceOptions
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.pipeline import Scanner
from geoscope_core.scan.types import ScanOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.camera_phone_trip import CAMERA_MODEL, build_trip

SHIFTS = (0, 23 * 60 + 17, -(65 * 60), 2 * 3600 + 30 * 60)
ONE_PAIR = (23 * 60 + 17, -(65 * 60))


def _run(predictor: Predictor, root: Path, shift: int, phones: int | None) -> None:
    trip = build_trip(root, shift, phones)
    photos = sorted(trip.camera.glob("*.jpg"))
    row = []
    for estimate in (True, False):
        ev = EvidenceOptions(tz="+02:00", estimate_offsets=estimate)
        scanner = Scanner(
            predictor, ScanOptions(use_cache=False, references=(trip.phone,), evidence=ev)
        )
        results = list(scanner.scan(photos))
        assert scanner.evidence is not None
        (cam,) = [c for c in scanner.evidence.cameras.values() if CAMERA_MODEL in c.camera]
        errs = [
            float(haversine_km(r.prediction.lat, r.prediction.lon, *trip.truth[r.path])) * 1e3
            for r in results
            if r.prediction is not None and r.path in trip.truth
        ]
        if estimate:
            est = cam.estimate
            row += [
                format_offset(est.seconds) if est else "-",
                f"{est.seconds + shift:+.0f}" if est else "-",
                cam.origin,
                est.method if est else "-",
                str(len(est.support)) if est else "-",
            ]
        row.append(f"{statistics.median(errs):.0f}/{max(errs):.0f}")
    n = "all" if phones is None else str(phones)
    print(f"{format_offset(-shift):>10} {n:>6} " + " ".join(f"{c:>10}" for c in row), flush=True)


def main() -> None:
    predictor = Predictor.load(None, provider="cpu")
    head = ("estimate", "err s", "applied", "method", "support", "m med/max", "off: m")
    print(f"{'truth':>10} {'phones':>6} " + " ".join(f"{c:>10}" for c in head))
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(s, None) for s in SHIFTS] + [(s, 1) for s in ONE_PAIR]
        for k, (shift, phones) in enumerate(runs):
            _run(predictor, Path(tmp) / str(k), shift, phones)


if __name__ == "__main__":
    main()
