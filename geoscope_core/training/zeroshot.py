"""Zero-shot validation decodes as a zero-shot bundle does.

The label sets are the exporter's (``geo.labelsets``: every country, then each
country's ``top_cities`` most populous cities), their embeddings
``geo.captions.label_embeddings`` in the model's current text space, and the decoder
the runtime's own (``runtime.decoding.Decoder``): a beam of ``top_countries``
countries, each expanded into its cities with p(city) = p(country) p(city | country),
so the best city maximises log p(country) + log p(city | country); a country with no
city in the gazetteer stays as its centroid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from geoscope_core.geo.captions import label_embeddings
from geoscope_core.geo.gazetteer import Gazetteer
from geoscope_core.geo.labelsets import level_rows, zero_shot_places
from geoscope_core.runtime.decoding import Decoder
from geoscope_core.runtime.manifest import BundleKind, DecodingSpec

#: The levels training's zero-shot validation decodes.
LEVELS = ("country", "city")


def zero_shot_decoder(
    gaz: Gazetteer,
    embed_texts: Callable[[list[str]], np.ndarray],
    logit_scale: float,
    top_countries: int = 3,
    top_cities: int = 30,
) -> Decoder:
    """The runtime decoder over country and city labels embedded with ``embed_texts``
    (texts -> float32 [n, D] L2-normalised embeddings in the image embeddings' space)."""
    places = zero_shot_places(gaz, LEVELS, top_cities)
    rows = level_rows(places)
    embeddings = {lv: label_embeddings(embed_texts, places[lv], gaz) for lv in LEVELS}
    decoding = DecodingSpec(beam=top_countries, cities_per_country=top_cities)
    return Decoder.for_labels(
        BundleKind.ZERO_SHOT, rows, embeddings, logit_scale=logit_scale, decoding=decoding
    )
