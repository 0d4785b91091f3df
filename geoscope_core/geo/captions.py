"""Synthetic captions for places, and the zero-shot label embeddings made from them.

Templates follow StreetCLIP ("A Street View photo close to the town of {city} in
the region of {region} in {country}.") plus ordinary-photo wording ("A photo
taken in ..."). Placeholders: ``{city}``, ``{region}`` (admin-1 name),
``{country}``, ``{continent}``. A part in square brackets is optional: it is
dropped when one of its placeholders has no value (a city without an admin-1
region, a country unknown to the gazetteer), so captions degrade gracefully
instead of printing "in the region of ." A region named like its city or
country is treated as missing ("close to the town of Singapore in Singapore").
"""

from __future__ import annotations

import contextlib
import logging
import re
import string
from collections.abc import Callable, Sequence

import numpy as np

from geoscope_core.errors import ConfigError, GazetteerError
from geoscope_core.geo.gazetteer import LEVELS, Gazetteer
from geoscope_core.geo.place import Place

log = logging.getLogger(__name__)

#: Caption templates per style, then per level (coarse to fine).
STYLE_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "streetview": {
        "continent": (
            "A Street View photo in {continent}.",
            "A Street View image of a road in {continent}.",
        ),
        "country": (
            "A Street View photo in {country}[, {continent}].",
            "A Street View image of a road in {country}.",
        ),
        "admin1": (
            "A Street View photo in the region of {region}[ in {country}].",
            "A Street View image of a road in {region}[, {country}].",
        ),
        "city": (
            "A Street View photo close to the town of {city}[ in the region of {region}]"
            "[ in {country}].",
            "A Street View image of a road near {city}[, {region}][, {country}].",
        ),
    },
    "photo": {
        "continent": (
            "A photo taken in {continent}.",
            "A travel photo from {continent}.",
        ),
        "country": (
            "A photo taken in {country}.",
            "A travel photo from {country}[ in {continent}].",
            "A photo of a landscape in {country}.",
        ),
        "admin1": (
            "A photo taken in {region}[, {country}].",
            "A travel photo from the region of {region}[ in {country}].",
        ),
        "city": (
            "A photo taken in {city}[, {region}][, {country}].",
            "A travel photo from {city}[ in {country}].",
            "A photo of a street in {city}[, {country}].",
        ),
    },
}

#: Every template of a level, all styles together (street view first), for prompt ensembles.
TEMPLATES: dict[str, tuple[str, ...]] = {
    level: tuple(t for style in STYLE_TEMPLATES.values() for t in style[level]) for level in LEVELS
}

_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_FORMATTER = string.Formatter()


def _fields_of(text: str) -> set[str]:
    return {name for _, name, _, _ in _FORMATTER.parse(text) if name}


def render(template: str, fields: dict[str, str]) -> str:
    """Fill a template: optional ``[...]`` parts whose placeholders are all non-empty are
    kept (without brackets), the others dropped. Raises ConfigError when a mandatory
    placeholder has no value."""

    def keep(m: re.Match[str]) -> str:
        part = m.group(1)
        return part if all(fields.get(f) for f in _fields_of(part)) else ""

    text = _OPTIONAL.sub(keep, template)
    missing = [f for f in _fields_of(text) if not fields.get(f)]
    if missing:
        raise ConfigError(f"template {template!r} needs {missing} but they are empty")
    return " ".join(text.format(**fields).split())


def place_fields(place: Place, gaz: Gazetteer) -> dict[str, str]:
    """``{city, region, country, continent}`` names for a place ("" where unknown)."""
    fields = {"city": "", "region": "", "country": "", "continent": ""}
    if place.level == "continent":
        fields["continent"] = place.name
        return fields
    cc = place.country_code
    if cc:
        with contextlib.suppress(GazetteerError):
            fields["country"] = gaz.country(cc).name
        with contextlib.suppress(GazetteerError):
            fields["continent"] = gaz.continent_of(cc).name
    if place.level == "country":
        fields["country"] = place.name
    elif place.level == "admin1":
        fields["region"] = place.name
    elif place.level == "city":
        fields["city"] = place.name
        if place.parent and place.parent != cc:
            try:
                parent = gaz.get(place.parent, level="admin1")
                fields["region"] = parent.name
            except GazetteerError:
                pass
    else:
        raise ConfigError(f"cannot caption a place of level {place.level!r}; expected {LEVELS}")
    if fields["region"] and fields["region"] in (fields["city"], fields["country"]):
        fields["region"] = ""
    return fields


_REQUIRED = {"continent": "continent", "country": "country", "admin1": "region", "city": "city"}


def _usable_level(fields: dict[str, str], level: str) -> str:
    """``level``, or the nearest coarser level whose mandatory name is known."""
    for lv in reversed(LEVELS[: LEVELS.index(level) + 1]):
        if fields.get(_REQUIRED[lv]):
            return lv
    raise ConfigError(f"no name known to caption this place at level {level!r}: {fields}")


def caption(
    place: Place,
    gaz: Gazetteer,
    rng: np.random.Generator | None = None,
    style: str = "streetview",
) -> str:
    """One caption for ``place``: the style's first template of the place's level, or a
    random one of them when ``rng`` is given. ``style``: "streetview" or "photo"."""
    templates = STYLE_TEMPLATES.get(style)
    if templates is None:
        raise ConfigError(f"unknown caption style {style!r}; expected {sorted(STYLE_TEMPLATES)}")
    fields = place_fields(place, gaz)
    options = templates[_usable_level(fields, place.level)]
    template = options[0] if rng is None else options[int(rng.integers(len(options)))]
    return render(template, fields)


def prompts_for(place: Place, gaz: Gazetteer) -> list[str]:
    """Every template of the place's level rendered for it (all styles, duplicates
    removed, order kept): the prompt ensemble averaged into one label embedding."""
    if place.level not in TEMPLATES:
        raise ConfigError(f"cannot caption a place of level {place.level!r}; expected {LEVELS}")
    fields = place_fields(place, gaz)
    level = _usable_level(fields, place.level)
    return list(dict.fromkeys(render(t, fields) for t in TEMPLATES[level]))


def caption_for_location(
    lat: float,
    lon: float,
    gaz: Gazetteer,
    level: str,
    rng: np.random.Generator | None = None,
    style: str = "streetview",
    max_city_km: float = 100.0,
) -> str:
    """Caption for a point (degrees) at ``level`` ("continent"|"country"|"admin1"|"city"),
    via reverse geocoding. Degrades to a coarser level where the finer place is unknown:
    "admin1" with no admin-1 region gives the country caption; "city" where the nearest
    city is more than ``max_city_km`` km away gives the admin-1 (or country) caption."""
    if level not in LEVELS:
        raise ConfigError(f"unknown caption level {level!r}; expected one of {LEVELS}")
    result = gaz.reverse(lat, lon)
    if level == "city" and result.distance_km > max_city_km:
        level = "admin1"
    place = gaz.place_at(result, level)
    if place is None:
        place = result.country
    return caption(place, gaz, rng=rng, style=style)


#: texts -> float32 [len(texts), D] embeddings (a model's ``encode_text``).
TextEncoder = Callable[[list[str]], np.ndarray]


def class_embeddings(
    encode_text: TextEncoder,
    prompts: Sequence[Sequence[str]],
    batch_size: int = 256,
) -> np.ndarray:
    """float32 [len(prompts), D]: per class the L2-normalised mean of its L2-normalised
    prompt embeddings (open_clip's zero-shot classifier recipe)."""
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ConfigError("every class needs at least one prompt")
    flat = [text for class_prompts in prompts for text in class_prompts]
    chunks = []
    for start in range(0, len(flat), batch_size):
        emb = np.asarray(encode_text(flat[start : start + batch_size]), dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(flat[start : start + batch_size]):
            raise ConfigError(f"encode_text returned shape {emb.shape} for a batch of texts")
        chunks.append(emb)
    emb = np.concatenate(chunks)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    bounds = np.cumsum([0, *(len(p) for p in prompts)])
    means = np.add.reduceat(emb, bounds[:-1], axis=0) / np.diff(bounds)[:, None]
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    if not np.all(np.isfinite(means)) or np.any(norms < 1e-6):
        raise ConfigError("label embeddings are degenerate (NaN or templates cancel out)")
    return (means / norms).astype(np.float32)


def label_embeddings(
    encode_text: TextEncoder,
    places: Sequence[Place],
    gaz: Gazetteer,
    batch_size: int = 256,
) -> np.ndarray:
    """float32 [len(places), D] zero-shot class embeddings averaged over ``prompts_for``."""
    prompts = [prompts_for(place, gaz) for place in places]
    log.info(
        "encoding %d captions for %d %s labels",
        sum(map(len, prompts)),
        len(places),
        places[0].level if places else "?",
    )
    return class_embeddings(encode_text, prompts, batch_size=batch_size)
