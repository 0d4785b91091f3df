"""``geoscope bundle check|info BUNDLE``: verify or describe a model bundle."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="verify hashes, format version, shapes and ONNX I/O")
    check.add_argument("bundle", help="bundle directory, .zip or name")
    check.add_argument(
        "--model-id",
        default=None,
        metavar="ID",
        help="fail unless the bundle's identity is ID (name@hash or >= 12 hex digits)",
    )
    info = sub.add_parser("info", help="show a bundle's manifest summary")
    info.add_argument("bundle", help="bundle directory, .zip or name")
    info.add_argument("--json", action="store_true", help="print the whole manifest as JSON")


def run(args: argparse.Namespace) -> int:
    from geoscope_core.errors import BundleError
    from geoscope_core.runtime.bundle import bundle_identity, check_bundle, load_bundle
    from geoscope_core.runtime.locate import resolve_bundle_path
    from geoscope_core.runtime.summary import bundle_summary

    if args.action == "check":
        path = resolve_bundle_path(args.bundle)
        try:
            ident = bundle_identity(path)
            print(f"model id {ident.model_id}  (sha256 {ident.sha256})")
        except BundleError:
            pass  # check_bundle names what is wrong
        problems = check_bundle(path, args.model_id)
        if problems:
            print(f"{path}: {len(problems)} problem(s)")
            for p in problems:
                print(f"  - {p}")
            return 2
        print(f"{path}: ok")
        return 0

    bundle = load_bundle(args.bundle, verify=False)
    m = bundle.manifest
    if args.json:
        print(json.dumps(m.to_dict(), indent=2))
        return 0
    print(f"name          {m.name}")
    print(f"path          {bundle.path}")
    print(f"model id      {bundle.model_id}")
    for label, text in bundle_summary(bundle):
        print(f"{label:13s} {text}")
    print(f"temperature   {m.temperature:g}   logit_scale {m.logit_scale:g}")
    size = sum(p.stat().st_size for p in Path(bundle.path).rglob("*") if p.is_file())
    print(f"size          {size / 1e6:.1f} MB")
    return 0
