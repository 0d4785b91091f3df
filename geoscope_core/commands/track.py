"""``geoscope track FILE``: what a track log holds (points, time span, gaps, area)."""

from __future__ import annotations

import argparse
from pathlib import Path

from geoscope_core.evidence.placement import PlacementLimits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoscope_core.evidence.formats.registry import help_text

    parser.add_argument(
        "files", type=Path, nargs="+", metavar="FILE", help=f"track log(s): {help_text()}"
    )
    parser.add_argument(
        "--max-gap",
        type=float,
        default=PlacementLimits.max_gap_s,
        metavar="S",
        help="report gaps between fixes longer than S seconds (default %(default)g: the "
        "longest gap a scan interpolates over)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from geoscope_core.errors import ConfigError, DataError
    from geoscope_core.evidence.summary import format_summary, summarize
    from geoscope_core.evidence.tracks import TrackError, load_track

    if args.max_gap < 0:
        raise ConfigError(f"--max-gap must be >= 0, got {args.max_gap}")
    failed = 0
    out = []
    for path in args.files:
        try:
            s = summarize(load_track(path), args.max_gap)
        except (TrackError, DataError) as e:
            print(f"geoscope track: error: {e}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            out.append({"file": str(path), **s.to_dict()})
        else:
            print(format_summary(str(path), s))
    if args.json:
        print(json.dumps(out if len(out) != 1 else out[0], indent=1))
    # bad input exits 2, as in every other command (the good files are still summarised)
    return 2 if failed else 0
