"""Label sets and their text embeddings for zero-shot bundles.

Follows open_clip's ``build_zero_shot_classifier``: every class is captioned
with all templates of its level, each caption embedding is L2-normalised, the
class embedding is their mean, L2-normalised again. Stored as float16.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from geoscope_core.errors import ExportError
from geoscope_core.geo.gazetteer import Gazetteer
from geoscope_core.geo.place import Place

log = logging.getLogger(__name__)

#: texts -> float32 [len(texts), D] embeddings (the model's ``encode_text``).
TextEncoder = Callable[[list[str]], np.ndarray]


def zero_shot_places(
    gaz: Gazetteer, levels: Sequence[str], cities_per_country: int = 30
) -> dict[str, list[Place]]:
    """The places of each level: every country, every admin-1 region, and the
    ``cities_per_country`` most populous cities of each country."""
    out: dict[str, list[Place]] = {}
    countries = gaz.countries()
    for level in levels:
        if level == "country":
            out[level] = countries
        elif level == "admin1":
            out[level] = gaz.admin1()
        elif level == "city":
            out[level] = [
                city
                for country in countries
                for city in gaz.top_cities(country.country_code, n=cities_per_country)
            ]
        else:
            raise ExportError(f"no zero-shot label set for level {level!r}")
        if not out[level]:
            raise ExportError(f"the gazetteer has no places at level {level!r}")
    return out


def level_rows(places: dict[str, list[Place]]) -> dict[str, list[dict[str, Any]]]:
    """Bundle label rows per level. A row's ``parent`` names a label of the level
    above that is in the bundle: a city whose admin-1 region is not shipped points
    at its country instead."""
    rows: dict[str, list[dict[str, Any]]] = {}
    shipped: set[str] = set()
    for level, level_places in places.items():
        level_rows_: list[dict[str, Any]] = []
        for place in level_places:
            row = place.to_label()
            if shipped and row.get("parent") not in shipped and place.country_code in shipped:
                row["parent"] = place.country_code
            level_rows_.append(row)
        rows[level] = level_rows_
        shipped |= {p.id for p in level_places}
    return rows


def class_embeddings(
    encode_text: TextEncoder,
    prompts: Sequence[Sequence[str]],
    batch_size: int = 256,
) -> np.ndarray:
    """float32 [len(prompts), D]: per class the L2-normalised mean of its L2-normalised
    prompt embeddings (open_clip's zero-shot classifier recipe)."""
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ExportError("every class needs at least one prompt")
    flat = [text for class_prompts in prompts for text in class_prompts]
    chunks = []
    for start in range(0, len(flat), batch_size):
        emb = np.asarray(encode_text(flat[start : start + batch_size]), dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(flat[start : start + batch_size]):
            raise ExportError(f"encode_text returned shape {emb.shape} for a batch of texts")
        chunks.append(emb)
    emb = np.concatenate(chunks)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    bounds = np.cumsum([0, *(len(p) for p in prompts)])
    means = np.add.reduceat(emb, bounds[:-1], axis=0) / np.diff(bounds)[:, None]
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    if not np.all(np.isfinite(means)) or np.any(norms < 1e-6):
        raise ExportError("label embeddings are degenerate (NaN or templates cancel out)")
    return (means / norms).astype(np.float32)


def label_embeddings(
    encode_text: TextEncoder,
    places: Sequence[Place],
    gaz: Gazetteer,
    batch_size: int = 256,
) -> np.ndarray:
    """float32 [len(places), D] zero-shot class embeddings averaged over ``prompts_for``."""
    from geoscope_core.geo.captions import prompts_for

    prompts = [prompts_for(place, gaz) for place in places]
    log.info(
        "encoding %d captions for %d %s labels",
        sum(map(len, prompts)),
        len(places),
        places[0].level if places else "?",
    )
    return class_embeddings(encode_text, prompts, batch_size=batch_size)


def to_float16(embeddings: np.ndarray) -> np.ndarray:
    """float16 copy for storage; raises ExportError if values overflow float16."""
    half = embeddings.astype(np.float16)
    if not np.all(np.isfinite(half)):
        raise ExportError("label embeddings overflow float16")
    return half
