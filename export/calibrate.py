"""Refit a bundle's error radius on labelled photos, without re-exporting it.

``geoscope calibrate BUNDLE [--labels labels.csv]`` runs the
bundle as the runtime does over the photos (default: the shared geo data's val
split), fits ``error_model`` with ``evaluate.error_model`` — the same fit the
exporter makes — and rewrites ``manifest.json`` in place. The model files are
untouched, so their hashes still hold; the bundle's model id changes with the
manifest, which invalidates cached scan results as it should.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from geoscope_core.errors import BundleError, ConfigError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.runtime.manifest import MANIFEST_NAME, ErrorModel, Manifest
from geoscope_core.runtime.predictor import Predictor
from geoscope_export import evaluate as ev


def refit_error_model(
    bundle_dir: Path,
    labels_csv: Path | None = None,
    max_photos: int = 0,
    quantile: float = 0.68,
    batch_size: int = 16,
) -> ErrorModel:
    """Fit the error model of the bundle folder ``bundle_dir`` on ``labels_csv`` (None: the
    shared val split), keeping only its world-scope photos when it has a ``scope`` column
    (``evaluate.fit_records``); ``max_photos`` > 0 samples that many. Writes the model to
    the bundle's manifest. ``quantile`` is the share of photos within the radius, in (0, 1)."""
    if not 0.0 < quantile < 1.0:
        raise ConfigError(f"quantile must lie strictly between 0 and 1, not {quantile}")
    root = Path(bundle_dir)
    if not (root / MANIFEST_NAME).is_file():
        raise BundleError(f"{bundle_dir}: calibrate needs an unpacked bundle folder")
    predictor = Predictor.load(root, provider="cpu")
    bundle = predictor.bundle
    spec = bundle.manifest.input
    records = ev.sample_records(ev.fit_records(ev.load_records(labels_csv, "val")), max_photos)
    photos = ev.decode_records(records, spec)
    preds = []
    for start in range(0, len(photos), batch_size):
        preds.extend(predictor.predict(photos.pixels[start : start + batch_size]))
    lat = np.asarray([p.lat for p in preds])
    lon = np.asarray([p.lon for p in preds])
    confidence = np.asarray([p.confidence for p in preds])
    err_km = np.asarray(haversine_km(lat, lon, photos.lat, photos.lon))
    edges, radii = ev.error_model(confidence, err_km, quantile=quantile)
    model = ErrorModel(edges, radii)
    source = str(labels_csv) if labels_csv else "shared geo labels.csv, split val"
    if any(r.scope for r in records):
        source += f", scope {ev.FIT_SCOPE}"
    metrics = {
        **bundle.manifest.metrics,
        "error_model": {"source": source, "photos": len(photos), "quantile": quantile},
    }
    manifest = replace(bundle.manifest, error_model=model, metrics=metrics)
    tmp = root / f".{MANIFEST_NAME}.tmp"
    manifest.write(tmp)
    Manifest.read(tmp)  # what we wrote must parse and validate
    tmp.replace(root / MANIFEST_NAME)
    return model
