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
Reading checks the zip's directory and each array's .npy header (shape, dtype)
against the bundle and ``runtime.limits.MAX_GALLERY_BYTES`` before any array is
allocated (``np.load`` cannot memory-map inside a zip).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np

from geoscope_core.errors import BundleError
from geoscope_core.runtime.limits import (
    MAX_GALLERY_BYTES,
    check_zip_budget,
    open_regular,
    read_npy_header,
)

#: Arrays a gallery file must hold.
GALLERY_ARRAYS = ("mean", "projection", "embeddings", "lat", "lon", "cell")
#: dtype kinds each array may be stored as (float; cell: signed or unsigned integers).
_KINDS = {"mean": "f", "projection": "f", "embeddings": "f", "lat": "f", "lon": "f", "cell": "iu"}
#: Bytes per photo and per gallery dimension once loaded (float32 embeddings; float64
#: lat, lon and int64 cell per photo).
_LOADED_PER_PHOTO = 3 * 8


def shape_problems(shapes: Mapping[str, tuple[int, ...]], embedding_dim: int) -> list[str]:
    """What is wrong with a gallery's array shapes for a bundle whose encoder embeds in
    ``embedding_dim`` dimensions: ``mean`` [D], ``projection`` [D, G], ``embeddings``
    [N, G] (N, G >= 1) and ``lat``, ``lon``, ``cell`` [N]."""
    emb = shapes["embeddings"]
    n, dim = emb if len(emb) == 2 else (0, 0)
    problems = []
    if n == 0 or dim == 0:
        problems.append("embeddings must be a non-empty [N, G] array")
    if shapes["mean"] != (embedding_dim,):
        problems.append(f"mean has shape {shapes['mean']}, not ({embedding_dim},)")
    if shapes["projection"] != (embedding_dim, dim):
        problems.append(f"projection has shape {shapes['projection']}")
    if any(shapes[k] != (n,) for k in ("lat", "lon", "cell")):
        problems.append("lat, lon and cell need one value per gallery photo")
    return problems


def _header(zf: zipfile.ZipFile, key: str, where: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the array ``key`` of a gallery .npz, from its .npy header only;
    BundleError when it is missing, of another type, or declares more data than the
    member holds."""
    try:
        info = zf.getinfo(f"{key}.npy")
    except KeyError as e:
        raise BundleError(f"gallery file {where} has no array {key!r}") from e
    with zf.open(info) as member:
        shape, dtype = read_npy_header(member, f"gallery file {where}: {key}")
    if dtype.kind not in _KINDS[key]:
        raise BundleError(f"gallery file {where}: {key} has dtype {dtype}")
    declared = math.prod(shape) * dtype.itemsize
    if declared > info.file_size:
        raise BundleError(
            f"gallery file {where}: {key} declares {shape} {dtype} ({declared:,} bytes) "
            f"in a member of {info.file_size:,} bytes"
        )
    return tuple(shape), dtype


def _check_before_loading(f: IO[bytes], size: int, path: Path, embedding_dim: int) -> None:
    """BundleError unless the gallery .npz open as ``f`` (``size`` bytes) fits the limits
    and the bundle, judged from its zip directory and .npy headers alone."""
    with zipfile.ZipFile(f) as zf:
        check_zip_budget(zf, size, f"gallery file {path}", MAX_GALLERY_BYTES)
        shapes = {key: _header(zf, key, path)[0] for key in GALLERY_ARRAYS}
    problems = shape_problems(shapes, embedding_dim)
    if problems:
        raise BundleError(f"{path}: " + "; ".join(problems))
    (n, dim) = shapes["embeddings"]
    loaded = 4 * (embedding_dim + embedding_dim * dim + n * dim) + _LOADED_PER_PHOTO * n
    if loaded > MAX_GALLERY_BYTES:
        raise BundleError(
            f"gallery file {path}: {n:,} photos x {dim} dimensions would take {loaded:,} "
            f"bytes, more than the {MAX_GALLERY_BYTES:,} allowed"
        )


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
        labels) and encoder (``embedding_dim``); BundleError when it does not fit, from
        the file's headers before its arrays are allocated."""
        with open_regular(path, "gallery file", MAX_GALLERY_BYTES + (1 << 20)) as f:
            size = f.seek(0, 2)
            try:
                f.seek(0)
                _check_before_loading(f, size, path, embedding_dim)
                f.seek(0)
                with np.load(f, allow_pickle=False) as data:
                    arrays = {k: np.asarray(data[k]) for k in GALLERY_ARRAYS}
            except BundleError:
                raise
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as e:
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
        problems = shape_problems(
            {k: getattr(self, k).shape for k in GALLERY_ARRAYS}, embedding_dim
        )
        if not problems:
            if self.cell.min() < 0 or self.cell.max() >= n_cells:
                problems.append(f"cell indices outside the {n_cells} labels")
            elif not (np.abs(self.lat).max() <= 90 and np.abs(self.lon).max() <= 180):
                problems.append("coordinates outside the globe")
            elif not all(
                np.isfinite(a).all() for a in (self.mean, self.projection, self.embeddings)
            ):
                problems.append("mean, projection or embeddings hold NaN or inf")
        if self.top_cells < 1:
            problems.append("top_cells must be >= 1")
        if problems:
            raise BundleError(f"{where}: " + "; ".join(problems))

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Gallery-space queries float32 [B, G] of encoder embeddings [B, D]."""
        q = (np.asarray(embeddings, np.float32) - self.mean) @ self.projection
        return q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)

    def nearest(self, query: np.ndarray, cells: Iterable[int]) -> tuple[int, float] | None:
        """Index and cosine similarity of the gallery photo most like ``query`` [G] among
        those in ``cells`` (the most likely first; only ``top_cells`` of them count);
        None when none of the gallery's photos lies in them."""
        wanted = list(dict.fromkeys(int(c) for c in cells))[: self.top_cells]
        rows = np.flatnonzero(np.isin(self.cell, wanted))
        if len(rows) == 0:
            return None
        sims = self.embeddings[rows] @ query
        best = int(np.argmax(sims))
        return int(rows[best]), float(sims[best])


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
