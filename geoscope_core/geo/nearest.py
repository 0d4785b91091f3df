"""Exact nearest-point search over 3-D unit vectors: the one KD-tree of the gazetteer's
reverse geocoding and of the geocells' nearest centroid (numpy and pykdtree).

On the unit sphere the smallest chord is the smallest great-circle distance, so a
Euclidean KD-tree over :func:`~geoscope_core.geo.distance.to_unit_vectors` is exact.

pykdtree (a small, well-kept C extension) rather than ``scipy.spatial.cKDTree``:
importing ``scipy.spatial`` imports ``scipy.sparse`` and ``scipy.linalg`` with it, about
0.5 s of CPU that every scan paid before it named its first place; pykdtree imports in a
few milliseconds, builds the cities' tree three times faster, and gives the same chord
lengths, bit for bit. Its queries run on OpenMP threads; here a query runs on the calling
thread alone, as cKDTree's did: callers ask a few points at a time on cores a scan's
decoders already use, and starting and spinning the OpenMP threads cost a one-point
query 140 µs of CPU instead of 8 µs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from pykdtree.kdtree import KDTree
from threadpoolctl import ThreadpoolController

from geoscope_core.errors import DataError


class NearestTree:
    """A KD-tree over points float64 [N, 3] (unit vectors, or any 3-D points).

    Of points that are exactly equal, a query may answer any one; callers that need one
    answer per location pass distinct points.
    """

    def __init__(self, points: ArrayLike) -> None:
        data = np.ascontiguousarray(points, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != 3 or len(data) == 0:
            raise DataError(f"a NearestTree needs points of shape (N>0, 3), got {data.shape}")
        self._tree = KDTree(data)
        # pykdtree's OpenMP runtime is loaded by now, so the controller finds it
        self._openmp = ThreadpoolController().select(internal_api="openmp")

    def query(self, points: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """For points [M, 3] (or one point [3]): the index int64 [M] of the nearest tree
        point and the Euclidean distance float64 [M] to it (the chord, for unit vectors)."""
        q = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
        with self._openmp.limit(limits=1):
            dist, idx = self._tree.query(q, k=1)
        return idx.astype(np.int64), np.asarray(dist, dtype=np.float64)
