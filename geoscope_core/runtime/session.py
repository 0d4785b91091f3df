"""ONNX Runtime execution providers and the one place sessions are opened."""

from __future__ import annotations

import enum
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from geoscope_core.errors import BundleError, ProviderError

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)

_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"


class Provider(str, enum.Enum):
    """Where a model runs: AUTO (CUDA when this ONNX Runtime has it, else CPU), CPU or CUDA."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"

    @classmethod
    def parse(cls, name: str | Provider) -> Provider:
        """The provider called ``name``; ProviderError for an unknown name."""
        try:
            return cls(name)
        except ValueError as e:
            names = ", ".join(p.value for p in cls)
            raise ProviderError(f"unknown provider {name!r} ({names})") from e

    def ort_providers(self) -> list[str]:
        """ONNX Runtime provider names of a resolved (CPU or CUDA) provider, in order."""
        if self is Provider.AUTO:
            raise ProviderError("resolve the automatic provider first (Provider.resolve)")
        return [_CUDA, _CPU] if self is Provider.CUDA else [_CPU]

    def resolve(self) -> Provider:
        """CPU or CUDA: AUTO picks CUDA when available; CUDA that is not available raises."""
        import onnxruntime as ort

        available = ort.get_available_providers()
        if self is Provider.AUTO:
            return Provider.CUDA if _CUDA in available else Provider.CPU
        if self is Provider.CUDA and _CUDA not in available:
            raise ProviderError(
                "CUDA was requested but this ONNX Runtime has no CUDAExecutionProvider "
                f"(available: {', '.join(available)}); install onnxruntime-gpu with a "
                "working CUDA setup, or use --provider cpu"
            )
        return self


#: Provider names as the command line and the app offer them.
PROVIDER_NAMES: tuple[str, ...] = tuple(p.value for p in Provider)


def physical_cores() -> int:
    """Physical CPU cores available to this process (logical count halved when SMT is on)."""
    try:
        logical = len(os.sched_getaffinity(0))
    except AttributeError:
        logical = os.cpu_count() or 1
    try:
        import psutil

        phys = psutil.cpu_count(logical=False) or logical
        total = psutil.cpu_count(logical=True) or logical
        return max(1, min(logical, round(logical * phys / total)))
    except ImportError:
        return max(1, logical)


def open_session(
    path: Path,
    provider: Provider = Provider.CPU,
    threads: int = 0,
    scan_tuned: bool = False,
) -> ort.InferenceSession:
    """An ONNX Runtime session of the model at ``path`` on a resolved ``provider``.

    ``threads``: intra-op threads (0 = ONNX Runtime's default, or the physical cores
    when ``scan_tuned``). ``scan_tuned`` sets what a scan needs beside its decode
    threads: full graph optimisation, no memory patterns (the full and the last batch
    differ in shape; off, the default bundle's session peaks 73 MB lower at about the
    same speed) and no busy-waiting. Raises BundleError when ONNX Runtime cannot load
    the file, ProviderError when CUDA was asked for and failed to initialise.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if scan_tuned:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = threads or physical_cores()
        opts.enable_mem_pattern = False
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), opts, providers=provider.ort_providers())
    except Exception as e:  # onnxruntime raises its own untyped errors
        raise BundleError(f"ONNX Runtime cannot load {Path(path).name}: {e}") from e
    if provider is Provider.CUDA and _CUDA not in session.get_providers():
        raise ProviderError("CUDAExecutionProvider failed to initialise (see ORT log)")
    return session
