"""Label sets of zero-shot bundles and their float16 storage.

The label sets are ``geo.labelsets`` and their embeddings
``geo.captions.label_embeddings`` (open_clip's ``build_zero_shot_classifier``
recipe): the ones training's zero-shot validation decodes with too.
"""

from __future__ import annotations

import logging

import numpy as np

from geoscope_core.errors import ExportError
from geoscope_core.geo.captions import TextEncoder, class_embeddings, label_embeddings

log = logging.getLogger(__name__)

__all__ = [
    "TextEncoder",
    "class_embeddings",
    "label_embeddings",
    "to_float16",
]


def to_float16(embeddings: np.ndarray) -> np.ndarray:
    """float16 copy for storage; raises ExportError if values overflow float16."""
    half = embeddings.astype(np.float16)
    if not np.all(np.isfinite(half)):
        raise ExportError("label embeddings overflow float16")
    return half
