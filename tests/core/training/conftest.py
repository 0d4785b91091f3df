"""The training tests need the 'train' extra: without it they skip, the scan tests still run."""

import pytest

pytest.importorskip("torch", reason="needs the 'train' extra (torch)")
