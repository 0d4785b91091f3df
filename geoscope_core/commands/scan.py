"""``geoscope scan PHOTOS``: geolocate every photo under a folder (or a list of files).

Heavy modules (onnxruntime, the runtime, the writer) are imported inside ``run``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geoscope_core.evidence.personal import EvidenceOptions
    from geoscope_core.photos.metadata import FileFingerprint
    from geoscope_core.prediction import Prediction
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.output import ResultWriter
    from geoscope_core.scan.pipeline import Scanner
    from geoscope_core.scan.store import ObjectStore
    from geoscope_core.scan.types import ScanOptions, ScanResult

from geoscope_core.evidence.formats.registry import help_text as track_formats_help
from geoscope_core.evidence.placement import PlacementLimits
from geoscope_core.fsio import terminal_text
from geoscope_core.geo.place import PlaceNames
from geoscope_core.geo.precision import coordinate_decimals
from geoscope_core.photos.plan import SidecarPolicy, WriteOptions
from geoscope_core.runtime.session import PROVIDER_NAMES, Provider
from geoscope_core.scan.types import ScanOptions
from geoscope_core.words import count

#: ``--write`` skips estimates below this calibrated confidence unless told otherwise:
#: under 0.5 an estimate is more likely wrong than right at the bundle's finest level,
#: and what is written into a photo outlives the scan.
DEFAULT_WRITE_MIN_CONFIDENCE = 0.5
#: where a scan runs: this process, or an actor pool on Ray (extra ``cluster``)
ENGINES = ("local", "ray")


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from e
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def add_write_arguments(parser: argparse.ArgumentParser) -> None:
    """How estimates are written (``scan --write`` and ``geoscope write``)."""
    parser.add_argument(
        "--dry-run", action="store_true", help="show what --write would do, change nothing"
    )
    parser.add_argument(
        "--min-confidence",
        type=_probability,
        default=None,
        metavar="P",
        help=(
            "only write estimates with confidence >= P (0-1; default "
            f"{DEFAULT_WRITE_MIN_CONFIDENCE:g}: below it an estimate is more likely wrong "
            "than right)"
        ),
    )
    parser.add_argument(
        "--overwrite-gps", action="store_true", help="replace GPS the camera recorded"
    )
    parser.add_argument(
        "--fill-names",
        action="store_true",
        help="with --write: also write the place names (city, region, country) of photos "
        "that carry camera GPS, from their own point; their GPS is never changed",
    )
    parser.add_argument(
        "--follow-links",
        action="store_true",
        help="also write through symbolic links that lead out of the folders named "
        "(skipped by default)",
    )
    parser.add_argument(
        "--sidecar",
        choices=[p.value for p in SidecarPolicy],
        default=WriteOptions.sidecar.value,
        help="XMP sidecar policy when writing (default %(default)s)",
    )
    parser.add_argument(
        "--keep-mtime",
        action=argparse.BooleanOptionalAction,
        default=WriteOptions.keep_mtime,
        help="keep the files' modification times when writing",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "photos",
        type=str,
        nargs="+",
        help="photo folder(s) or file(s): paths, file:// URIs, or folders of an object "
        "store pyarrow reaches (s3://bucket/prefix?endpoint_override=HOST:PORT&scheme=http; "
        "credentials from the AWS environment variables); needs the extra cluster",
    )
    parser.add_argument("--model", default=None, help="bundle name or path (default geoscope-lite)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write results to FILE.csv, .json or .geojson, or to a folder of Parquet shards",
    )
    parser.add_argument(
        "--include-serials",
        action="store_true",
        help="keep camera body serial numbers in --out files (left out by default: "
        "a serial identifies its owner)",
    )
    parser.add_argument(
        "--write", action="store_true", help="write estimated locations into the photos"
    )
    parser.add_argument(
        "--model-id",
        default=None,
        metavar="ID",
        help="refuse to scan unless the bundle's model id is ID (see `geoscope bundle check`)",
    )
    parser.add_argument("--provider", choices=PROVIDER_NAMES, default=Provider.AUTO.value)
    parser.add_argument("--no-cache", action="store_true", help="ignore and bypass the scan cache")
    parser.add_argument(
        "--no-neighbors",
        action="store_true",
        help="do not use the folder's own GPS-tagged photos as evidence",
    )
    parser.add_argument(
        "--repredict-gps", action="store_true", help="also predict photos that carry GPS"
    )
    add_write_arguments(parser)
    parser.add_argument(
        "--time-window",
        type=float,
        default=ScanOptions.time_window_s,
        metavar="SECONDS",
        help="time-neighbour window in seconds (default %(default)g)",
    )
    ev = parser.add_argument_group("your own evidence (placed by time, before the model)")
    # one value per flag: "--track walk.gpx PHOTOS" must leave PHOTOS to the photos
    ev.add_argument(
        "--track",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help=(
            f"a GPS track log: {track_formats_help()}; "
            "repeat for more (--track a.gpx --track b.gpx)"
        ),
    )
    ev.add_argument(
        "--reference",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of GPS-tagged photos (any device) to place by, not scanned; repeatable",
    )
    ev.add_argument(
        "--tz",
        default=None,
        metavar="ZONE",
        help="time zone of camera clocks that wrote no offset (Europe/Rome, +02:00); "
        "default: from where the track or your GPS photos were",
    )
    ev.add_argument(
        "--time-offset",
        action="append",
        default=[],
        metavar="[CAMERA=]+-[[HH:]MM:]SS",
        help="add this to a camera's clock (like exiftool -geosync); CAMERA matches part "
        "of 'make model serial'; repeatable",
    )
    ev.add_argument(
        "--max-gap",
        type=float,
        default=PlacementLimits.max_gap_s,
        metavar="S",
        help="interpolate between fixes at most S seconds apart (default %(default)g, as ExifTool)",
    )
    ev.add_argument(
        "--max-extrapolation",
        type=float,
        default=PlacementLimits.max_extrapolation_s,
        metavar="S",
        help="take a fix's position at most S seconds from it (default %(default)g, as ExifTool)",
    )
    ev.add_argument(
        "--no-estimate-offset",
        action="store_true",
        help="do not estimate camera clock offsets from your other photos",
    )
    parser.add_argument(
        "--batch-size", type=int, default=ScanOptions.batch_size, help="inference batch size"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=ScanOptions.workers,
        help="decode threads (0 = auto); with --engine ray: scan workers (0 = 2)",
    )
    eng = parser.add_argument_group("scanning on a Ray cluster (extra: cluster)")
    eng.add_argument(
        "--engine",
        choices=ENGINES,
        default=ENGINES[0],
        help="local: this process; ray: an actor pool on Ray Data, results kept in --out "
        "(a folder of Parquet shards, or FILE.shards beside a file) and resumed from there",
    )
    eng.add_argument(
        "--address", default=None, help="Ray cluster address (default: a local instance)"
    )
    eng.add_argument(
        "--cpus-per-worker", type=int, default=1, help="CPUs of each Ray worker (default 1)"
    )
    eng.add_argument(
        "--gpus-per-worker",
        type=float,
        default=0.0,
        metavar="G",
        help="GPUs of each Ray worker (0, a fraction, or whole GPUs; use with --provider cuda)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _collect(targets: Sequence[Path | ObjectStore]) -> list[str]:
    """The photos under ``targets`` (local paths, or folders of object stores: their
    objects' URIs), once each, in walk order; as text, not Path objects (a tenth of the
    memory: the list is the one thing an archive's scan holds for every photo)."""
    import os

    from geoscope_core.errors import DataError
    from geoscope_core.photos.walk import iter_photos

    photos: list[str] = []
    for t in targets:
        if not isinstance(t, Path):
            photos.extend(t.list_photos())
            continue
        if not t.exists():
            if t.is_symlink():
                raise DataError(f"{t} is a dangling symbolic link (its target does not exist)")
            raise DataError(f"{t} does not exist")
        if t.is_dir():
            photos.extend(os.fspath(p) for p in iter_photos(t))
        elif not t.is_file():
            raise DataError(f"{t} is not a regular file (a FIFO, socket or device)")
        else:
            photos.append(os.fspath(t))
    return list(dict.fromkeys(photos))


TABLE_HEADER = f"{'status':9s} {'lat':>9s} {'lon':>10s} {'conf':>5s} {'±km':>7s}  place  |  photo"


def _table_line(r: ScanResult, root: Path | None) -> str:
    """One line of the terminal table of results."""
    try:
        name = terminal_text(r.path.relative_to(root) if root and not r.uri else r.where)
    except ValueError:
        name = terminal_text(r.where)
    p = r.prediction
    if p is None:
        return f"{r.status.value:9s} {'':>9s} {'':>10s} {'':>5s} {'':>7s}  -  |  {name}"
    names = PlaceNames.of_estimate(p)
    place = ", ".join(x for x in (names.city, names.admin1, p.country or p.country_code) if x)
    d = min(4, coordinate_decimals(p.radius_km))  # no finer than the radius warrants
    if p.unsure:  # the model does not know: the point and radius are all it has
        place = "unsure, no place named"
    return (
        f"{r.status.value:9s} {p.lat:9.{d}f} {p.lon:10.{d}f} {p.confidence:5.2f} "
        f"{p.radius_km:7.1f}  {place or '-'}  |  {name}"
        + (f"  ({terminal_text(r.reason)})" if r.reason and r.reason != "model" else "")
    )


def _evidence_options(args: argparse.Namespace) -> EvidenceOptions:
    from geoscope_core.errors import DataError
    from geoscope_core.evidence.personal import EvidenceOptions
    from geoscope_core.evidence.phototime import parse_time_offset
    from geoscope_core.evidence.placement import PlacementLimits

    for p in (*args.track, *args.reference):
        if not p.exists():
            raise DataError(f"{p} does not exist")
    return EvidenceOptions(
        track_files=tuple(args.track),
        tz=args.tz,
        time_offsets=tuple(parse_time_offset(o) for o in args.time_offset),
        limits=PlacementLimits(args.max_gap, args.max_extrapolation),
        estimate_offsets=not args.no_estimate_offset,
    )


def _print_evidence(scanner: Scanner) -> None:
    """What the user's own evidence was: tracks read, reference fixes, camera clocks."""
    from geoscope_core.evidence.offsets import format_offset

    ev = scanner.evidence
    if ev is None:
        return
    if ev.track is not None:
        tr = ev.track
        print(
            f"track: {count(len(tr), 'fix', 'fixes')} from {count(len(tr.sources), 'file')}"
            f" ({', '.join(tr.formats)})"
        )
        for w in tr.warnings[:5]:
            print(f"  note: {terminal_text(w)}")
    if ev.photo_track is not None:
        print(f"GPS photos as fixes: {len(ev.photo_track)}")
    for cam in ev.cameras.values():
        if cam.origin == "none" and cam.estimate is None:
            continue
        name = cam.camera or "unknown camera"
        if cam.origin == "none":
            note = cam.estimate.note if cam.estimate else ""
            print(terminal_text(f"clock of {name}: left as is; {note}"))
        else:
            note = f"; {cam.estimate.note}" if cam.estimate else ""
            offset = format_offset(cam.seconds)
            print(terminal_text(f"clock of {name}: {offset} ({cam.origin}{note})"))


def write_item(
    r: ScanResult, fill_names: bool = False
) -> tuple[Path, Prediction, FileFingerprint | None] | None:
    """What writing the result ``r`` takes (``scan --write`` and ``geoscope write``): the
    photo, its estimate and the file as the scan saw it (None where the result does not
    say); None when there is nothing to write: no place, or the camera's own GPS (whose
    place names only are written, with ``fill_names``)."""
    from geoscope_core.scan.types import ScanStatus

    skip = (ScanStatus.ERROR,) if fill_names else (ScanStatus.EXIF, ScanStatus.ERROR)
    if r.prediction is None or r.status in skip:
        return None
    return r.path, r.prediction, r.metadata.fingerprint if r.metadata is not None else None


def write_estimates(
    args: argparse.Namespace,
    items: Sequence[tuple[Path, Prediction]],
    scanned: Mapping[Path, FileFingerprint],
    roots: Iterable[Path],
) -> int:
    """Write (or with --dry-run, show) the estimates ``items`` (photo, its estimate);
    ``scanned`` is each photo's file as the scan saw it (a photo changed since is
    refused), ``roots`` the folders the photos were named under. Returns how many
    failed."""
    from geoscope_core.photos.plan import WriteAction
    from geoscope_core.photos.writer import write_locations

    threshold = args.min_confidence
    if threshold is None:
        threshold = DEFAULT_WRITE_MIN_CONFIDENCE
    report = write_locations(
        items,
        scanned=scanned,
        roots=roots,
        options=WriteOptions(
            overwrite_gps=args.overwrite_gps,
            sidecar=SidecarPolicy(args.sidecar),
            keep_mtime=args.keep_mtime,
            dry_run=args.dry_run or not args.write,
            min_confidence=threshold,
            follow_links=args.follow_links,
            fill_names=args.fill_names,
        ),
    )
    counts: dict[str, int] = {}
    below = 0
    for w in report.results:
        counts[w.action.value] = counts.get(w.action.value, 0) + 1
        if w.action is WriteAction.SKIPPED and w.reason.startswith("confidence "):
            below += 1
            continue
        if w.action in (WriteAction.FAILED, WriteAction.SKIPPED, WriteAction.WOULD_WRITE):
            reason = f"  ({terminal_text(w.reason)})" if w.reason else ""
            print(f"{w.action.value:12s} {terminal_text(w.path)}{reason}")
    print("write: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if below:
        origin = "the default " if args.min_confidence is None else ""
        print(
            f"skipped {count(below, 'estimate')} below {origin}--min-confidence {threshold:g}"
            + (" (pass --min-confidence 0 to write them)" if args.min_confidence is None else "")
        )
    if report.journal is not None:
        from geoscope_core.photos.undo import backup_size

        size = backup_size(report.journal) / 1e6
        print(
            f"journal: {report.journal}  ({size:.1f} MB of backups; "
            f"undo with: geoscope undo {report.journal})"
        )
    return counts.get(WriteAction.FAILED.value, 0)


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from tqdm import tqdm

    from geoscope_core.errors import ConfigError
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_core.scan.pipeline import Scanner
    from geoscope_core.scan.store import NOT_WRITTEN, ObjectStore, open_target
    from geoscope_core.scan.types import ScanStatus

    t0 = time.perf_counter()
    given = ", ".join(args.photos)
    targets = [open_target(t) for t in args.photos]  # file:// URIs: their paths
    stores = {t.root: t for t in targets if isinstance(t, ObjectStore)}
    writing = args.write or args.dry_run or args.fill_names
    if stores and writing:
        raise ConfigError(f"{next(iter(stores))}: {NOT_WRITTEN}")
    args.photos = [t for t in targets if isinstance(t, Path)]  # the local ones
    if args.out:  # refused before the scan, and never a new folder made of a typo
        _check_out(args.out)
    options = ScanOptions(
        evidence=_evidence_options(args),
        references=tuple(args.reference),
        use_cache=not args.no_cache and not stores,  # the cache keys local files
        neighbors=not args.no_neighbors,
        repredict_gps=args.repredict_gps,
        batch_size=args.batch_size,
        workers=args.workers if args.engine == "local" else 0,
        time_window_s=args.time_window,
    )
    photos = _collect(targets)
    if not photos:
        print(f"no photos found in {given}")
        return 1
    predictor = Predictor.load(args.model, provider=args.provider)
    if args.model_id and not predictor.bundle.matches(args.model_id):
        from geoscope_core.errors import BundleError

        raise BundleError(
            f"the bundle's model id is {predictor.model_id}, not {args.model_id}: "
            "it is not the model you pinned"
        )
    scanner = Scanner(predictor, options) if args.engine == "local" else None
    results, sink = _engine_results(args, photos, stores, predictor, options, scanner)
    root = args.photos[0] if len(args.photos) == 1 and args.photos[0].is_dir() else None
    # streamed: results go to --out (or the terminal) as they come; only what is asked
    # for later (the estimates to write, the failures to list) is kept
    to_write: list[tuple[Path, Prediction]] = []
    scanned: dict[Path, FileFingerprint] = {}
    failed: list[ScanResult] = []
    counts = dict.fromkeys(ScanStatus, 0)
    n = 0
    try:
        with tqdm(
            total=len(photos),
            unit="photo",
            file=sys.stderr,
            disable=args.no_progress,
            dynamic_ncols=True,
            desc="scanning",
        ) as bar:
            if args.out is None:
                tqdm.write(TABLE_HEADER, file=sys.stdout)
            for r in results:
                n += 1
                counts[r.status] += 1
                if sink is not None:
                    sink.add(r)
                elif args.out is None:
                    tqdm.write(_table_line(r, root), file=sys.stdout)
                if r.status is ScanStatus.ERROR:
                    failed.append(r)
                elif writing and (item := write_item(r, args.fill_names)) is not None:
                    path, estimate, fingerprint = item
                    to_write.append((path, estimate))
                    if fingerprint is not None:
                        scanned[path] = fingerprint
                bar.update(1)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    elapsed = time.perf_counter() - t0
    if sink is not None:
        print(f"wrote {count(n, 'result')} to {sink.close()}")
    elif args.out is not None:
        print(f"wrote {count(n, 'result')} to {args.out}")

    write_failed = 0
    if writing:
        write_failed = write_estimates(args, to_write, scanned, args.photos)

    if failed:
        print(f"{count(len(failed), 'file')} failed:")
        for r in failed:
            print(f"  {terminal_text(r.where)}: {terminal_text(r.error)}")
    if scanner is not None:
        _print_evidence(scanner)
    summary = ", ".join(f"{s.value} {counts[s]}" for s in ScanStatus)
    rate = n / elapsed if elapsed > 0 else 0.0
    cached = f"{scanner.stats.cached} from cache" if scanner else f"on Ray ({args.engine})"
    print(
        f"{count(n, 'photo')} in {elapsed:.1f} s ({rate:.1f} photos/s): {summary}; "
        f"{cached}; model {predictor.model_id} on {predictor.provider}"
    )
    return 1 if failed or write_failed else 0


def _engine_results(
    args: argparse.Namespace,
    photos: list[str],
    stores: Mapping[str, ObjectStore],
    predictor: Predictor,
    options: ScanOptions,
    scanner: Scanner | None,
) -> tuple[Iterator[ScanResult], ResultWriter | None]:
    """The results of the scan on ``args.engine``, and the writer they stream into (None
    when there is no --out, or when the engine writes it: Ray's shard folder)."""
    from geoscope_core.errors import ConfigError
    from geoscope_core.scan.output import SHARDS, format_of

    fmt = format_of(args.out) if args.out else None
    if scanner is not None:
        from geoscope_core.scan.store import scan_any

        results = scan_any(scanner, photos, stores)
        return results, _open_writer(args) if args.out else None
    from geoscope_core.scan.ray_engine import RayOptions, scan_on_ray

    if args.out is None:
        raise ConfigError("--engine ray keeps its results in --out: give a folder or a file")
    if args.write or args.dry_run:
        raise ConfigError(
            "--engine ray does not write photos: write its results with "
            f"`geoscope write {args.out}` once the scan is done"
        )
    engine = RayOptions(
        address=args.address,
        workers=args.workers or 2,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        include_serials=args.include_serials,
    )
    shards = args.out if fmt == SHARDS else args.out.with_name(args.out.name + ".shards")
    results = scan_on_ray(
        photos,
        predictor.bundle.path,
        predictor.model_id,
        args.provider,
        options,
        engine,
        shards,
        stores=stores,
    )
    return results, None if fmt == SHARDS else _open_writer(args)


def _open_writer(args: argparse.Namespace) -> ResultWriter:
    """The writer of ``--out``, open."""
    from geoscope_core.scan.output import ResultWriter

    return ResultWriter(args.out, include_serials=args.include_serials).open()


def _check_out(out: Path) -> None:
    """Refuse ``--out`` before the scan unless it is a file of a known format in an
    existing folder, or a folder of Parquet shards (an existing one, or a new one in an
    existing folder): a typo never becomes a new folder."""
    from geoscope_core.commands.checks import output_file
    from geoscope_core.errors import ConfigError

    if out.suffix and not out.is_dir():
        from geoscope_core.scan.output import FORMATS

        output_file(out, "--out", FORMATS)
    elif not out.parent.is_dir():
        raise ConfigError(f"--out {out}: the folder {out.parent} does not exist; create it first")
