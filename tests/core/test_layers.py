"""The package layers DESIGN.md draws: which package may import which (read from the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import geoscope_core

ROOT = Path(geoscope_core.__file__).parent

#: package -> packages of geoscope_core it must never import (at any depth, lazily or not).
FORBIDDEN = {
    "runtime": {"photos", "scan", "training", "commands"},
    "photos": {"runtime", "scan", "training", "commands"},
    "geo": {"runtime", "photos", "scan", "training", "commands"},
    "scan": {"training", "commands"},
    "evidence": {"runtime", "scan", "training", "commands"},
}


def imports_of(path: Path) -> set[str]:
    """Every geoscope_core module ``path`` imports (absolute names)."""
    package = ".".join(("geoscope_core", *path.relative_to(ROOT).parent.parts))
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            out.add(base)
    return {m for m in out if m.startswith("geoscope_core")}


def test_runtime_and_photos_do_not_import_each_other() -> None:
    problems = []
    for pkg, forbidden in FORBIDDEN.items():
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for mod in imports_of(path):
                parts = mod.split(".")
                if len(parts) > 1 and parts[1] in forbidden:
                    problems.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert problems == []


def test_shared_types_depend_on_no_layer() -> None:
    for name in ("prediction.py", "formats.py", "errors.py"):
        assert {m for m in imports_of(ROOT / name) if m != "geoscope_core.errors"} == set(), name
