"""``geoscope write RESULTS``: write the estimates of a finished scan into the photos.

RESULTS is what a scan wrote: its ``.json`` or its folder of Parquet shards (``scan
--engine ray`` keeps one). Writing runs here, on this machine, with the journaled writer
of ``scan --write`` (``geoscope undo JOURNAL`` puts the files back); a photo whose file
is no longer the one scanned (its fingerprint: size, modification time, SHA-256) is
refused, never written with an estimate made of other bytes. A photo the scan read from
an object store (its result names it by URI) is refused: nothing remote is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoscope_core.commands.scan import add_write_arguments

    parser.add_argument(
        "results", type=Path, help="a scan's results: FILE.json or a folder of Parquet shards"
    )
    add_write_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from geoscope_core.commands.scan import write_estimates, write_item
    from geoscope_core.fsio import path_text
    from geoscope_core.photos.metadata import FileFingerprint
    from geoscope_core.scan.output import read_results
    from geoscope_core.scan.store import NOT_WRITTEN
    from geoscope_core.words import count

    items = []
    scanned: dict[Path, FileFingerprint] = {}
    roots: set[Path] = set()
    unknown = remote = 0
    for r in read_results(args.results):
        item = write_item(r, args.fill_names)
        if item is None:
            continue
        path, estimate, fp = item
        if r.uri:  # an object in a store: never written from here
            remote += 1
            print(f"{'refused':12s} {r.uri}  (an object in a store)")
            continue
        if fp is None:  # nothing to tell the photo scanned from another: never written
            unknown += 1
            print(f"{'refused':12s} {path_text(path)}  (no fingerprint of the file scanned)")
            continue
        items.append((path, estimate))
        scanned[path] = fp
        roots.add(path.parent)
    args.write = not args.dry_run
    failed = write_estimates(args, items, scanned, sorted(roots))
    if unknown:
        print(f"refused {count(unknown, 'photo')} the results do not fingerprint: scan again")
    if remote:
        print(f"refused {count(remote, 'photo')}: {NOT_WRITTEN}")
    return 1 if failed or unknown or remote else 0
