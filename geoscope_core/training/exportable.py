"""What a trained model offers the exporter (``geoscope_export``).

Every model that ``geoscope_core.training.checkpoint.load_checkpoint`` returns
satisfies ``ExportableModel``. The exporter never looks inside a model beyond
this protocol, so new architectures need no exporter changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:  # torch stays out of import time
    import numpy as np
    from torch import nn

    from geoscope_core.runtime.manifest import PreprocessSpec


@runtime_checkable
class ExportableModel(Protocol):
    #: "classifier": logits over geocells per level; "zero-shot": image/text embeddings.
    kind: Literal["classifier", "zero-shot"]

    #: how a photo becomes its input (square side, crop, interpolation, and the 0-1 scale
    #: mean/std its graph normalises with): what training's view 0 made; the manifest's
    #: ``input``.
    @property
    def preprocess(self) -> PreprocessSpec: ...

    #: width of the shared embedding (zero-shot) or of the penultimate features (classifier).
    embedding_dim: int
    #: zero-shot: logits = logit_scale * <image, text>; classifier: 1.0
    logit_scale: float

    def image_module(self) -> nn.Module:
        """A module taking uint8 RGB pixels [N, H, W, 3] (H = W = preprocess.size), returning a
        tuple of float32 tensors named by ``image_output_names`` in that order. It does the
        cast, NHWC->NCHW, /255 and mean/std normalisation itself. "embedding" [N, D] is
        always first and L2-normalised; a classifier adds "logits_<level>" [N, n_level]."""
        ...

    def image_output_names(self) -> list[str]: ...

    def level_labels(self) -> dict[str, list[dict[str, Any]]]:
        """Classifier: for each level name (in hierarchy order) its labels as
        ``{id, name, parent, lat, lon, population, country_code}`` dicts, one per logit.
        Zero-shot: {} (the exporter builds label sets from the gazetteer)."""
        ...

    # -- zero-shot only ------------------------------------------------------------
    def text_module(self) -> nn.Module:
        """Module (input_ids int64 [N, L], attention_mask int64 [N, L]) -> embedding
        float32 [N, D], L2-normalised."""
        ...

    def tokenizer_json(self) -> str:
        """The HF ``tokenizers`` JSON of the text tower (saved as tokenizer.json)."""
        ...

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """float32 [len(texts), D] L2-normalised text embeddings (PyTorch, eval mode)."""
        ...
