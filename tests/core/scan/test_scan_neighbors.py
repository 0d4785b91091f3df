"""The scanner's wiring of PHOTOS' time neighbours and visual gallery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import geoscope_core.scan.pipeline as pipeline
from geoscope_core.prediction import Source
from geoscope_core.runtime.predictor import Predictor
from geoscope_core.scan.pipeline import Scanner
from geoscope_core.scan.types import ScanOptions, ScanStatus
from tests.bundles import BLUE, GREEN, RED, write_jpeg

SYDNEY = (-33.869, 151.209)
ZAGREB = (45.815, 15.982)


def test_time_neighbours_place_untagged_photos_of_any_camera(
    zs_bundle: Path, tmp_path: Path
) -> None:
    cam, other = ("Nikon", "D70"), ("Canon", "EOS")
    tagged = write_jpeg(tmp_path / "1.jpg", RED, gps=ZAGREB, taken_at="2024:05:01 10:00:00",
                        camera=cam)  # fmt: skip
    near = write_jpeg(tmp_path / "2.jpg", BLUE, taken_at="2024:05:01 10:01:00", camera=cam)
    far = write_jpeg(tmp_path / "3.jpg", BLUE, taken_at="2024:05:01 12:00:00", camera=cam)
    othercam = write_jpeg(tmp_path / "4.jpg", BLUE, taken_at="2024:05:01 10:01:00", camera=other)
    pr = Predictor.load(zs_bundle)
    by = {r.path: r for r in Scanner(pr, ScanOptions()).scan([tagged, near, far, othercam])}
    assert by[tagged].status is ScanStatus.EXIF
    assert by[near].status is ScanStatus.NEIGHBORS
    assert by[near].prediction.source is Source.NEIGHBORS
    assert (by[near].prediction.lat, by[near].prediction.lon) == pytest.approx(ZAGREB, abs=1e-3)
    assert by[far].status is ScanStatus.PREDICTED and by[far].prediction.city == "Tokyo"
    # another device's GPS photo a minute away places it too (its zone from that photo's GPS)
    assert by[othercam].status is ScanStatus.NEIGHBORS
    assert "your GPS photos" in by[othercam].reason and "Europe/Zagreb" in by[othercam].reason
    # window is honoured; neighbours can be switched off
    opts = ScanOptions(time_window_s=30.0)
    statuses = {r.path: r.status for r in Scanner(pr, opts).scan([tagged, near])}
    assert statuses[near] is ScanStatus.PREDICTED
    by = {r.path: r for r in Scanner(pr, ScanOptions(neighbors=False)).scan([tagged, near])}
    assert by[near].status is ScanStatus.PREDICTED


def test_gallery_is_built_from_tagged_embeddings_and_blends_the_rest(
    zs_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built, blended = [], []
    real = pipeline.VisualGallery

    class Spy(real):
        def __init__(self, embeddings, lats, lons, **kw):
            built.append((np.array(embeddings), np.array(lats), np.array(lons)))
            super().__init__(embeddings, lats, lons, **kw)

        def blend(self, embedding, prediction):
            out = super().blend(embedding, prediction)
            blended.append((np.array(embedding), prediction, out))
            return out

    monkeypatch.setattr(pipeline, "VisualGallery", Spy)
    g1 = write_jpeg(tmp_path / "g1.jpg", BLUE, gps=SYDNEY, camera=("A", "1"))
    g2 = write_jpeg(tmp_path / "g2.jpg", GREEN, gps=ZAGREB, camera=("A", "1"))
    q = write_jpeg(tmp_path / "q.jpg", BLUE, camera=("B", "2"))
    pr = Predictor.load(zs_bundle)
    results = list(Scanner(pr, ScanOptions(use_cache=False)).scan([q, g1, g2]))
    assert [r.status for r in results][:2] == [ScanStatus.EXIF] * 2  # tagged photos come first
    assert len(built) == 1
    emb, lats, lons = built[0]
    assert emb.shape == (2, 32)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert lats == pytest.approx([SYDNEY[0], ZAGREB[0]], abs=1e-4)
    assert lons == pytest.approx([SYDNEY[1], ZAGREB[1]], abs=1e-4)
    assert len(blended) == 1
    q_emb, model_pred, out = blended[0]
    assert model_pred.source is Source.MODEL and model_pred.city == "Tokyo"
    assert float(q_emb @ emb[0]) > float(q_emb @ emb[1])  # the query looks like the Sydney photo
    final = results[-1]
    assert final.prediction == out
    assert final.status is (
        ScanStatus.NEIGHBORS if out.source is Source.NEIGHBORS else ScanStatus.PREDICTED
    )


def test_cached_rescan_still_blends_with_neighbours(zs_bundle: Path, tmp_path: Path) -> None:
    tagged = write_jpeg(tmp_path / "1.jpg", RED, gps=ZAGREB, taken_at="2024:05:01 10:00:00")
    near = write_jpeg(tmp_path / "2.jpg", BLUE, taken_at="2024:05:01 10:02:00")
    pr = Predictor.load(zs_bundle)
    first = {r.path: r for r in Scanner(pr, ScanOptions()).scan([tagged, near])}
    s2 = Scanner(pr, ScanOptions())
    second = {r.path: r for r in s2.scan([tagged, near])}
    assert s2.stats.cached == 2 and s2.stats.decoded == 0
    assert second[near].status == first[near].status is ScanStatus.NEIGHBORS
    assert second[near].prediction == first[near].prediction
