"""Decode cost per photo of each decoding point (printed, never asserted).

    python bench/bench_decode_point.py [--bundle geoscope-lite] [--photos 2000]

Decodes the same logits (random, flat-ish and peaked rows mixed, as the bundle's
heads would give) with the bundle's decoder under every ``point`` (mode,
min_expected_distance, max_expected_geoscore, max_mass_within), and prints ms per
photo side by side
with the ratio to mode. The encoder is not run: this is the decoder's share only (the
scan's budget is 40 ms per photo at 25 photos/s).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from geoscope_core.runtime.bundle import load_bundle
from geoscope_core.runtime.decoding import Decoder
from geoscope_core.runtime.manifest import Point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=None, help="bundle name or path (default: shipped)")
    parser.add_argument("--photos", type=int, default=2000)
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    base = Decoder.from_bundle(bundle)
    rng = np.random.default_rng(0)
    scale = rng.choice([0.5, 4.0], size=(args.photos, 1))  # flat and peaked rows
    logits = {
        n: rng.normal(0, 1, (args.photos, len(base.table(n).rows))) * scale for n in base.chain
    }
    print(f"{bundle.manifest.name}: {args.photos} photos, levels {base.chain}")
    first = None
    for point in Point:
        m = replace(bundle.manifest, decoding=replace(bundle.manifest.decoding, point=point))
        start = time.perf_counter()
        decoder = base.with_manifest(m)
        setup = time.perf_counter() - start
        start = time.perf_counter()
        decoder.decode_many(logits)  # no embeddings: the gallery's cost is not this bench's
        ms = 1000 * (time.perf_counter() - start) / args.photos
        first = first or ms
        print(
            f"{point.value:>22}: {ms:6.3f} ms/photo  x{ms / first:4.2f} of mode  "
            f"(decoder setup {1000 * setup:.1f} ms)"
        )


if __name__ == "__main__":
    main()
