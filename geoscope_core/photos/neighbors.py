"""Learning from the user's own GPS-tagged photos by look (numpy only, no torch).

:class:`VisualGallery` holds L2-normalised image embeddings of the tagged photos;
:meth:`VisualGallery.blend` finds the most similar ones (cosine similarity), forms a
similarity-weighted location and blends it with the model's prediction
(``Source.NEIGHBORS`` when the gallery leads). The gallery's weight is a logistic
function of the top similarity, so a near-duplicate view of a known place dominates
while a vaguely similar photo barely moves the model's estimate. (Photos near in time
to GPS photos are placed by the placement model, ``geoscope_core/placement``.)
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np

from geoscope_core.errors import ConfigError
from geoscope_core.geo.distance import haversine_km
from geoscope_core.geo.places import names_at
from geoscope_core.prediction import Prediction, Source

log = logging.getLogger(__name__)

#: Typical error of a phone/camera GPS fix, km.
GPS_ERROR_KM = 0.02
#: A gallery smaller than this cannot calibrate itself and never leads (weight 0):
#: fewer leave-one-out pairs say little (seen: 18 camera-sample photos, 9 of one town,
#: calibrated a threshold of 0.10, below the similarity of unrelated photos).
MIN_CALIBRATION_PHOTOS = 30
#: Neighbours farther than this (km) from the best one are another region: averaging
#: them in would put the answer between places (seen: Italy and Kenya -> Libya). Within a
#: region averaging hedges well (Croatia: median 105 km with it, 116 km at 100 km).
CLUSTER_KM = 500.0
FALLBACK_THRESHOLD = math.inf
#: Model name written for neighbour estimates.
TIME_MODEL = "time-neighbors"
VISUAL_MODEL = "visual-neighbors"


def _with_names(pred: Prediction) -> Prediction:
    """``pred`` named by the place that contains its own point (a neighbour's estimate is a
    new point: names the model gave another point do not carry over)."""
    n = names_at(pred.lat, pred.lon)
    return replace(
        pred, country_code=n.country_code, country=n.country, admin1=n.admin1, city=n.city
    )


class VisualGallery:
    """Similarity search over the user's GPS-tagged photos, blended with the model.

    ``embeddings`` float32 [N, D], L2-normalised (as ``Predictor.embed`` gives
    them); ``lats``/``lons`` [N] in degrees. ``k`` neighbours are used; their
    weights are ``softmax(similarity / temperature)``. The gallery's share of
    the blend is ``sigmoid((s1 - threshold) / width)`` with ``s1`` the top
    cosine similarity. ``threshold`` depends on the embedding model, so by
    default it is learnt from the gallery itself (:meth:`calibrate`, with
    ``good_km`` the distance that counts as a right neighbour); measured in
    ``bench/bench_neighbors.py``.
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        lats: np.ndarray,
        lons: np.ndarray,
        *,
        k: int = 5,
        temperature: float = 0.02,
        threshold: float | None = None,
        width: float = 0.03,
        good_km: float = 25.0,
    ) -> None:
        emb = np.asarray(embeddings, dtype=np.float32)
        lats = np.asarray(lats, dtype=np.float64).reshape(-1)
        lons = np.asarray(lons, dtype=np.float64).reshape(-1)
        if emb.ndim != 2 or emb.shape[0] != lats.shape[0] or lats.shape != lons.shape:
            raise ConfigError(
                f"gallery shapes disagree: embeddings {emb.shape}, lats {lats.shape}, "
                f"lons {lons.shape}"
            )
        if k < 1 or temperature <= 0 or width <= 0 or good_km <= 0:
            raise ConfigError("k must be >= 1; temperature, width, good_km must be positive")
        self._emb = emb
        self.lats = lats
        self.lons = lons
        self.k = k
        self.temperature = temperature
        self._threshold = threshold
        self.width = width
        self.good_km = good_km

    @property
    def threshold(self) -> float:
        """Top similarity at which the gallery gets half the weight (calibrated on first use
        when not given, see :meth:`calibrate`)."""
        if self._threshold is None:
            self._threshold = self.calibrate()
        return self._threshold

    def calibrate(self, max_queries: int = 2000) -> float:
        """Similarity threshold learnt from the gallery itself (leave-one-out).

        For (up to ``max_queries``) gallery photos, find the most similar other
        gallery photo; the threshold is the lowest top-1 similarity ``s*`` such
        that, among the photos whose top-1 similarity is at least ``s*``, at
        least half have that neighbour within ``good_km`` km and within a
        quarter of the median distance between two random gallery photos (so
        that in a library shot in one town, "right" means the same spot, not
        the same town). So the gallery leads exactly where a nearest neighbour is
        more often right than wrong for this library and this embedding model.
        With fewer than MIN_CALIBRATION_PHOTOS photos (too few to learn from) the
        threshold is FALLBACK_THRESHOLD (infinite: the gallery never leads; time
        neighbours still work).
        """
        n = len(self)
        if n < MIN_CALIBRATION_PHOTOS:
            return FALLBACK_THRESHOLD
        rng = np.random.default_rng(0)
        idx = np.sort(rng.choice(n, size=min(n, max_queries), replace=False))
        sims = self._emb[idx] @ self._emb.T
        sims[np.arange(len(idx)), idx] = -np.inf
        j = np.argmax(sims, axis=1)
        s = sims[np.arange(len(idx)), j]
        d = np.asarray(haversine_km(self.lats[idx], self.lons[idx], self.lats[j], self.lons[j]))
        # A right neighbour must say more than "somewhere in this library": within
        # good_km, and within a quarter of the typical distance between two gallery photos.
        perm = rng.permutation(idx)
        pair_km = haversine_km(self.lats[idx], self.lons[idx], self.lats[perm], self.lons[perm])
        typical = float(np.median(pair_km))
        good_radius = max(min(self.good_km, 0.25 * typical), GPS_ERROR_KM)
        order = np.argsort(-s)
        good = (d[order] <= good_radius).astype(np.float64)
        # Precision among the top-n, smoothed towards 1/4 by 5 pseudo-observations
        # so that one lucky match at the very top does not set the threshold.
        precision = (np.cumsum(good) + 1.25) / (np.arange(1, len(good) + 1) + 5.0)
        ok = np.nonzero(precision >= 0.5)[0]
        if len(ok) == 0:
            return float(s.max()) + 4 * self.width  # never leads: neighbours are not informative
        threshold = float(s[order][ok[-1]])
        log.info(
            "gallery of %d photos: similarity threshold %.3f (right within %.3g km)",
            n,
            threshold,
            good_radius,
        )
        return threshold

    def __len__(self) -> int:
        return int(self._emb.shape[0])

    def search(self, embedding: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices [k] and cosine similarities [k] of the nearest gallery photos, best first."""
        q = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if q.shape[0] != self._emb.shape[1]:
            raise ConfigError(f"embedding has {q.shape[0]} dims, gallery {self._emb.shape[1]}")
        sims = self._emb @ q
        k = min(self.k, len(sims))
        idx = np.argpartition(-sims, k - 1)[:k]
        idx = idx[np.argsort(-sims[idx])]
        return idx, sims[idx]

    def gallery_estimate(self, embedding: np.ndarray) -> tuple[float, float, float, float]:
        """``(lat, lon, radius_km, weight)``: the similarity-weighted location of the nearest
        gallery photos, their spread, and the gallery's blend weight (0-1)."""
        from geoscope_core.geo.distance import spherical_mean

        idx, sims = self.search(embedding)
        same_place = (
            haversine_km(self.lats[idx], self.lons[idx], self.lats[idx[0]], self.lons[idx[0]])
            <= CLUSTER_KM
        )
        idx, sims = idx[same_place], sims[same_place]
        z = (sims - sims[0]) / self.temperature
        w = np.exp(z)
        w /= w.sum()
        lat, lon = spherical_mean(self.lats[idx], self.lons[idx], w)
        d = np.asarray(haversine_km(self.lats[idx], self.lons[idx], lat, lon), dtype=np.float64)
        radius = GPS_ERROR_KM + float(np.sqrt((w * d**2).sum()))
        x = (float(sims[0]) - self.threshold) / self.width
        weight = 0.5 * (1.0 + math.tanh(x / 2.0))  # the logistic function, overflow-free
        return float(lat), float(lon), radius, weight

    def blend(self, embedding: np.ndarray, prediction: Prediction) -> Prediction:
        """Blend the model's ``prediction`` with the gallery evidence for ``embedding`` [D].

        When both locations agree (closer than the larger radius), the gallery is
        right with probability ``weight``, and then the two combine by precision
        (``1 / radius**2``, so a tight gallery cluster inside the model's error
        circle wins); otherwise the model's answer stands. The answer lies between
        the two cases, near the more probable one, so a gallery of low weight moves
        it little.
        When they disagree the gallery wins when its weight exceeds the model's
        confidence (both are probabilities of being right), else the model's
        prediction is kept. The result's source is NEIGHBORS
        when the gallery leads, else the model's prediction is returned with its
        location nudged (or unchanged).
        """
        if len(self) == 0:
            return prediction
        from geoscope_core.geo.distance import spherical_mean

        g_lat, g_lon, g_radius, wg = self.gallery_estimate(embedding)
        if wg < 0.01:
            return prediction
        sep = float(haversine_km(g_lat, g_lon, prediction.lat, prediction.lon))
        # Two probabilities of being right: the gallery's weight and the model's confidence.
        gallery_leads = wg > prediction.confidence
        if sep <= max(g_radius, prediction.radius_km):
            # Consistent evidence: if the gallery is right (probability wg) the two combine
            # by precision; if not, the model's answer stands. The answer moves between the
            # two cases by the odds-sharpened weight wg^2 / (wg^2 + (1 - wg)^2): towards
            # whichever case is the more probable, so it sits near one of them rather than
            # between them (0.3 -> 0.16, 0.5 -> 0.5, 0.96 -> 0.998).
            pg = 1.0 / max(g_radius, GPS_ERROR_KM) ** 2
            pm = 1.0 / max(prediction.radius_km, GPS_ERROR_KM) ** 2
            c_lat, c_lon = spherical_mean(
                [g_lat, prediction.lat], [g_lon, prediction.lon], [pg, pm]
            )
            pull = wg**2 / (wg**2 + (1.0 - wg) ** 2)
            lat, lon = spherical_mean(
                [c_lat, prediction.lat], [c_lon, prediction.lon], [pull, 1.0 - pull]
            )
            radius = pull * math.sqrt(1.0 / (pg + pm)) + (1.0 - pull) * prediction.radius_km
            confidence = wg + (1.0 - wg) * prediction.confidence
        elif gallery_leads:
            lat, lon, radius = g_lat, g_lon, g_radius
            confidence = wg * (1.0 - 0.5 * prediction.confidence)  # the model disagrees
        else:
            return prediction
        confidence = float(min(max(confidence, 0.0), 1.0))
        if gallery_leads:
            pred = Prediction(
                lat=float(lat),
                lon=float(lon),
                confidence=confidence,
                radius_km=float(radius),
                source=Source.NEIGHBORS,
                model=f"{VISUAL_MODEL}+{prediction.model}" if prediction.model else VISUAL_MODEL,
            )
            pred = _with_names(pred)
            return replace(pred, top_k=(pred.as_candidate(), *prediction.top_k))
        return replace(prediction, lat=float(lat), lon=float(lon), radius_km=float(radius),
                       confidence=confidence)  # fmt: skip
