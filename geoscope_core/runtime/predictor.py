"""Run a bundle's image encoder with ONNX Runtime and decode locations.

The session comes from ``runtime.session``; decoding (all parameters from the
bundle manifest) is ``runtime.decoding.Decoder``, the decoder training and export
use too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geoscope_core.errors import BundleError, ConfigError
from geoscope_core.prediction import Prediction
from geoscope_core.runtime.bundle import Bundle, load_bundle, onnx_io_problems
from geoscope_core.runtime.decoding import Decoder
from geoscope_core.runtime.manifest import IMAGE_ENCODER
from geoscope_core.runtime.session import Provider, open_session

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)


def average_views(
    names: list[str], outputs: list[np.ndarray], views: int, embedding: str
) -> list[np.ndarray]:
    """Encoder ``outputs`` (named ``names``) of N photos x ``views`` views each, [N * views,
    ...] photo-major, as one answer per photo [N, ...]: the mean over its views, and
    for the ``embedding`` output that mean re-normalised to unit length."""
    if views == 1:
        return outputs
    merged = []
    for name, out in zip(names, outputs, strict=True):
        mean = np.asarray(out, dtype=np.float32).reshape(-1, views, *out.shape[1:]).mean(axis=1)
        if name == embedding:
            mean /= np.maximum(np.linalg.norm(mean, axis=-1, keepdims=True), 1e-12)
        merged.append(mean)
    return merged


class Predictor:
    """One loaded bundle + ONNX Runtime session; shared by the CLI and the desktop app.

    Build with ``Predictor.load``; the constructor does no I/O.
    """

    def __init__(
        self, bundle: Bundle, session: ort.InferenceSession, provider: Provider, decoder: Decoder
    ) -> None:
        self.bundle = bundle
        self.session = session
        self.provider: str = provider.value  # "cpu" or "cuda"
        self.model_id = bundle.model_id
        m = bundle.manifest
        #: how a photo becomes this bundle's input (``runtime.images.preprocess``)
        self.preprocess = m.input
        self.input_size = m.input.size
        self._input_name = session.get_inputs()[0].name
        batch_dim = session.get_inputs()[0].shape[0]
        self._fixed_batch = batch_dim if isinstance(batch_dim, int) else 0
        self._emb_output = m.outputs.get("embedding", "embedding")
        self.decoder = decoder
        #: run with ONNX Runtime I/O binding (on CUDA: the batch goes to the device once,
        #: the outputs come back into buffers ORT allocates, no intermediate copies); turned
        #: off for good, with a warning, if a bound run fails
        self.io_binding = provider is Provider.CUDA

    # -- construction --------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        model: str | Path | None = None,
        provider: Provider | str = Provider.AUTO,
        threads: int = 0,
    ) -> Predictor:
        """Load and verify a bundle (name, folder or .zip; None = default) and open its
        image encoder. ``provider``: a ``Provider`` or its name: "auto" (CUDA when
        available, else CPU), "cpu" or "cuda" (ProviderError when unavailable).
        ``threads``: intra-op threads (0 = the machine's physical cores)."""
        resolved = Provider.parse(provider).resolve()
        bundle = load_bundle(model, verify=True)
        session = open_session(
            bundle.file(IMAGE_ENCODER), resolved, threads=threads, scan_tuned=True
        )
        problems = onnx_io_problems(bundle, session)
        if problems:
            raise BundleError(f"bundle {bundle.path} image encoder: " + "; ".join(problems))
        predictor = cls(bundle, session, resolved, Decoder.from_bundle(bundle))
        log.info("predictor %s on %s", predictor.model_id, resolved.value)
        return predictor

    # -- inference -----------------------------------------------------------------------
    def _run(self, pixels: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        """``outputs`` for uint8 pixels [N, S, S, 3], or [N, V, S, S, 3] (V views of each
        photo, as ``runtime.images.preprocess`` makes them: averaged per photo)."""
        s = self.input_size
        if pixels.dtype != np.uint8 or pixels.ndim not in (4, 5) or pixels.shape[-3:] != (s, s, 3):
            raise ConfigError(
                f"pixels must be uint8 [N, {s}, {s}, 3] or [N, views, {s}, {s}, 3], "
                f"got {pixels.dtype} {pixels.shape}"
            )
        if pixels.ndim == 5:
            views = pixels.shape[1]
            flat = self._run(pixels.reshape(-1, s, s, 3), outputs)
            return average_views(outputs, flat, views, self._emb_output)
        if self._fixed_batch and pixels.shape[0] != self._fixed_batch:
            parts = [
                self.session.run(outputs, {self._input_name: pixels[i : i + 1]})
                for i in range(pixels.shape[0])
            ]
            return [np.concatenate([p[j] for p in parts]) for j in range(len(outputs))]
        feed = np.ascontiguousarray(pixels)
        if self.io_binding:
            try:
                return self._run_bound(feed, outputs)
            except Exception as e:  # ORT's own exception types derive from Exception only
                log.warning("I/O binding failed (%s); running without it from now on", e)
                self.io_binding = False
        return self.session.run(outputs, {self._input_name: feed})

    def _run_bound(self, feed: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        """``session.run`` through an I/O binding: ``feed`` bound from host memory (copied to
        the provider's device once), ``outputs`` bound to host memory."""
        io = self.session.io_binding()
        io.bind_cpu_input(self._input_name, feed)
        for name in outputs:
            io.bind_output(name, "cpu")
        self.session.run_with_iobinding(io)
        return list(io.copy_outputs_to_cpu())

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """L2-normalised image embeddings float32 [N, D] of uint8 pixels [N, S, S, 3] (or
        [N, V, S, S, 3]: see ``_run``)."""
        (emb,) = self._run(pixels, [self._emb_output])
        return np.asarray(emb, dtype=np.float32)

    def predict(self, pixels: np.ndarray) -> list[Prediction]:
        """Predictions for uint8 RGB pixels [N, S, S, 3] (S = ``input_size``), or [N, V, S,
        S, 3] with V views of each photo (``runtime.images.preprocess``), averaged."""
        return self.predict_with_embeddings(pixels)[0]

    def predict_with_embeddings(self, pixels: np.ndarray) -> tuple[list[Prediction], np.ndarray]:
        """Predictions and L2-normalised embeddings float32 [N, D] in one encoder run."""
        if len(pixels) == 0:
            return [], np.zeros((0, self.bundle.manifest.embedding_dim), np.float32)
        names = [self._emb_output, *self.decoder.output_names()]
        outs = dict(zip(names, self._run(pixels, names), strict=True))
        emb = np.asarray(outs[self._emb_output], dtype=np.float32)
        logits = self.decoder.logits(outs, self._emb_output)
        return self.decoder.decode_many(logits, emb), emb

    def release_memory(self) -> None:
        """Hand back what ONNX Runtime's arena kept of the largest run so far (it keeps it
        for the next run of that size: ~150 MB for 8 photos of two views of the default
        bundle) through one run of a blank image with the arena's shrinkage on, which frees
        every chunk that run leaves unused. For a holder that waits between scans (the
        app); the next large run allocates again."""
        import onnxruntime as ort

        opts = ort.RunOptions()
        arenas = "cpu:0" if self.provider == Provider.CPU.value else "cpu:0;gpu:0"
        opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", arenas)
        s = self.input_size
        blank = np.zeros((self._fixed_batch or 1, s, s, 3), dtype=np.uint8)
        self.session.run([self._emb_output], {self._input_name: blank}, opts)

    def decode(self, logits: dict[str, np.ndarray]) -> Prediction:
        """Decode one image's per-level logits ({level: [n_level]}) into a Prediction."""
        return self.decoder.decode(logits)
