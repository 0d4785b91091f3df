"""Every test signs write journals with a key of its own, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoscope_core.settings import STATE_ENV


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    state = tmp_path_factory.getbasetemp() / "state"
    monkeypatch.setenv(STATE_ENV, str(state))
    return state
