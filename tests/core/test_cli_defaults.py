"""The command line's defaults and choices are the dataclasses' and enums' own, and
``geoscope app`` takes the options ``geoscope-desktop`` takes."""

from __future__ import annotations

import argparse

from geoscope_core.cli import build_parser
from geoscope_core.evidence.placement import PlacementLimits
from geoscope_core.photos.plan import SidecarPolicy, WriteOptions
from geoscope_core.runtime.session import Provider
from geoscope_core.scan.types import ScanOptions


def _command(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = sub.choices[name]
    return parser


def _choices(parser: argparse.ArgumentParser, option: str) -> list[str]:
    (action,) = (a for a in parser._actions if option in a.option_strings)
    return list(action.choices or [])


def test_scan_and_eval_defaults_are_the_options_dataclasses() -> None:
    scan = build_parser().parse_args(["scan", "photos"])
    write, options, limits = WriteOptions(), ScanOptions(), PlacementLimits()
    assert scan.sidecar == write.sidecar.value and scan.keep_mtime is write.keep_mtime
    assert (scan.time_window, scan.batch_size, scan.workers) == (
        options.time_window_s,
        options.batch_size,
        options.workers,
    )
    assert (scan.max_gap, scan.max_extrapolation) == (limits.max_gap_s, limits.max_extrapolation_s)
    assert scan.provider == Provider.AUTO.value
    assert _choices(_command("scan"), "--sidecar") == [p.value for p in SidecarPolicy]
    for command in ("scan", "eval"):
        assert _choices(_command(command), "--provider") == [p.value for p in Provider]
    ev = build_parser().parse_args(["eval", "labels.csv"])
    assert (ev.batch_size, ev.workers) == (options.batch_size, options.workers)
    track = build_parser().parse_args(["track", "walk.gpx"])
    assert track.max_gap == limits.max_gap_s


def test_app_takes_the_desktop_apps_options() -> None:
    from geoscope_desktop.app import build_parser as desktop_parser

    def options(parser: argparse.ArgumentParser) -> dict[str, object]:
        return {a.dest: (a.option_strings, a.default, a.choices) for a in parser._actions}

    desktop = options(desktop_parser())
    del desktop["verbose"]  # `geoscope -v app`: the geoscope command's own option
    assert options(_command("app")) == desktop
    args = build_parser().parse_args(["app", "--settings", "s.ini", "--exit-when-shown", "f"])
    assert (str(args.settings), args.exit_when_shown, str(args.folder)) == ("s.ini", True, "f")


def test_export_defaults_are_the_export_configs() -> None:
    from geoscope_export.config import ExportConfig, Quantize

    args = build_parser().parse_args(["export", "ckpt", "--out", "b"])
    config = ExportConfig()
    assert args.quantize == Quantize(config.quantize).value
    assert tuple(args.levels.split(",")) == config.levels
    assert (args.calibration_images, args.max_val, args.gallery_dim) == (
        config.calibration_images,
        config.max_val,
        config.gallery_dim,
    )
    assert _choices(_command("export"), "--quantize") == [q.value for q in Quantize]
