"""What pyproject.toml installs: the base install is the scan path, and every package
of the source tree is listed (a wheel holds only the listed ones)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def test_base_install_has_no_torch_and_no_matplotlib() -> None:
    project = _pyproject()["project"]
    base = {_name(r) for r in project["dependencies"]}
    assert not base & {"torch", "torchvision", "transformers", "matplotlib"}
    extras = project["optional-dependencies"]
    assert [_name(r) for r in extras["plot"]] == ["matplotlib"]
    # training writes accuracy.png, so the train extra brings the plot extra
    assert "geoscope[plot]" in extras["train"]


def test_every_package_is_listed() -> None:
    setup = _pyproject()["tool"]["setuptools"]
    listed = set(setup["packages"])
    found = set()
    for name, folder in setup["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rel)))
    assert found == listed
