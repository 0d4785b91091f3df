"""Process-wide settings read from the environment (no I/O at import)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

#: Environment variable naming the shared data folder (see ``../shared/data/README.md``).
DATA_ENV = "GEOSCOPE_DATA"
#: Environment variable overriding the user cache folder.
CACHE_ENV = "GEOSCOPE_CACHE_DIR"
#: Environment variable overriding the user state folder (the journal signing key).
STATE_ENV = "GEOSCOPE_STATE_DIR"

_REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Folder of the development data: ``$GEOSCOPE_DATA``, else ``<repo>/../shared/data``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (_REPO_ROOT.parent / "shared" / "data").resolve()


def cache_dir() -> Path:
    """User cache folder (gazetteer arrays, scan cache, gallery embeddings); not created here."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("geoscope", appauthor=False))


def state_dir() -> Path:
    """User state folder, kept when the cache is cleared (the key that signs write
    journals); not created here."""
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_state_dir("geoscope", appauthor=False))


def models_dir() -> Path:
    """Folder of the bundles shipped inside the package (the default model)."""
    return Path(__file__).resolve().parent / "models"


DEFAULT_MODEL = "geoscope-lite"
#: sha256 of the shipped default bundle's canonical manifest (``runtime.bundle``: its
#: model id is ``geoscope-lite@<first 12 digits>``). The shipped bundle loads only when
#: it matches: update this one line whenever the default bundle is re-exported.
DEFAULT_MODEL_SHA256 = "e74b12882ee8d2f351ddb63b141ab0e4f83f6c9b63c82ed377c7aaaeb44e85de"
