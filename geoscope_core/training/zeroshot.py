"""Hierarchical zero-shot geolocation with a CLIP-like model.

Country first: each country's label embedding is the normalised mean of its
caption-prompt embeddings (``geo.captions.prompts_for``); the image is scored
against all countries. Then, within the ``top_countries`` best countries, against
their ``top_cities`` most populous cities (StreetCLIP's refinement). The answer is
the city maximising log p(country) + log p(city | country), or the country centroid
when the gazetteer knows no city for it. Output positions are in degrees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from geoscope_core.geo.captions import label_embeddings
from geoscope_core.geo.gazetteer import Gazetteer
from geoscope_core.geo.place import Place


@dataclass(frozen=True)
class ZeroShotGuess:
    """One decoded image: position (degrees), country code, chosen place id, p(country)."""

    lat: float
    lon: float
    country_code: str
    place_id: str
    country_prob: float


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class ZeroShotDecoder:
    """Scores image embeddings against gazetteer label embeddings, coarse to fine.

    ``embed_texts``: texts -> float32 [n, D] L2-normalised embeddings (in the image
    embeddings' space). Country embeddings are computed on the first ``decode``;
    city embeddings per country on first need, then reused.
    """

    def __init__(
        self,
        gaz: Gazetteer,
        embed_texts: Callable[[list[str]], np.ndarray],
        top_countries: int = 3,
        top_cities: int = 30,
        countries: Sequence[Place] | None = None,
    ) -> None:
        self.gaz = gaz
        self.embed_texts = embed_texts
        self.top_countries = top_countries
        self.top_cities = top_cities
        self.countries = list(countries) if countries is not None else None
        self._country_emb: np.ndarray | None = None
        self._cities: dict[str, tuple[list[Place], np.ndarray]] = {}

    def _label_embeddings(self, places: Sequence[Place]) -> np.ndarray:
        return label_embeddings(self.embed_texts, places, self.gaz)

    def country_embeddings(self) -> np.ndarray:
        """float32 [n_countries, D] label embeddings, in ``self.countries`` order."""
        if self.countries is None:
            self.countries = self.gaz.countries()
        if self._country_emb is None:
            self._country_emb = self._label_embeddings(self.countries)
        return self._country_emb

    def _city_set(self, code: str) -> tuple[list[Place], np.ndarray]:
        if code not in self._cities:
            cities = self.gaz.top_cities(code, n=self.top_cities)
            emb = self._label_embeddings(cities) if cities else np.zeros((0, 1), np.float32)
            self._cities[code] = (cities, emb)
        return self._cities[code]

    def country_log_probs(self, image_emb: np.ndarray, logit_scale: float) -> np.ndarray:
        """log p(country) float [N, n_countries] for image embeddings [N, D]."""
        return _log_softmax(logit_scale * image_emb @ self.country_embeddings().T)

    def decode(self, image_emb: np.ndarray, logit_scale: float) -> list[ZeroShotGuess]:
        """One guess per row of ``image_emb`` float [N, D] (L2-normalised)."""
        lp = self.country_log_probs(image_emb, logit_scale)
        countries = self.countries if self.countries is not None else []
        k = min(self.top_countries, lp.shape[1])
        top = np.argsort(-lp, axis=1)[:, :k]
        out: list[ZeroShotGuess] = []
        for i in range(len(image_emb)):
            best: tuple[float, Place] | None = None
            for c in top[i]:
                country = countries[c]
                cities, emb = self._city_set(country.country_code or country.id)
                if not cities:
                    cand = (float(lp[i, c]), country)
                else:
                    lc = _log_softmax(logit_scale * emb @ image_emb[i])
                    j = int(np.argmax(lc))
                    cand = (float(lp[i, c] + lc[j]), cities[j])
                if best is None or cand[0] > best[0]:
                    best = cand
            place = best[1]  # type: ignore[index]
            cc = place.country_code or place.id
            out.append(
                ZeroShotGuess(place.lat, place.lon, cc, place.id, float(np.exp(lp[i, top[i, 0]])))
            )
        return out
