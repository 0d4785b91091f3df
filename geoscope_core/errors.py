"""One exception hierarchy for the whole project.

Library code raises these (chained with ``from e``); only the edges (the CLI's
per-file loop, a Qt slot) catch broadly, and they report what failed.
"""

from __future__ import annotations


class GeoScopeError(Exception):
    """Base class of every error GeoScope raises on purpose."""


class ConfigError(GeoScopeError, ValueError):
    """A configuration value is invalid (raised from ``__post_init__``)."""


class DataError(GeoScopeError):
    """Input data (a labels CSV, a dataset folder) is missing or malformed."""


class GazetteerError(GeoScopeError):
    """The offline gazetteer could not be loaded or a place is unknown."""


class BundleError(GeoScopeError):
    """A model bundle is missing, corrupted, tampered with or inconsistent."""


class ProviderError(GeoScopeError):
    """The requested ONNX Runtime execution provider is not available."""


class ImageDecodeError(GeoScopeError):
    """An image could not be decoded (corrupt, unsupported, too large)."""


class MetadataError(GeoScopeError):
    """Photo metadata could not be read or written safely."""


class JournalError(GeoScopeError):
    """A write journal is unreadable, or an undo cannot be applied."""


class TrainingError(GeoScopeError):
    """Training could not start or continue (bad checkpoint, missing weights)."""


class ExportError(GeoScopeError):
    """Export failed, including parity failures between PyTorch and ONNX."""
