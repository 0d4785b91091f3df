"""The ``geoscope`` command.

Each subcommand lives in its own module under ``geoscope_core.commands`` with
``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only
when their command runs, so ``geoscope scan`` never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Sequence

from geoscope_core import __version__
from geoscope_core.errors import GeoScopeError

#: subcommand -> (module, one-line help). A plain registry; order is the help order.
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("geoscope_core.commands.scan", "geolocate the photos in a folder"),
    "write": ("geoscope_core.commands.write", "write a finished scan's estimates into photos"),
    "track": ("geoscope_core.commands.track", "summarise a GPS track log (points, span, gaps)"),
    "undo": ("geoscope_core.commands.undo", "restore the files a write journal changed"),
    "bundle": ("geoscope_core.commands.bundle", "inspect and verify model bundles"),
    "eval": ("geoscope_core.commands.eval", "measure a model on a labelled photo set"),
    "train": ("geoscope_core.commands.train", "train a model (needs the 'train' extra)"),
    "export": ("geoscope_core.commands.export", "export a checkpoint to a bundle ('export' extra)"),
    "calibrate": ("geoscope_core.commands.calibrate", "refit a bundle's error radius on photos"),
    "app": ("geoscope_core.commands.app", "open the desktop app ('desktop' extra)"),
}

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geoscope", description="Offline photo geolocation.")
    parser.add_argument("--version", action="version", version=f"geoscope {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


#: Options whose values start with a sign (``--tz -08:00``, ``--time-offset -0:05:00``),
#: which argparse would take for options of their own.
SIGNED_VALUE_OPTIONS = ("--tz", "--time-offset")
_SIGNED = re.compile(r"^[+-]\d")


def join_signed_values(argv: Sequence[str]) -> list[str]:
    """``--tz -08:00`` as ``--tz=-08:00``, so a signed value reaches its option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in SIGNED_VALUE_OPTIONS and i + 1 < len(argv) and _SIGNED.match(argv[i + 1]):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_signed_values(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._module.run(args))
    except GeoScopeError as e:
        print(f"geoscope {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
