"""Side-by-side table of training runs on the validation photos users meet.

``python -m geoscope_core.training.compare runs/a runs/b [--floors floors.json]``
reads each run's ``metrics.json`` (its final ``by_scope``/``by_set`` validation
metrics, as :func:`geoscope_core.training.cnn.evaluate_logits` writes them) and the
floors' JSON (``python -m geoscope_core.training.baselines ... --json floors.json``),
and prints, for the ``world`` scope and then for each of its sets, the share of photos
within 25/200/750/2500 km, country accuracy and GeoScore. Pooled figures are left out
on purpose: dense regional sets hide a model that names one place for everything.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geoscope_core.errors import DataError

#: Distances (km) of the table's columns.
COLUMNS_KM = ("25", "200", "750", "2500")


def load_rows(runs: Sequence[Path], floors: Path | None) -> dict[str, dict[str, Any]]:
    """Final validation metrics per row name: each run's folder name, and the floors
    ("floor: medoid", "floor: 1-NN")."""
    rows: dict[str, dict[str, Any]] = {}
    if floors is not None:
        data = json.loads(Path(floors).read_text(encoding="utf-8"))
        rows["floor: medoid"] = data["medoid"]
        rows["floor: 1-NN"] = data["nn1"]
    for run in runs:
        path = Path(run) / "metrics.json"
        try:
            rows[Path(run).name] = json.loads(path.read_text(encoding="utf-8"))["final"]
        except (OSError, KeyError, json.JSONDecodeError) as e:
            raise DataError(f"cannot read the final metrics of {run}: {e}") from e
    return rows


def world_sets(rows: dict[str, dict[str, Any]], scope: str = "world") -> list[str]:
    """The sets of ``scope`` (read from the sets whose photos all fall in it: a set's
    metrics appear under ``by_set``, its scope's under ``by_scope``)."""
    names: set[str] = set()
    for metrics in rows.values():
        names |= set(metrics.get("by_set", {}))
    return sorted(n for n in names if n in _scope_sets(scope))


def _scope_sets(scope: str) -> set[str]:
    from geoscope_core.records import shared_geo_records

    return {r.set for r in shared_geo_records("val") if r.scope == scope}


def format_table(rows: dict[str, dict[str, Any]], groups: Sequence[tuple[str, str]]) -> str:
    """A Markdown table: one block per (title, key path) group, one line per row."""
    head = "| group | model | n | " + " | ".join(f"@{c} km" for c in COLUMNS_KM)
    lines = [head + " | country | GeoScore |", "|" + "---|" * (len(COLUMNS_KM) + 5)]
    for title, key in groups:
        for name, metrics in rows.items():
            kind, _, group = key.partition(":")
            m = metrics.get(kind, {}).get(group) if group else metrics
            if not m:
                continue
            acc = " | ".join(f"{100 * m['acc_km'][c]:.1f}%" for c in COLUMNS_KM)
            cc = m.get("country_acc")
            country = f"{100 * cc:.1f}%" if cc is not None else "-"
            lines.append(
                f"| {title} | {name} | {m['n']} | {acc} | {country} | {m['geoscore']:.0f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="training run folders")
    parser.add_argument("--floors", type=Path, default=None, help="baselines JSON")
    parser.add_argument("--scope", default="world")
    args = parser.parse_args(argv)
    try:
        rows = load_rows(args.runs, args.floors)
        groups = [(args.scope, f"by_scope:{args.scope}")]
        groups += [(s, f"by_set:{s}") for s in world_sets(rows, args.scope)]
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(format_table(rows, groups) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
