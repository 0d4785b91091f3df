"""Geocells: the classes of a geolocation classifier.

Two kinds, both with a centroid (degrees) per cell and both deterministic:

* semantic cells (:func:`semantic_cells`): the countries or admin-1 regions that
  occur in the training coordinates, centroid = mean of their training points;
* data-driven cells (:func:`kmeans_cells`): spherical k-means over the training
  coordinates (as 3-D unit vectors), level ``"cell"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.geo.distance import from_vectors, to_unit_vectors
from geoscope_core.geo.gazetteer import Gazetteer, get_gazetteer
from geoscope_core.geo.nearest import NearestTree

#: Levels whose cells are gazetteer places (assigned by reverse geocoding).
SEMANTIC_LEVELS: tuple[str, ...] = ("country", "admin1")
#: Level name of k-means cells.
KMEANS_LEVEL = "cell"

_CHUNK = 8192
#: Above this many centroids, nearest-centroid search uses a KD-tree.
_BRUTE_MAX = 64
#: k-means++ seeding looks at most this many distinct points.
_SEED_SAMPLE = 20000


def _coords(lats: ArrayLike, lons: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    la = np.atleast_1d(np.asarray(lats, dtype=np.float64))
    lo = np.atleast_1d(np.asarray(lons, dtype=np.float64))
    if la.ndim != 1 or la.shape != lo.shape:
        raise DataError(f"lats and lons must be 1-D arrays of one length: {la.shape} {lo.shape}")
    bad = ~(np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90.0) & (np.abs(lo) <= 180.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"invalid coordinate at index {i}: ({la[i]}, {lo[i]})")
    return la, lo


def _nearest_centroid(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index int64 [N] of the nearest centroid [K, 3] for unit vectors [N, 3]
    (smallest chord = smallest great-circle distance). Centroids need not be unit
    length; they are normalised first."""
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    c = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
    if len(c) <= _BRUTE_MAX:
        out = np.empty(len(points), dtype=np.int64)
        for s in range(0, len(points), _CHUNK):
            out[s : s + _CHUNK] = np.argmax(points[s : s + _CHUNK] @ c.T, axis=1)
        return out
    return NearestTree(c).query(points)[0]


@dataclass(frozen=True, eq=False)
class CellSet:
    """An ordered set of cells (one classifier output per cell).

    ``lat``/``lon``: centroids float64 [K] in degrees. ``parents``: the id of each
    cell's enclosing place (a country code for admin-1 and k-means cells, a continent
    code for countries). ``populations``: gazetteer population (0 for k-means cells).
    ``counts``: training points per cell. The last three may be empty.
    """

    level: str
    ids: tuple[str, ...]
    names: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray
    country_codes: tuple[str, ...]
    parents: tuple[str | None, ...] = ()
    populations: tuple[int, ...] = ()
    counts: tuple[int, ...] = ()
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.level:
            raise ConfigError("a CellSet needs a level name")
        lat = np.array(self.lat, dtype=np.float64)
        lon = np.array(self.lon, dtype=np.float64)
        k = len(self.ids)
        if k == 0:
            raise ConfigError("a CellSet needs at least one cell")
        if lat.shape != (k,) or lon.shape != (k,):
            raise ConfigError(f"lat/lon must have shape ({k},): {lat.shape} {lon.shape}")
        for name in ("names", "country_codes"):
            if len(getattr(self, name)) != k:
                raise ConfigError(f"{name} has {len(getattr(self, name))} entries for {k} cells")
        for name in ("parents", "populations", "counts"):
            if len(getattr(self, name)) not in (0, k):
                raise ConfigError(f"{name} has {len(getattr(self, name))} entries for {k} cells")
        if len(set(self.ids)) != k:
            raise ConfigError("cell ids must be unique")
        if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
            raise ConfigError("cell centroids must be finite")
        lat.setflags(write=False)
        lon.setflags(write=False)
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "_index", {cid: i for i, cid in enumerate(self.ids)})

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, cell_id: str) -> int:
        """Position of a cell id; DataError if absent."""
        try:
            return self._index[cell_id]
        except KeyError as e:
            raise DataError(f"no cell {cell_id!r} at level {self.level!r}") from e

    def assign(self, lats: ArrayLike, lons: ArrayLike) -> np.ndarray:
        """Cell index int64 [N] for each point (degrees) [N].

        Semantic levels: the cell of the place that contains the point's nearest city
        (reverse geocoding), or the nearest centroid when that place has no cell. Other
        levels: the nearest centroid in great-circle distance.
        """
        la, lo = _coords(lats, lons)
        points = to_unit_vectors(la, lo) if len(la) else np.zeros((0, 3))
        nearest = _nearest_centroid(points, to_unit_vectors(self.lat, self.lon))
        if self.level not in SEMANTIC_LEVELS or len(la) == 0:
            return nearest
        ids = get_gazetteer().ids_at(la, lo, self.level)
        found = np.array([self._index.get(cid, -1) for cid in ids], dtype=np.int64)
        return np.where(found >= 0, found, nearest)

    def labels(self) -> list[dict[str, Any]]:
        """Bundle label rows ``{id, name, parent, lat, lon, population, country_code}``."""
        k = len(self.ids)
        parents = self.parents or (None,) * k
        pops = self.populations or (0,) * k
        return [
            {
                "id": self.ids[i],
                "name": self.names[i],
                "parent": parents[i],
                "lat": float(self.lat[i]),
                "lon": float(self.lon[i]),
                "population": int(pops[i]),
                "country_code": self.country_codes[i],
            }
            for i in range(k)
        ]

    @classmethod
    def from_labels(cls, level: str, rows: list[dict[str, Any]]) -> CellSet:
        """Rebuild a CellSet from bundle/checkpoint label rows (see :meth:`labels`).

        Raises DataError for rows lacking a field or holding a non-number coordinate,
        ConfigError for an inconsistent set (e.g. duplicate ids)."""
        try:
            ids = tuple(str(r["id"]) for r in rows)
            names = tuple(str(r["name"]) for r in rows)
            lat = np.array([float(r["lat"]) for r in rows])
            lon = np.array([float(r["lon"]) for r in rows])
            country_codes = tuple(str(r.get("country_code") or "") for r in rows)
            parents = tuple(r.get("parent") for r in rows)
            populations = tuple(int(r.get("population") or 0) for r in rows)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DataError(f"malformed {level!r} label rows: {e!r}") from e
        return cls(level, ids, names, lat, lon, country_codes, parents, populations)


def semantic_cells(
    gaz: Gazetteer, level: str, lats: ArrayLike, lons: ArrayLike, min_samples: int = 1
) -> CellSet:
    """Country or admin-1 cells that hold at least ``min_samples`` of the training points
    (degrees) [N], sorted by id; centroid = spherical mean of the cell's training points.

    Points whose nearest city has no admin-1 region count for no admin-1 cell.
    """
    if level not in SEMANTIC_LEVELS:
        raise ConfigError(f"semantic cells are {SEMANTIC_LEVELS}, not {level!r}")
    if min_samples < 1:
        raise ConfigError(f"min_samples must be >= 1, got {min_samples}")
    la, lo = _coords(lats, lons)
    if len(la) == 0:
        raise DataError("no training coordinates to build cells from")
    ids = np.array(gaz.ids_at(la, lo, level), dtype=object)
    uniq, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    keep = (counts >= min_samples) & (uniq != "")
    if not keep.any():
        raise DataError(f"no {level} has >= {min_samples} training points")
    vec = to_unit_vectors(la, lo)
    sums = np.stack(
        [np.bincount(inverse, weights=vec[:, d], minlength=len(uniq)) for d in (0, 1, 2)], 1
    )
    c_lat, c_lon = from_vectors(sums[keep])
    places = [gaz.get(str(cid), level=level) for cid in uniq[keep]]
    return CellSet(
        level=level,
        ids=tuple(p.id for p in places),
        names=tuple(p.name for p in places),
        lat=c_lat,
        lon=c_lon,
        country_codes=tuple(p.country_code for p in places),
        parents=tuple(p.parent for p in places),
        populations=tuple(p.population for p in places),
        counts=tuple(int(c) for c in counts[keep]),
    )


def _kmeans_pp(
    points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """k-means++ seeding on unit vectors [N, 3] with multiplicities [N]; centroid rows [k, 3].

    Seeds from at most ``_SEED_SAMPLE`` points (a deterministic random subset) so seeding
    stays O(k * _SEED_SAMPLE) for large inputs."""
    if len(points) > _SEED_SAMPLE:
        pick = np.sort(rng.choice(len(points), size=_SEED_SAMPLE, replace=False))
        points, weights = points[pick], weights[pick]
    cum = np.cumsum(weights)
    first = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(points) - 1)
    centers = np.empty((k, 3))
    centers[0] = points[first]
    d2 = np.maximum(2.0 - 2.0 * (points @ points[first]), 0.0)  # squared chord
    for j in range(1, k):
        cum = np.cumsum(weights * d2)
        if cum[-1] > 0:
            nxt = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
            nxt = min(nxt, len(points) - 1)
        else:
            nxt = int(np.argmax(d2))
        centers[j] = points[nxt]
        np.minimum(d2, np.maximum(2.0 - 2.0 * (points @ points[nxt]), 0.0), out=d2)
    return centers


def kmeans_cells(
    lats: ArrayLike,
    lons: ArrayLike,
    k: int,
    seed: int = 0,
    gaz: Gazetteer | None = None,
    max_iter: int = 100,
    tol: float = 1e-4,
    weights: ArrayLike | None = None,
) -> CellSet:
    """Data-driven cells: spherical k-means (k-means++ seeding from ``seed``) over the
    training points (degrees) [N], level ``"cell"``; ``weights`` [N] (default 1 each)
    say how much each point pulls (e.g. :func:`geoscope_core.geo.balance.place_weights`,
    so that a dense place does not take the cells the rest of the world needs).

    ``k`` is capped at the number of distinct points; the result is the same for the
    same inputs and seed. Iterations stop when at most a ``tol`` fraction of the points
    changes cell, or after ``max_iter``. Cells are sorted north to south, then west to east, named
    after the nearest gazetteer city to their centroid ("Split, Croatia"), and carry
    that city's country as ``country_codes``/``parents``. ``gaz`` defaults to
    :func:`get_gazetteer`.
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    if not 0.0 <= tol < 1.0:
        raise ConfigError(f"tol must be in [0, 1), got {tol}")
    if max_iter < 1:
        raise ConfigError(f"max_iter must be >= 1, got {max_iter}")
    la, lo = _coords(lats, lons)
    if len(la) == 0:
        raise DataError("no training coordinates to build cells from")
    uniq, inverse = np.unique(np.stack([la, lo], axis=1), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    per_point = np.ones(len(la)) if weights is None else np.asarray(weights, dtype=np.float64)
    if per_point.shape != la.shape or not (np.isfinite(per_point).all() and per_point.min() > 0):
        raise DataError("kmeans weights must be positive and one per point")
    points = to_unit_vectors(uniq[:, 0], uniq[:, 1])
    weights = np.bincount(inverse, weights=per_point, minlength=len(uniq))
    mult = np.bincount(inverse, minlength=len(uniq))
    k = min(k, len(points))
    rng = np.random.default_rng(seed)
    centers = _kmeans_pp(points, weights, k, rng)
    assign = _nearest_centroid(points, centers)
    for _ in range(max_iter):
        sums = np.stack(
            [np.bincount(assign, weights=points[:, d] * weights, minlength=k) for d in (0, 1, 2)], 1
        )
        norms = np.linalg.norm(sums, axis=1)
        empty = norms < 1e-12
        centers = np.where(empty[:, None], centers, sums / np.where(empty, 1.0, norms)[:, None])
        if empty.any():
            # re-seed empty cells at the points worst served by their current centroid
            fit = np.einsum("ij,ij->i", points, centers[assign])
            worst = np.argsort(fit, kind="stable")[: int(empty.sum())]
            centers[np.flatnonzero(empty)] = points[worst]
        new_assign = _nearest_centroid(points, centers)
        moved = float(weights[new_assign != assign].sum()) / float(weights.sum())
        assign = new_assign
        if moved <= tol and not empty.any():
            break
    counts = np.bincount(assign, weights=mult, minlength=k).astype(np.int64)
    c_lat, c_lon = from_vectors(centers)
    order = np.lexsort((c_lon, -c_lat))
    c_lat, c_lon, counts = c_lat[order], c_lon[order], counts[order]
    gaz = gaz if gaz is not None else get_gazetteer()
    near = gaz.reverse_many(c_lat, c_lon)
    return CellSet(
        level=KMEANS_LEVEL,
        ids=tuple(f"cell-{i:04d}" for i in range(k)),
        names=tuple(f"{r.city.name}, {r.country.name}" for r in near),
        lat=c_lat,
        lon=c_lon,
        country_codes=tuple(r.country.id for r in near),
        parents=tuple(r.country.id for r in near),
        populations=(0,) * k,
        counts=tuple(int(c) for c in counts),
    )
