"""Retrieval refinement: the bundle's gallery of training photos (as PIGEON does).

A classifier names cells hundreds of km wide. A gallery bundle also carries the
embeddings of its training photos with their places; the runtime classifies, then
looks among the gallery photos that lie in the ``top_cells`` most likely cells for
the one most like the query, and answers that photo's place. The gallery is stored
compactly: the encoder's L2-normalised embedding [D] is centred and projected onto
its first G principal components (``mean`` [D], ``projection`` [D, G]) and
normalised again; gallery embeddings are float16 [N, G].

File (``DecodingSpec.gallery``, an ``.npz`` listed and hashed like every bundle
file): ``mean``, ``projection``, ``embeddings``, ``lat``, ``lon`` (degrees)
and ``cell`` (index of each photo's cell in the decoding level's labels).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from geoscope_core.errors import BundleError

#: Arrays a gallery file must hold.
GALLERY_ARRAYS = ("mean", "projection", "embeddings", "lat", "lon", "cell")


@dataclass(frozen=True)
class Gallery:
    """Training photos to refine a classifier's answer with (shapes in the module doc)."""

    mean: np.ndarray
    projection: np.ndarray
    embeddings: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    cell: np.ndarray
    top_cells: int = 5

    @classmethod
    def read(cls, path: Path, top_cells: int, n_cells: int, embedding_dim: int) -> Gallery:
        """Load and check a gallery file against the bundle's decoding level (``n_cells``
        labels) and encoder (``embedding_dim``); BundleError when it does not fit."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: np.asarray(data[k]) for k in GALLERY_ARRAYS}
        except FileNotFoundError as e:
            raise BundleError(f"missing gallery file {path}") from e
        except (OSError, ValueError, KeyError) as e:
            raise BundleError(f"unreadable gallery file {path}: {e}") from e
        g = cls(
            mean=arrays["mean"].astype(np.float32),
            projection=arrays["projection"].astype(np.float32),
            embeddings=arrays["embeddings"].astype(np.float32),
            lat=arrays["lat"].astype(np.float64),
            lon=arrays["lon"].astype(np.float64),
            cell=arrays["cell"].astype(np.int64),
            top_cells=int(top_cells),
        )
        g.check(n_cells, embedding_dim, path)
        return g

    def check(self, n_cells: int, embedding_dim: int, where: str | Path = "gallery") -> None:
        """BundleError unless the arrays agree with each other and with the bundle."""
        n, dim = self.embeddings.shape if self.embeddings.ndim == 2 else (0, 0)
        problems = []
        if n == 0:
            problems.append("embeddings must be a non-empty [N, G] array")
        if self.mean.shape != (embedding_dim,):
            problems.append(f"mean has shape {self.mean.shape}, not ({embedding_dim},)")
        if self.projection.shape != (embedding_dim, dim):
            problems.append(f"projection has shape {self.projection.shape}")
        if any(a.shape != (n,) for a in (self.lat, self.lon, self.cell)):
            problems.append("lat, lon and cell need one value per gallery photo")
        elif n and (self.cell.min() < 0 or self.cell.max() >= n_cells):
            problems.append(f"cell indices outside the {n_cells} labels")
        elif n and not (np.abs(self.lat).max() <= 90 and np.abs(self.lon).max() <= 180):
            problems.append("coordinates outside the globe")
        if self.top_cells < 1:
            problems.append("top_cells must be >= 1")
        if problems:
            raise BundleError(f"{where}: " + "; ".join(problems))

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Gallery-space queries float32 [B, G] of encoder embeddings [B, D]."""
        q = (np.asarray(embeddings, np.float32) - self.mean) @ self.projection
        return q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)

    def refine(
        self, query: np.ndarray, cells: Iterable[int], min_similarity: float = -1.0
    ) -> tuple[float, float] | None:
        """Place (lat, lon degrees) of the gallery photo most like ``query`` [G] among
        those in ``cells`` (the most likely first; only ``top_cells`` of them count);
        None when none of the gallery's photos lies in them or the most similar is less
        similar (cosine) than ``min_similarity``."""
        wanted = list(dict.fromkeys(int(c) for c in cells))[: self.top_cells]
        rows = np.flatnonzero(np.isin(self.cell, wanted))
        if len(rows) == 0:
            return None
        sims = self.embeddings[rows] @ query
        best = int(np.argmax(sims))
        if float(sims[best]) < min_similarity:
            return None
        return float(self.lat[rows[best]]), float(self.lon[rows[best]])


def build_gallery(
    embeddings: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    cell: np.ndarray,
    dim: int,
    top_cells: int = 5,
) -> Gallery:
    """A gallery of N photos from their encoder embeddings [N, D], places (degrees) and
    cell indices [N], projected on the first ``dim`` principal components."""
    x = np.asarray(embeddings, np.float64)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    projection = vt[: min(dim, vt.shape[0])].T
    g = Gallery(
        mean=mean.astype(np.float32),
        projection=projection.astype(np.float32),
        embeddings=np.zeros((0, 0), np.float32),
        lat=np.asarray(lat, np.float64),
        lon=np.asarray(lon, np.float64),
        cell=np.asarray(cell, np.int64),
        top_cells=top_cells,
    )
    return replace(g, embeddings=g.project(x).astype(np.float16))


def write_gallery(gallery: Gallery, path: Path) -> None:
    """Save ``gallery`` as the ``.npz`` file :meth:`Gallery.read` loads."""
    np.savez(
        path,
        mean=gallery.mean.astype(np.float32),
        projection=gallery.projection.astype(np.float32),
        embeddings=gallery.embeddings.astype(np.float16),
        lat=gallery.lat.astype(np.float64),
        lon=gallery.lon.astype(np.float64),
        cell=gallery.cell.astype(np.int32),
    )
