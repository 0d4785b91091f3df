"""Benchmark: does placing a folder as a trip beat placing each photo alone?

Trips are built from the val photos of ``data_dir()/geo/labels.csv`` (seeded):

- ``city days``  up to 8 photos within 30 km of the day's first, 5-40 min apart;
- ``road trips`` up to 10 places of one country in a random order, timed by driving
                 between them at 60 km/h (plus a 10-40 min stop at each);
- ``mixed``      12 photos of 12 countries, 1-5 days apart;

plus ``real trips``: the photos of ``data_dir()/tracks/trips`` that carry camera GPS,
their GPS stripped (it is the truth), their own capture times and cameras.

Each photo is predicted once by the default bundle (``Predictor``, the scan's decoding;
cached in ``cache_dir()/bench``); then the scan's own placement code
(``scan.items.place_trips``, the same ``TripPlacer`` the scan runs) places each trip
twice: without capture times (``per-photo``: each photo alone, as before) and with the
synthetic ones (``trip``). Printed per scenario: accuracy within 25/200/750/2500 km and
country accuracy, per-photo and trip side by side, and how many photos the trip moved.

``--timing N`` also times the placement of N photos of one camera (the val photos'
predictions in turn, 5-40 min apart), without the country vote and with it.

Run:  nice -n 10 python bench/bench_trips.py [--city 40 --road 30 --mixed 20] [--seed 0]
                                             [--timing 10000]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from geoscope_core.geo.distance import haversine_km
from geoscope_core.geo.places import names_at_many
from geoscope_core.photos.metadata import PhotoMetadata, read_metadata
from geoscope_core.placement import TravelModel, TripPlacer
from geoscope_core.prediction import Prediction
from geoscope_core.scan.items import Item, photo_evidence, place_trips
from geoscope_core.scan.types import ScanOptions
from geoscope_core.settings import cache_dir, data_dir

KM = (25, 200, 750, 2500)
T0 = datetime(2024, 5, 14, 9, 0, 0)


@dataclass
class Photo:
    path: Path
    lat: float
    lon: float
    cc: str


@dataclass
class Trip:
    photos: list[Photo]
    times: list[datetime]  # capture times (local clock)
    camera: str = "bench camera"


def read_split(split: str = "val") -> list[Photo]:
    root = data_dir() / "geo"
    labels = root / "labels.csv"
    if not labels.is_file():
        sys.exit(f"{labels} is missing: set GEOSCOPE_DATA to the shared data folder")
    with labels.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split]
    return [
        Photo(root / r["path"], float(r["lat"]), float(r["lon"]), r["country_code"]) for r in rows
    ]


# ----------------------------------------------------------------------------- scenarios


def city_days(photos: list[Photo], n: int, rng: np.random.Generator) -> list[Trip]:
    lat = np.array([p.lat for p in photos])
    lon = np.array([p.lon for p in photos])
    used = np.zeros(len(photos), bool)
    out = []
    for i in rng.permutation(len(photos)):
        if used[i] or len(out) >= n:
            continue
        d = np.asarray(haversine_km(lat[i], lon[i], lat, lon))
        near = np.nonzero((d <= 30.0) & ~used)[0]
        near = near[near != i]
        if len(near) < 3:
            continue
        pick = [int(i), *rng.choice(near, size=min(7, len(near)), replace=False).tolist()]
        used[pick] = True
        gaps = rng.uniform(5 * 60, 40 * 60, size=len(pick))
        times = [T0 + timedelta(seconds=float(s)) for s in np.cumsum(gaps)]
        out.append(Trip([photos[j] for j in pick], times))
    return out


def road_trips(photos: list[Photo], n: int, rng: np.random.Generator) -> list[Trip]:
    by_cc: dict[str, list[int]] = {}
    for i, p in enumerate(photos):
        by_cc.setdefault(p.cc, []).append(i)
    countries = [cc for cc, idx in by_cc.items() if len(idx) >= 4]
    out = []
    for _ in range(n):
        cc = countries[int(rng.integers(len(countries)))]
        idx = rng.choice(by_cc[cc], size=min(10, len(by_cc[cc])), replace=False)
        t = T0
        times, trip = [], []
        for k, j in enumerate(idx):
            p = photos[int(j)]
            if k:
                prev = trip[-1]
                drive_h = float(haversine_km(prev.lat, prev.lon, p.lat, p.lon)) / 60.0
                t += timedelta(hours=drive_h, minutes=float(rng.uniform(10, 40)))
            trip.append(p)
            times.append(t)
        out.append(Trip(trip, times))
    return out


def mixed(photos: list[Photo], n: int, rng: np.random.Generator) -> list[Trip]:
    by_cc: dict[str, list[int]] = {}
    for i, p in enumerate(photos):
        by_cc.setdefault(p.cc, []).append(i)
    ccs = sorted(by_cc)
    out = []
    for _ in range(n):
        pick = rng.choice(len(ccs), size=min(12, len(ccs)), replace=False)
        trip = [photos[int(rng.choice(by_cc[ccs[c]]))] for c in pick]
        gaps = rng.uniform(1, 5, size=len(trip))
        times = [T0 + timedelta(days=float(s)) for s in np.cumsum(gaps)]
        out.append(Trip(trip, times))
    return out


def real_trips() -> list[tuple[Trip, list[PhotoMetadata]]]:
    """The track-data trips' photos with camera GPS (the truth) and a capture time."""
    out = []
    root = data_dir() / "tracks" / "trips"
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        metas = []
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in (".jpg", ".jpeg"):
                continue
            try:
                m = read_metadata(f)
            except Exception:  # a deliberately broken test photo: not part of a trip
                continue
            if m.gps is not None and not m.gps_is_estimate and m.taken_at is not None:
                metas.append(m)
        if metas:
            photos = [Photo(m.path, m.gps[0], m.gps[1], "") for m in metas]  # type: ignore[index]
            trip = Trip(photos, [m.taken_at for m in metas])  # type: ignore[misc]
            out.append((trip, metas))
    return out


# ----------------------------------------------------------------------------- predictions


def predict(paths: list[Path]) -> dict[Path, Prediction]:
    """The default bundle's prediction of each photo (cached per bundle and photo)."""
    from geoscope_core.runtime.images import preprocess
    from geoscope_core.runtime.predictor import Predictor

    pr = Predictor.load(None, provider="cpu")
    cache = cache_dir() / "bench" / f"trips-{pr.model_id.replace('@', '-')}.json"
    known: dict[str, dict] = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = sorted({str(p) for p in paths} - set(known))
    t = time.perf_counter()
    for i in range(0, len(todo), 16):
        chunk = todo[i : i + 16]
        px = np.stack([preprocess(Path(p), pr.preprocess) for p in chunk])
        for p, pred in zip(chunk, pr.predict(px), strict=True):
            known[p] = pred.to_dict()
        print(f"\r  predicted {min(i + 16, len(todo))}/{len(todo)}", end="", file=sys.stderr)
    if todo:
        print(f" in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    return {p: Prediction.from_dict(known[str(p)]) for p in paths}


# ----------------------------------------------------------------------------- evaluation


def place(trip: Trip, preds: dict[Path, Prediction], timed: bool, cc: bool) -> list[Prediction]:
    """The scan's placement of ``trip`` (with or without its capture times)."""
    items = []
    for p, t in zip(trip.photos, trip.times, strict=True):
        meta = PhotoMetadata(path=p.path, taken_at=t if timed else None, camera=trip.camera)
        items.append(Item(p.path, meta=meta, pred=preds[p.path]))
    place_trips(items, ScanOptions())
    out = [it.pred for it in items if it.pred is not None]
    if cc:  # a country for every estimate, as the scan names a point
        need = [i for i, q in enumerate(out) if not q.country_code]
        if need:
            names = names_at_many(
                np.array([out[i].lat for i in need]), np.array([out[i].lon for i in need])
            )
            for i, nm in zip(need, names, strict=True):
                out[i] = replace(out[i], country_code=nm.country_code)
    return out


def score(trips: list[Trip], placed: list[list[Prediction]]) -> dict[str, float]:
    d, right = [], []
    for trip, preds in zip(trips, placed, strict=True):
        for p, q in zip(trip.photos, preds, strict=True):
            d.append(float(haversine_km(p.lat, p.lon, q.lat, q.lon)))
            right.append(bool(p.cc) and p.cc.upper() == q.country_code.upper())
    arr = np.array(d)
    out = {f"@{k}": float((arr <= k).mean()) for k in KM}
    out["country"] = (
        float(np.mean(right)) if any(p.cc for t in trips for p in t.photos) else math.nan
    )
    out["median_km"] = float(np.median(arr))
    return out


def report(name: str, trips: list[Trip], preds: dict[Path, Prediction]) -> None:
    alone = [place(t, preds, False, True) for t in trips]
    together = [place(t, preds, True, True) for t in trips]
    moved = sum(
        (a.lat, a.lon) != (b.lat, b.lon)
        for xs, ys in zip(alone, together, strict=True)
        for a, b in zip(xs, ys, strict=True)
    )
    n = sum(len(t.photos) for t in trips)
    s0, s1 = score(trips, alone), score(trips, together)
    print(f"\n{name}: {len(trips)} trips, {n} photos, {moved} moved by their trip-mates")
    print(f"  {'':10s} {'per-photo':>10s} {'trip':>8s} {'change':>8s}")
    for k in s0:
        a, b = s0[k], s1[k]
        if k == "median_km":
            print(f"  {k:10s} {a:10.0f} {b:8.0f} {b - a:+8.0f}")
        elif not math.isnan(a):
            print(f"  {k:10s} {100 * a:9.1f}% {100 * b:7.1f}% {100 * (b - a):+7.1f}")


def timing(n: int, photos: list[Photo], preds: dict[Path, Prediction]) -> None:
    """Seconds to place ``n`` photos of one camera, without the country vote and with it."""
    rng = np.random.default_rng(0)
    gaps = np.cumsum(rng.uniform(5 * 60, 40 * 60, size=n))
    evs = []
    for k, s in enumerate(gaps):
        p = photos[k % len(photos)]
        meta = PhotoMetadata(path=p.path, taken_at=T0 + timedelta(seconds=float(s)), camera="c")
        evs.append(photo_evidence(Item(p.path, meta=meta, pred=preds[p.path])))
    secs = []
    for odds in (0.0, TravelModel().country_odds):
        placer = TripPlacer(TravelModel(country_odds=odds))
        t = time.perf_counter()
        placer.place(evs)
        secs.append(time.perf_counter() - t)
    print(f"\nplacing {n:,} photos of one camera: {secs[0]:.2f} s without the country vote,")
    print(f"  {secs[1]:.2f} s with it (x{secs[1] / secs[0]:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--city", type=int, default=40, help="city days (default 40)")
    ap.add_argument("--road", type=int, default=30, help="road trips (default 30)")
    ap.add_argument("--mixed", type=int, default=20, help="mixed folders (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="val", help="photos to build trips of (default val)")
    ap.add_argument("--timing", type=int, default=0, help="also time placing N photos")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    val = read_split(args.split)
    scen = {
        "city days": city_days(val, args.city, rng),
        "road trips": road_trips(val, args.road, rng),
        "mixed folders": mixed(val, args.mixed, rng),
    }
    real = real_trips()
    paths = [p.path for trips in scen.values() for t in trips for p in t.photos]
    paths += [p.path for t, _ in real for p in t.photos]
    preds = predict(list(dict.fromkeys(paths)))
    for name, trips in scen.items():
        report(name, trips, preds)
    # real trips: each its own camera(s) and times; the truth is the stripped camera GPS
    trips = []
    for trip, metas in real:
        for cam in sorted({m.camera for m in metas}):
            idx = [i for i, m in enumerate(metas) if m.camera == cam]
            trips.append(Trip([trip.photos[i] for i in idx], [trip.times[i] for i in idx], cam))
    report("real trips (GPS stripped)", trips, preds)
    if args.timing:
        timing(args.timing, [p for ts in scen.values() for t in ts for p in t.photos], preds)


if __name__ == "__main__":
    main()
