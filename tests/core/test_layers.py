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


def _imports(path: Path, module: str) -> set[str]:
    """Modules of the project ``path`` imports, at any depth (a lazy import inside a
    function is still a dependency), except under TYPE_CHECKING."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                out.update(a.name for a in sub.names)
            elif isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    parts = package.split(".")[: len(package.split(".")) - sub.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                out.add(base)
                out.update(f"{base}.{a.name}" for a in sub.names)
    return out


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, over the three packages, with the edges
    the CLI makes through its string registry (``cli.COMMANDS``) that no import shows."""
    from geoscope_core.cli import COMMANDS

    roots = {
        "geoscope_core": ROOT,
        "geoscope_export": ROOT.parent / "export",
        "geoscope_desktop": ROOT.parent / "desktop",
    }
    modules: dict[str, Path] = {}
    for name, folder in roots.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            parts = rel[:-1] if rel[-1] == "__init__" else rel
            modules[".".join((name, *parts))] = path
    # a module's own parent packages are imported with it: not an edge
    graph = {
        m: {d for d in _imports(p, m) if d in modules and not (m + ".").startswith(d + ".")}
        for m, p in modules.items()
    }
    graph["geoscope_core.cli"] |= {module for module, _ in COMMANDS.values()}
    return graph


#: The command line: the top of the graph, which nothing below it may import.
CLI = ("geoscope_core.cli", "geoscope_core.commands", "geoscope_core.__main__")


def _is_cli(module: str) -> bool:
    return any(module == c or module.startswith(c + ".") for c in CLI)


def test_nothing_below_the_command_line_imports_it() -> None:
    """The library (core, export, desktop) offers functions the CLI calls; an import back
    into ``geoscope_core.cli`` or ``geoscope_core.commands`` is a cycle through the CLI's
    registry of command modules."""
    graph = _import_graph()
    assert graph["geoscope_core.cli"] >= {"geoscope_core.commands.calibrate"}
    back = sorted(
        f"{m} imports {d}"
        for m, deps in graph.items()
        if not _is_cli(m)
        for d in deps
        if _is_cli(d)
    )
    assert back == []


def test_no_import_circle() -> None:
    graph = _import_graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                circles.append([*stack[stack.index(d) :], d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert circles == [], "\n".join(" -> ".join(c) for c in circles)
