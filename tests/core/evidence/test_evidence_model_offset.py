"""A camera's clock offset from agreement with the model: on a real track, the offset under
which the track puts the photos where the model's estimates of them are is recovered
when nothing else tells it, and no offset is applied when the model tells nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.evidence.personal import EvidenceOptions, PersonalEvidence
from geoscope_core.evidence.placement import place_by_time
from geoscope_core.evidence.tracks import Track, load_track
from geoscope_core.geo.distance import haversine_km
from geoscope_core.photos.metadata import PhotoMetadata
from geoscope_core.prediction import Candidate, Prediction
from geoscope_core.settings import data_dir

SHIFT_S = 437.0  # the camera's clock is 7 min 17 s slow


def _track() -> Track:
    path = data_dir() / "tracks" / "tracks" / "gottengeography" / "20090703.gpx"
    if not path.is_file():
        raise FileNotFoundError(f"track test data missing: {path} (set $GEOSCOPE_DATA)")
    return load_track(path)  # a 2 h drive near Redvers SK, 2335 fixes


def _trip(track: Track, n: int = 24) -> tuple[list[PhotoMetadata], np.ndarray]:
    """``n`` photos over the drive (UTC times ``t``), taken by a camera SHIFT_S slow."""
    t = np.linspace(track.start + 900, track.end - 900, n)
    metas = []
    for i, ti in enumerate(t):
        clock = datetime.fromtimestamp(ti - SHIFT_S, tz=timezone.utc).replace(tzinfo=None)
        metas.append(
            PhotoMetadata(
                Path(f"/trip/{i:02d}.jpg"), taken_at=clock, camera="cam", utc_offset_min=0
            )
        )
    return metas, t


def _estimate(lat: float, lon: float, radius_km: float, conf: float = 0.6) -> Prediction:
    first = Candidate(lat, lon, conf, radius_km=radius_km)
    far = Candidate(lat + 3.0, lon - 4.0, 0.2, radius_km=4 * radius_km)  # a wrong alternative
    return Prediction(lat, lon, conf, radius_km, top_k=(first, far), model="fake@0")


def _resolve(track: Track, metas: list[PhotoMetadata], preds: list[Prediction]):
    ev = PersonalEvidence(track, EvidenceOptions())
    (cam,) = ev.resolve_offsets(metas, {}, {m.path: p for m, p in zip(metas, preds, strict=True)})
    return ev, cam


def test_model_agreement_recovers_the_clock_offset_without_look_alike_photos() -> None:
    track = _track()
    metas, t = _trip(track)
    true = place_by_time(track, t)
    assert true.ok.all()
    rng = np.random.default_rng(12)
    noise_deg = rng.normal(0.0, 0.0008, (len(t), 2))  # about 90 m in each direction
    preds = [
        _estimate(la + dy, lo + dx, 0.3)
        for la, lo, (dy, dx) in zip(true.lat, true.lon, noise_deg, strict=True)
    ]
    ev, cam = _resolve(track, metas, preds)
    assert cam.origin == "estimated" and cam.estimate is not None
    assert cam.estimate.method == "model" and cam.estimate.clear
    assert abs(cam.seconds - SHIFT_S) <= 60, cam
    assert "agree best with the model" in cam.estimate.note, cam.estimate.note
    # the photos then land where they were taken
    placed = ev.place(metas)
    err_km = [
        float(haversine_km(p.lat, p.lon, la, lo))
        for p, la, lo in zip(placed, true.lat, true.lon, strict=True)
        if p is not None
    ]
    assert len(err_km) == len(metas) and float(np.median(err_km)) < 0.3, err_km


@pytest.mark.parametrize(
    "where",
    [
        "far",  # the model is sure of another place (Tokyo): nothing agrees anywhere
        "vague",  # a continent-wide guess: every offset on the drive agrees alike
    ],
)
def test_no_offset_when_the_model_tells_nothing(where: str) -> None:
    track = _track()
    metas, _ = _trip(track)
    c_lat, c_lon = float(np.mean(track.lat)), float(np.mean(track.lon))
    if where == "far":
        preds = [_estimate(35.69, 139.69, 30.0, conf=0.9) for _ in metas]
    else:
        preds = [_estimate(c_lat, c_lon, 2500.0, conf=0.3) for _ in metas]
    _, cam = _resolve(track, metas, preds)
    assert cam.origin == "none" and cam.seconds == 0.0, cam
    assert cam.estimate is None or not cam.estimate.clear


def test_one_hour_of_candidates_costs_little_memory() -> None:
    """The search scores photos x offsets x candidates in bounded chunks."""
    from geoscope_core.evidence.offsets import OffsetSearch, from_model

    track = _track()
    _, t = _trip(track, n=300)
    preds = [_estimate(49.6, -101.9, 1.0)] * len(t)
    calls: list[int] = []

    def positions(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(ts.shape[0])
        p = place_by_time(track, ts)
        return p.lat, p.lon

    est = from_model(t - SHIFT_S, preds, positions, OffsetSearch(max_s=3600.0))
    assert est is not None and max(calls) * 2 <= 1 << 21, max(calls)
    assert timedelta(seconds=abs(est.seconds)) <= timedelta(hours=1)


def test_model_agreement_breaks_a_tie_of_look_alike_photos() -> None:
    """One camera photo looks just like two phone photos 25 min apart: the look-alikes
    cannot tell which is simultaneous; the model's estimates can, and the note says both."""
    track = _track()
    metas, t = _trip(track)
    true = place_by_time(track, t)
    preds = [_estimate(la, lo, 0.3) for la, lo in zip(true.lat, true.lon, strict=True)]
    phone = [
        PhotoMetadata(
            Path(f"/phone/{k}.jpg"),
            (float(true.lat[0]), float(true.lon[0])),
            taken_at=datetime.fromtimestamp(t[0] + lag, tz=timezone.utc).replace(tzinfo=None),
            camera="phone",
            utc_offset_min=0,
        )
        for k, lag in enumerate((0.0, 1500.0))
    ]
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(len(metas), 16))
    emb = {m.path: v / np.linalg.norm(v) for m, v in zip(metas, vectors, strict=True)}
    emb[phone[0].path] = emb[phone[1].path] = emb[metas[0].path]
    ev = PersonalEvidence(track, EvidenceOptions())
    assert ev.add_reference_photos(phone) == 2
    est = ev.estimate_offset("cam", metas, emb)
    assert est is not None and est.method == "photos" and not est.clear  # a tie
    est = ev.estimate_offset(
        "cam", metas, emb, {m.path: p for m, p in zip(metas, preds, strict=True)}
    )
    assert est is not None and est.method == "model" and est.clear
    assert abs(est.seconds - SHIFT_S) <= 60 and "look-alike photos:" in est.note, est
