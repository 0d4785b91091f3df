"""The scan places a folder as a trip: a guess among trip-mates is pulled to them, the
result says why, and photos without a capture time keep their own estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geoscope_core.geo.distance import haversine_km
from geoscope_core.prediction import Candidate, Prediction, Source
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.pipeline import Scanner
from geoscope_core.scan.types import ScanOptions, ScanStatus
from tests.bundles import BLUE, GREEN, RED, write_jpeg

KYOTO = (35.011, 135.768)
PARIS = (48.857, 2.352)
SEOUL = (37.566, 126.978)


def _estimate(*places: tuple[float, float]) -> Prediction:
    cands = tuple(
        Candidate(lat, lon, w, radius_km=300.0)
        for (lat, lon), w in zip(places, (0.3, 0.15, 0.1), strict=False)
    )
    first = cands[0]
    return Prediction(first.lat, first.lon, first.confidence, 300.0, top_k=cands, model="m@1")


def test_a_guess_among_trip_mates_follows_them(
    zs_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = [
        write_jpeg(tmp_path / f"{i}.jpg", px, taken_at=f"2024:05:14 10:{10 * i:02d}:00")
        for i, px in enumerate((RED, GREEN, BLUE))
    ]
    undated = write_jpeg(tmp_path / "undated.jpg", BLUE)
    guesses = {
        day[0]: _estimate(KYOTO, SEOUL),
        day[1]: _estimate(KYOTO, PARIS),
        day[2]: _estimate(PARIS, KYOTO),  # the model's best guess is elsewhere
        undated: _estimate(PARIS, KYOTO),  # the same guess, but no capture time
    }

    def run_batch(self, batch):  # type: ignore[no-untyped-def]
        for it, _ in batch:
            it.pred, it.emb = guesses[it.path], np.ones(4, np.float32) / 2

    monkeypatch.setattr(Scanner, "_run_batch", run_batch)
    pr = Predictor.load(zs_bundle)
    by = {r.path: r for r in Scanner(pr, ScanOptions(use_cache=False)).scan([*day, undated])}
    moved = by[day[2]]
    assert moved.status is ScanStatus.PREDICTED and moved.prediction.source is Source.MODEL
    assert haversine_km(moved.prediction.lat, moved.prediction.lon, *KYOTO) < 1.0
    assert moved.prediction.country_code == "JP"
    assert moved.reason.startswith("3 photos of 14 May 2024 agree: ")
    assert (moved.prediction.top_k[1].lat, moved.prediction.top_k[1].lon) == PARIS  # its own
    assert moved.trip is not None and moved.trip.own == guesses[day[2]]
    for p in (*day[:2], undated):
        r = by[p]
        assert (r.prediction.lat, r.prediction.lon) == (guesses[p].lat, guesses[p].lon)
        assert r.reason == "model"
