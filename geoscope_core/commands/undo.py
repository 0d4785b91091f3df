"""``geoscope undo JOURNAL``: restore the files a write journal changed, byte for byte."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "journal", type=Path, help="journal file printed by `geoscope scan --write`"
    )


def run(args: argparse.Namespace) -> int:
    from geoscope_core.photos.journal import undo

    results = undo(args.journal)
    bad = 0
    for r in results:
        line = f"{r.action:16s} {r.path}"
        if r.reason:
            line += f"  ({r.reason})"
        print(line)
        if r.action in ("refused", "failed"):
            bad += 1
    print(f"{len(results) - bad} restored, {bad} refused or failed")
    return 1 if bad else 0
