"""Benchmark of the geography core: gazetteer load time, reverse geocoding, k-means cells.

Run:  .venv/bin/python bench/bench_geo.py [--points 100000]

Prints figures and their ratio to the targets of the design (load < 2 s,
>= 10,000 reverse look-ups/s). Load times are measured in fresh interpreters
(import + first ``get_gazetteer()``), cold with an empty cache folder and warm
with the cache it left.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LOAD_BUDGET_S = 2.0
LOOKUP_TARGET_PER_S = 10_000.0

_LOAD_SNIPPET = """
import json, time
t0 = time.perf_counter()
from geoscope_core.geo.gazetteer import get_gazetteer
g = get_gazetteer()
print(json.dumps({"load_s": time.perf_counter() - t0, "cities": len(g)}))
"""


def _load_in_fresh_process(cache_dir: str) -> dict[str, float]:
    env = dict(os.environ, GEOSCOPE_CACHE_DIR=cache_dir)
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_SNIPPET], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="reverse look-ups to time")
    parser.add_argument("--repeats", type=int, default=3, help="load-time repeats (best kept)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        cold = []
        for _ in range(args.repeats):
            for f in list(Path(cache).glob("*")):
                f.unlink()
            cold.append(_load_in_fresh_process(cache)["load_s"])
        warm = [_load_in_fresh_process(cache)["load_s"] for _ in range(args.repeats)]
    print(
        f"gazetteer load, cold (no cache):  best {min(cold):.2f} s of {args.repeats}"
        f"  = {min(cold) / LOAD_BUDGET_S:.2f}x the {LOAD_BUDGET_S:g} s budget"
    )
    print(
        f"gazetteer load, warm (npz cache): best {min(warm):.2f} s of {args.repeats}"
        f"  = {min(warm) / LOAD_BUDGET_S:.2f}x the {LOAD_BUDGET_S:g} s budget;"
        f" cold/warm = {min(cold) / min(warm):.1f}x"
    )

    from geoscope_core.geo.distance import haversine_km
    from geoscope_core.geo.gazetteer import get_gazetteer

    gaz = get_gazetteer()
    rng = np.random.default_rng(0)
    n = args.points
    lats = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))  # uniform on the sphere
    lons = rng.uniform(-180, 180, n)
    gaz.reverse(0.0, 0.0)  # build the KD-tree outside the timings

    t = time.perf_counter()
    gaz.nearest_indices(lats, lons)
    t_idx = time.perf_counter() - t
    t = time.perf_counter()
    results = gaz.reverse_many(lats, lons)
    t_many = time.perf_counter() - t
    m = min(n, 5_000)
    t = time.perf_counter()
    for i in range(m):
        gaz.reverse(float(lats[i]), float(lons[i]))
    t_single = time.perf_counter() - t
    for name, count, sec in (
        ("nearest_indices (arrays)", n, t_idx),
        ("reverse_many (ReverseResult)", n, t_many),
        ("reverse (one call per point)", m, t_single),
    ):
        r = _rate(count, sec)
        print(f"{name:32s} {r:12,.0f} look-ups/s = {r / LOOKUP_TARGET_PER_S:7.1f}x the target")

    # correctness against brute force on a sample
    k = 200
    c_lat = np.array([c.lat for c in gaz.cities()])
    c_lon = np.array([c.lon for c in gaz.cities()])
    exact = sum(
        abs(results[i].distance_km - float(haversine_km(lats[i], lons[i], c_lat, c_lon).min()))
        < 1e-6
        for i in range(k)
    )
    print(f"nearest city equals brute-force haversine argmin: {exact}/{k}")

    # reverse-geocode's own search (KD-tree on raw degrees) for comparison
    try:
        import reverse_geocode

        coords = list(zip(lats.tolist(), lons.tolist(), strict=True))
        reverse_geocode.search(coords[:10])  # load its data outside the timing
        t = time.perf_counter()
        theirs = reverse_geocode.search(coords)
        t_theirs = time.perf_counter() - t
        agree = np.mean(
            [
                r.city.name == o["city"] and r.country.id == o["country_code"]
                for r, o in zip(results, theirs, strict=True)
            ]
        )
        print(
            f"reverse_geocode.search: {_rate(n, t_theirs):,.0f} look-ups/s;"
            f" reverse_many is {t_theirs / t_many:.2f}x as fast;"
            f" same city {agree:.1%} (it measures distance in raw degrees)"
        )
    except ImportError:
        print("reverse_geocode not importable: comparison skipped")

    from geoscope_core.geo.cells import kmeans_cells

    for npts, kc in ((3_000, 100), (100_000, 1_000)):
        la, lo = lats[:npts], lons[:npts]
        t = time.perf_counter()
        cells = kmeans_cells(la, lo, kc, seed=0, gaz=gaz)
        print(
            f"kmeans_cells {npts:,} points -> {len(cells)} cells: {time.perf_counter() - t:.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
