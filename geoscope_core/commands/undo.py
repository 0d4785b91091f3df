"""``geoscope undo JOURNAL``: restore the files a write journal changed, byte for byte.

``geoscope undo --list`` shows the journals kept and the space their backups
take; ``geoscope undo --prune [--older-than DAYS]`` deletes old ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "journal", type=Path, nargs="?", help="journal file printed by `geoscope scan --write`"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the kept journals and their backups' size"
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="delete journals and backups older than --older-than days (then not undoable)",
    )
    parser.add_argument("--older-than", type=float, default=None, metavar="DAYS")
    parser.add_argument(
        "--journal-dir", type=Path, default=None, help="where the journals are (default: cache)"
    )


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def run(args: argparse.Namespace) -> int:
    from geoscope_core.errors import JournalError
    from geoscope_core.fsio import terminal_text
    from geoscope_core.photos.undo import (
        DEFAULT_PRUNE_DAYS,
        UNDONE,
        list_journals,
        prune,
        undo,
    )

    if args.list or args.prune:
        if args.journal is not None:
            raise JournalError("give either a JOURNAL to undo or --list/--prune, not both")
        if args.prune:
            days = DEFAULT_PRUNE_DAYS if args.older_than is None else args.older_than
            removed = prune(days, args.journal_dir)
            freed = sum(j.size_bytes for j in removed)
            print(f"removed {len(removed)} journal(s) older than {days:g} days, {_size(freed)}")
        kept = list_journals(args.journal_dir)
        for j in kept if args.list else ():
            print(f"{j.age_days:7.1f} days  {_size(j.size_bytes):>10s}  {terminal_text(j.path)}")
        total = sum(j.size_bytes for j in kept)
        print(f"{len(kept)} journal(s) kept, {_size(total)} of backups")
        return 0
    if args.journal is None:
        raise JournalError("give the JOURNAL to undo (or --list / --prune)")

    results = undo(args.journal)
    bad = 0
    for r in results:
        line = f"{r.action.value:16s} {terminal_text(r.path)}"
        if r.reason:
            line += f"  ({terminal_text(r.reason)})"
        print(line)
        if r.action not in UNDONE:
            bad += 1
    print(f"{len(results) - bad} restored, {bad} refused, failed or incomplete")
    return 1 if bad else 0
