"""Fixtures of the core tests: an isolated cache folder and tiny real bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoscope_core.settings import data_dir
from tests.bundles import ANCHORS, make_bundle


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GEOSCOPE_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def zs_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("zs") / "b", anchors=ANCHORS, logit_scale=50.0)


@pytest.fixture(scope="session")
def cls_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(
        tmp_path_factory.mktemp("cls") / "b", kind="classifier", anchors=ANCHORS, logit_scale=50.0
    )


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    root = data_dir() / "fixtures" / "exif-samples"
    if not root.is_dir():
        raise FileNotFoundError(
            f"shared test data missing: {root} (set GEOSCOPE_DATA to the shared data folder)"
        )
    return root
