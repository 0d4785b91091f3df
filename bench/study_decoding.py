"""Decoding studies on the `world` val photos: multi-crop test-time augmentation, and a
fallback for unsure photos ("hedging"), side by side with the bundle as shipped.

    .venv/bin/python bench/study_decoding.py [--bundle geoscope-lite] [--threads 2]

* TTA: the encoder runs on several views of each photo; the logits (and, for the
  gallery, the L2-normalised embeddings) are averaged as the runtime averages a
  bundle's ``input.views``. Views: the runtime's centre, start, end and mirror
  views (``PreprocessSpec.views``), and one it does not offer, the whole frame
  squashed. Every row costs as many encoder runs as it has
  views; the bundle's own views are ignored.
* Hedging: for photos whose answer is unsure, the answer becomes the cell centre
  that holds the most probability within R km (the point most likely to be within
  R km), instead of the best cell refined by the gallery. "Unsure" is either a low
  confidence or a low similarity of the nearest gallery photo.

Prints acc@25/200/750/2500 km and GeoScore on all world val photos, and acc@750 and
@2500 per set. No assertions: a study, not a test.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from geoscope_core.geo.distance import haversine_km
from geoscope_core.records import shared_geo_records
from geoscope_core.runtime.decoding import softmax
from geoscope_core.runtime.images import preprocess
from geoscope_core.runtime.manifest import PreprocessSpec, View
from geoscope_core.runtime.predictor import Predictor

THRESHOLDS_KM = (25, 200, 750, 2500)


def views_of(path: Path, spec: PreprocessSpec) -> np.ndarray:
    """uint8 [5, size, size, 3]: the runtime's centre, start and end views, the whole
    frame squashed, and the centre view mirrored."""
    views = (View.CENTER, View.START, View.END, View.MIRROR)
    runtime = preprocess(path, replace(spec, views=views))
    with Image.open(path) as raw:
        im = ImageOps.exif_transpose(raw).convert("RGB")
    squash = np.asarray(im.resize((spec.size, spec.size), Image.Resampling.BICUBIC))
    return np.concatenate([runtime[:3], squash[None], runtime[3:]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", default=None, help="bundle (default: the shipped one)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    records = [r for r in shared_geo_records("val") if r.scope == "world"]
    p = Predictor.load(args.bundle, "cpu", threads=args.threads)
    dec = p.decoder
    names = [p._emb_output, *dec.output_names()]
    if len(names) != 2:
        raise SystemExit("the study decodes one classifier level; this bundle has others")
    emb_views, logit_views = [], []
    for r in records:
        emb, logits = p._run(views_of(Path(r.path), p.preprocess), names)
        emb_views.append(emb)
        logit_views.append(logits)
    E, L = np.stack(emb_views), np.stack(logit_views)  # [N, V, D], [N, V, cells]
    lat = np.array([r.lat for r in records])
    lon = np.array([r.lon for r in records])
    sets = np.array([r.set for r in records])
    level = dec.chain[-1]

    def row(name: str, plat: np.ndarray, plon: np.ndarray) -> None:
        e = np.asarray(haversine_km(lat, lon, plat, plon))
        acc = " ".join(f"{100 * np.mean(e <= t):5.1f}" for t in THRESHOLDS_KM)
        geoscore = np.mean(5000 * np.exp(-e / 1492.7))
        per = " ".join(
            f"{s}={100 * np.mean(e[sets == s] <= 750):.0f}"
            f"/{100 * np.mean(e[sets == s] <= 2500):.0f}"
            for s in sorted(set(sets))
        )
        print(f"{name:44s} {acc}  {geoscore:5.0f}  {per}")

    def decoded(emb: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        preds = dec.decode_many({level: logits}, emb)
        return (
            np.array([q.lat for q in preds]),
            np.array([q.lon for q in preds]),
            np.array([q.confidence for q in preds]),
        )

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    print(f"{len(records)} world val photos; bundle {p.model_id}")
    heads = " ".join(f"{'@' + str(t):>5}" for t in THRESHOLDS_KM)
    print(f"{'':44s} {heads}  {'GS':>5}  per set @750/@2500 %")
    tta: dict[str, list[int]] = {
        "shipped (centre crop)": [0],
        "TTA centre + 2 ends (3 runs)": [0, 1, 2],
        "TTA centre + squash (2 runs)": [0, 3],
        "TTA centre + mirror (2 runs)": [0, 4],
        "TTA centre + 2 ends + mirror (4 runs)": [0, 1, 2, 4],
        "TTA all 5 views (5 runs)": [0, 1, 2, 3, 4],
    }
    for name, views in tta.items():
        plat, plon, _ = decoded(unit(E[:, views].mean(1)), L[:, views].mean(1))
        row(name, plat, plon)

    plat, plon, conf = decoded(E[:, 0], L[:, 0])
    table = dec.table(level)
    probs = softmax(L[:, 0].astype(np.float64) / dec.manifest.temperature)
    dist = np.asarray(haversine_km(table.lat[:, None], table.lon[:, None], table.lat, table.lon))
    gallery = dec.gallery
    similarity = (
        (gallery.project(E[:, 0]) @ gallery.embeddings.astype(np.float32).T).max(1)
        if gallery is not None
        else conf
    )
    rules: dict[str, Callable[[float], np.ndarray]] = {
        "confidence <": lambda q: conf < q,
        "gallery similarity below quantile": lambda q: similarity < np.quantile(similarity, q),
    }
    for radius in (750, 1500, 2500):
        best = (probs @ (dist <= radius).T.astype(np.float64)).argmax(1)
        for rule, cut in rules.items():
            for q in (0.1, 0.5, 0.9):
                unsure = cut(q)
                row(
                    f"hedge R={radius} km, {rule} {q} ({100 * unsure.mean():.0f}%)",
                    np.where(unsure, table.lat[best], plat),
                    np.where(unsure, table.lon[best], plon),
                )


if __name__ == "__main__":
    main()
