"""Retrieval refinement with a bundle's gallery of training photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geoscope_core.errors import BundleError
from geoscope_core.runtime.gallery import Gallery, build_gallery, write_gallery
from geoscope_core.runtime.manifest import Manifest, hash_bundle_files
from geoscope_core.runtime.predictor import Predictor
from tests.bundles import ANCHORS, BLUE, GREEN, RED, make_bundle, solid_image

#: A quay in Split, 2.5 km from the city label's point (degrees).
QUAY = (43.5040, 16.4700)


def _with_gallery(bundle: Path, gallery: Gallery) -> Path:
    write_gallery(gallery, bundle / "gallery.npz")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["decoding"]["gallery"] = "gallery.npz"
    manifest["decoding"]["gallery_top_cells"] = gallery.top_cells
    manifest["files"] = hash_bundle_files(bundle)
    Manifest.from_dict(manifest).write(bundle / "manifest.json")
    return bundle


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "b", kind="classifier", anchors=ANCHORS, logit_scale=30.0)


def test_gallery_moves_the_answer_to_the_most_similar_photo_in_the_top_cells(bundle: Path):
    plain = Predictor.load(bundle, provider="cpu")
    split = plain.predict(RED[None])[0]
    assert split.city == "Split"
    cities = plain.bundle.labels("city")
    split_cell = next(i for i, r in enumerate(cities) if r["name"] == "Split")
    tokyo_cell = next(i for i, r in enumerate(cities) if r["name"] == "Tokyo")
    reddish = solid_image((200, 60, 50))
    photos = np.stack([RED, reddish, RED, BLUE])
    emb = plain.embed(photos)
    # the same red photo also stands in Tokyo's cell: not a likely cell, so never chosen
    lat = np.array([QUAY[0], 43.30, 35.0, 35.7])
    lon = np.array([QUAY[1], 17.00, 139.0, 139.7])
    cells = np.array([split_cell, split_cell, tokyo_cell, tokyo_cell])
    _with_gallery(bundle, build_gallery(emb, lat, lon, cells, dim=3, top_cells=2))

    refined = Predictor.load(bundle, provider="cpu")
    assert refined.decoder.gallery is not None
    assert refined.decoder.gallery.embeddings.shape == (4, 3)
    got = refined.predict(np.stack([RED, BLUE, GREEN]))
    assert (got[0].lat, got[0].lon) == pytest.approx(QUAY, abs=1e-6)
    assert got[0].country_code == "HR" and got[0].confidence == pytest.approx(split.confidence)
    assert (got[1].lat, got[1].lon) == pytest.approx((35.7, 139.7), abs=1e-6)
    # no gallery photo in Paris's likely cells: the classifier's answer stands
    paris = plain.predict(GREEN[None])[0]
    assert (got[2].lat, got[2].lon) == pytest.approx((paris.lat, paris.lon))


def test_a_gallery_that_does_not_fit_the_bundle_is_refused(bundle: Path):
    plain = Predictor.load(bundle, provider="cpu")
    emb = plain.embed(np.stack([RED, BLUE]))
    n_cities = len(plain.bundle.labels("city"))
    bad = build_gallery(emb, np.zeros(2), np.zeros(2), np.array([0, n_cities]), dim=2)
    _with_gallery(bundle, bad)
    with pytest.raises(BundleError, match="cell indices"):
        Predictor.load(bundle, provider="cpu")
    g = build_gallery(emb, np.zeros(2), np.zeros(2), np.zeros(2, int), dim=2)
    with pytest.raises(BundleError, match="mean has shape"):
        g.check(n_cells=n_cities, embedding_dim=emb.shape[1] + 1)
    (bundle / "gallery.npz").write_bytes(b"not a zip")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = hash_bundle_files(bundle)
    Manifest.from_dict(manifest).write(bundle / "manifest.json")
    with pytest.raises(BundleError, match="gallery"):
        Predictor.load(bundle, provider="cpu")


def test_projection_keeps_neighbours_and_normalises():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    g = build_gallery(x, np.zeros(200), np.zeros(200), np.zeros(200, int), dim=16)
    q = g.project(x[:5])
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, rtol=1e-5)
    assert list(np.argmax(q @ g.embeddings.T.astype(np.float32), axis=1)) == [0, 1, 2, 3, 4]


def test_the_gallery_finds_the_most_similar_photo_inside_the_cells():
    from geoscope_core.runtime.gallery import build_gallery

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(6, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    g = build_gallery(emb, np.arange(6.0), np.arange(6.0), np.array([0, 0, 1, 1, 2, 2]), 4)
    query = g.project(emb[:1])[0]
    index, sim = g.nearest(query, [0])  # type: ignore[misc]
    assert index == 0 and sim > 0.99  # itself: cosine 1
    index, sim = g.nearest(query, [2])  # type: ignore[misc]
    assert index in (4, 5) and sim < 0.999  # others are farther
    assert g.nearest(query, [7]) is None  # no gallery photo in that cell
