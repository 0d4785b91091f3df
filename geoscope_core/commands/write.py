"""``geoscope write RESULTS``: write the estimates of a finished scan into the photos.

RESULTS is what a scan wrote: its ``.json`` or its folder of Parquet shards (``scan
--engine ray`` keeps one). Writing runs here, on this machine, with the journaled writer
of ``scan --write`` (``geoscope undo JOURNAL`` puts the files back); a photo whose size
or modification time changed since the scan is refused, never written with an estimate
made of other bytes.
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
    from geoscope_core.commands.scan import writable, write_estimates
    from geoscope_core.fsio import path_text
    from geoscope_core.photos.cache import FileKey
    from geoscope_core.scan.output import read_results

    items = []
    changed = 0
    for r in read_results(args.results):
        if not writable(r) or r.prediction is None:
            continue
        try:
            now = FileKey.of(r.path)
        except OSError as e:
            now, why = None, f"cannot read it: {e.strerror or e}"
        else:
            why = "changed since the scan"
        same = (now.size, now.mtime_ns, now.sidecar_mtime_ns) if now else None
        if r.file is None or same != (r.file.size, r.file.mtime_ns, r.file.sidecar_mtime_ns):
            changed += 1
            print(f"{'refused':12s} {path_text(r.path)}  ({why})")
            continue
        items.append((r.path, r.prediction))
    args.write = not args.dry_run
    failed = write_estimates(args, items)
    if changed:
        print(f"refused {changed} photo(s) changed since the scan: scan them again first")
    return 1 if failed or changed else 0
