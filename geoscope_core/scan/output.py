"""Scan results as CSV, JSON or GeoJSON files (GeoJSON opens in QGIS and geojson.io), or a
folder of Parquet shards; written one result at a time, so no output holds every result.

A file appears complete or not at all: it is written to a temporary name beside it and
renamed when the scan ends. A shard folder (``--out DIR``: no suffix, or an existing
folder) gets ``part-*.parquet`` files, each renamed into place when full, so a killed scan
leaves whole shards only; shards need ``pyarrow`` (extra ``cluster``).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import textwrap
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.fsio import uri_scheme
from geoscope_core.photos.cache import metadata_from_dict, metadata_to_dict
from geoscope_core.photos.metadata import FileFingerprint, PhotoMetadata
from geoscope_core.prediction import Prediction
from geoscope_core.scan.types import ScanResult, ScanStatus

if TYPE_CHECKING:
    import pyarrow as pa

#: CSV columns, in order.
CSV_FIELDS = (
    "path",
    "status",
    "lat",
    "lon",
    "confidence",
    "radius_km",
    "country_code",
    "country",
    "admin1",
    "city",
    "source",
    "unsure",
    "model",
    "taken_at",
    "camera",
    "reason",
    "error",
)
#: the file as the scan read it (FileFingerprint's fields): what ``geoscope write`` checks
FILE_FIELDS = ("size", "mtime_ns", "sha256")
#: the columns of a Parquet shard besides CSV_FIELDS: the whole prediction and metadata
#: (JSON text) and the file's fingerprint, so results can be read back whole
SHARD_EXTRA = ("prediction", "metadata", *FILE_FIELDS)
_FLOATS = ("lat", "lon", "confidence", "radius_km")
_INTS = ("size", "mtime_ns")
_BOOLS = ("unsure",)
FORMATS = {".csv": "csv", ".json": "json", ".geojson": "geojson"}
SHARDS = "parquet"  # the format of a folder of shards
SHARD_GLOB = "part-*.parquet"


def format_of(out: Path) -> str:
    """The format ``out`` is written in: its suffix's, or SHARDS for a folder (an existing
    one, or a name without a suffix). Raises ConfigError for any other suffix."""
    out = Path(out)
    if out.is_dir() or not out.suffix:
        return SHARDS
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"--out must end in .csv, .json or .geojson, or name a folder for Parquet "
            f"shards, not {out.name!r}"
        )
    return fmt


#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows as text: a string starting like a
    formula gets a leading ``'`` (as OWASP recommends); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def result_row(r: ScanResult, include_serials: bool = False) -> dict[str, Any]:
    """Flat row of one result (CSV_FIELDS); empty strings where there is no value.
    ``lat``/``lon`` in degrees, ``radius_km`` in km, ``confidence`` 0-1; the camera
    without its body serial number unless ``include_serials``."""
    row: dict[str, Any] = dict.fromkeys(CSV_FIELDS, "")
    row.update(path=r.where, status=r.status.value, error=r.error, reason=r.reason)
    p = r.prediction
    if p is not None:
        row.update(
            lat=round(p.lat, 6),
            lon=round(p.lon, 6),
            confidence=round(p.confidence, 4),
            radius_km=round(p.radius_km, 3),
            country_code=p.country_code,
            country=p.country,
            admin1=p.admin1,
            city=p.city,
            source=p.source.value,
            unsure=p.unsure,
            model=p.model,
        )
    m = r.metadata
    if m is not None:
        row.update(
            taken_at=m.taken_at.isoformat() if m.taken_at else "",
            camera=m.camera_text(include_serials),
        )
    return row


def _file_dict(meta: PhotoMetadata | None) -> dict[str, Any] | None:
    """The file as the scan read it (its fingerprint: size, mtime in ns, SHA-256), or None."""
    fp = meta.fingerprint if meta is not None else None
    return dataclasses.asdict(fp) if fp is not None else None


def result_dict(r: ScanResult, include_serials: bool = False) -> dict[str, Any]:
    """JSON object of one result: path, status, error, prediction (with top_k), metadata
    (the camera without its body serial number unless ``include_serials``), and ``file``
    (the fingerprint of the file scanned: what ``geoscope write`` checks)."""
    meta = None
    if r.metadata is not None:
        m = r.metadata
        meta = {
            "gps": list(m.gps) if m.gps else None,
            "gps_is_estimate": m.gps_is_estimate,
            "taken_at": m.taken_at.isoformat() if m.taken_at else None,
            "camera": m.camera_text(include_serials),
            "orientation": m.orientation,
        }
    return {
        "path": r.where,
        "status": r.status.value,
        "reason": r.reason,
        "error": r.error,
        "prediction": r.prediction.to_dict() if r.prediction else None,
        "metadata": meta,
        "file": _file_dict(r.metadata),
    }


def feature(r: ScanResult) -> dict[str, Any] | None:
    """GeoJSON Point feature ([lon, lat], WGS84) of a result that has a location (else
    None); properties = path, status and the prediction's fields (top_k as a list)."""
    if r.prediction is None:
        return None
    props = {"path": r.where, "status": r.status.value, "reason": r.reason}
    props.update(r.prediction.to_dict())
    props.pop("lat")
    props.pop("lon")
    if r.metadata is not None and r.metadata.taken_at:
        props["taken_at"] = r.metadata.taken_at.isoformat()
    return {
        "type": "Feature",
        "geometry": {
            "type": "Point",
            "coordinates": [round(r.prediction.lon, 7), round(r.prediction.lat, 7)],
        },
        "properties": props,
    }


def shard_row(r: ScanResult, include_serials: bool = False) -> dict[str, Any]:
    """One Parquet row: CSV_FIELDS (floats None where empty) and SHARD_EXTRA (the camera
    without its body serial number unless ``include_serials``)."""
    row = result_row(r, include_serials)
    for k in _FLOATS:
        row[k] = None if row[k] == "" else float(row[k])
    for k in _BOOLS:
        row[k] = None if row[k] == "" else bool(row[k])
    row["prediction"] = json.dumps(r.prediction.to_dict()) if r.prediction else None
    m = r.metadata
    if m is not None:  # the fingerprint goes in its own columns
        m = dataclasses.replace(m, fingerprint=None)
        if not include_serials:
            m = dataclasses.replace(m, camera=m.camera_text(), serial="")
    row["metadata"] = json.dumps(metadata_to_dict(m)) if m is not None else None
    row.update(_file_dict(r.metadata) or dict.fromkeys(FILE_FIELDS))
    return row


@functools.cache
def shard_schema() -> pa.Schema:
    """The schema of a Parquet shard (built once: pyarrow schemas are immutable)."""
    import pyarrow as pa

    def kind(name: str) -> pa.DataType:
        if name in _FLOATS:
            return pa.float64()
        if name in _INTS:
            return pa.int64()
        return pa.bool_() if name in _BOOLS else pa.string()

    return pa.schema([(n, kind(n)) for n in (*CSV_FIELDS, *SHARD_EXTRA)])


def _import_pyarrow() -> None:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as e:
        raise ConfigError("Parquet shards need pyarrow: pip install 'geoscope[cluster]'") from e


def write_shard(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write ``rows`` (shard_row dicts) as one Parquet file at ``path``, atomically (a
    temporary name in the same folder, renamed)."""
    _import_pyarrow()
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=shard_schema()), tmp)
    tmp.replace(path)
    return path


class ResultWriter:
    """Writes scan results one at a time to ``out`` (format: ``format_of``); use as a
    context manager, or ``open()``, ``add()`` ... and ``close()``. ``count`` results so far.

    ``rows_per_shard`` results per Parquet shard (a folder output). Camera body serial
    numbers are left out unless ``include_serials``; CSV cells that a spreadsheet would
    run as formulas are written as text (see :func:`csv_cell`).
    """

    def __init__(
        self, out: Path, rows_per_shard: int = 10_000, include_serials: bool = False
    ) -> None:
        self.out = Path(out)
        self.format = format_of(self.out)
        if rows_per_shard < 1:
            raise ConfigError(f"rows_per_shard must be >= 1, got {rows_per_shard}")
        self.rows_per_shard = rows_per_shard
        self.include_serials = include_serials
        self.count = 0
        self._f: IO[str] | None = None
        self._csv: Any = None
        self._rows: list[dict[str, Any]] = []
        self._shard = 0
        self._features = 0
        self._tmp = self.out.with_name(f".{self.out.name}.tmp")

    def open(self) -> ResultWriter:
        if self.format == SHARDS:
            _import_pyarrow()
            self.out.mkdir(parents=True, exist_ok=True)
            self._shard = len(list(self.out.glob(SHARD_GLOB)))
            return self
        self.out.parent.mkdir(parents=True, exist_ok=True)
        # open across add() calls; close() or abort() closes it
        self._f = f = open(self._tmp, "w", newline="", encoding="utf-8")  # noqa: SIM115
        if self.format == "csv":
            self._csv = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            self._csv.writeheader()
        elif self.format == "json":
            f.write("[")
        else:
            f.write('{"type": "FeatureCollection", "features": [')
        return self

    def add(self, r: ScanResult) -> None:
        fmt, f, serials = self.format, self._f, self.include_serials
        if fmt == SHARDS:
            self._rows.append(shard_row(r, serials))
            if len(self._rows) >= self.rows_per_shard:
                self._flush()
        elif f is None:
            raise ConfigError("ResultWriter.add before open()")
        elif fmt == "csv":
            self._csv.writerow({k: csv_cell(v) for k, v in result_row(r, serials).items()})
        elif fmt == "json":
            text = json.dumps(result_dict(r, serials), indent=1, ensure_ascii=False)
            f.write(("\n" if not self.count else ",\n") + textwrap.indent(text, " "))
        else:
            feat = feature(r)
            if feat is not None:
                f.write((", " if self._features else "") + json.dumps(feat))
                self._features += 1
        self.count += 1

    def _flush(self) -> None:
        if self._rows:
            write_shard(self._rows, self.out / f"part-{self._shard:05d}.parquet")
            self._shard += 1
            self._rows = []

    def close(self) -> Path:
        """Finish the output (the file renamed into place); returns its path."""
        if self.format == SHARDS:
            self._flush()
            return self.out
        f = self._f
        if f is None:
            raise ConfigError("ResultWriter.close before open()")
        if self.format == "json":
            f.write("\n]\n" if self.count else "]\n")
        elif self.format == "geojson":
            f.write("]}\n")
        f.close()
        self._f = None
        self._tmp.replace(self.out)
        return self.out

    def abort(self) -> None:
        """Drop what was written (the previous file, if any, is left as it was)."""
        if self._f is not None:
            self._f.close()
            self._f = None
            self._tmp.unlink(missing_ok=True)
        self._rows = []

    def __enter__(self) -> ResultWriter:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_results(results: Iterable[ScanResult], out: Path, include_serials: bool = False) -> Path:
    """Write ``results`` to ``out``; the format follows the suffix (.csv, .json, .geojson)
    or a folder of Parquet shards. Camera body serial numbers are left out unless
    ``include_serials``."""
    with ResultWriter(out, include_serials=include_serials) as w:
        for r in results:
            w.add(r)
    return w.out


# -- reading results back ---------------------------------------------------------------
def _fingerprint(d: dict[str, Any] | None) -> FileFingerprint | None:
    if not d or d.get("size") is None:
        return None
    return FileFingerprint(int(d["size"]), int(d["mtime_ns"]), str(d["sha256"]))


def _json_metadata(path: Path, d: dict[str, Any]) -> PhotoMetadata | None:
    """The metadata of a ``result_dict`` (what it keeps of it, and its file's fingerprint)."""
    m = d.get("metadata")
    if not m:
        return None
    return PhotoMetadata(
        path,
        gps=tuple(m["gps"]) if m.get("gps") else None,  # type: ignore[arg-type]
        gps_is_estimate=bool(m.get("gps_is_estimate")),
        taken_at=datetime.fromisoformat(m["taken_at"]) if m.get("taken_at") else None,
        camera=m.get("camera") or "",
        orientation=int(m.get("orientation") or 1),
        fingerprint=_fingerprint(d.get("file")),
    )


def _located(where: str) -> tuple[Path, str]:
    """The ``path`` and ``uri`` of a result an output names ``where`` (a path, or the URI
    of an object in a store: see ScanResult)."""
    uri = where if uri_scheme(where) is not None else ""
    return Path(where), uri


def _from_json_dict(d: dict[str, Any]) -> ScanResult:
    pred = Prediction.from_dict(d["prediction"]) if d.get("prediction") else None
    path, uri = _located(d["path"])
    return ScanResult(
        path,
        ScanStatus(d["status"]),
        pred,
        _json_metadata(path, d),
        d.get("error", ""),
        d.get("reason", ""),
        uri=uri,
    )


def shard_result(row: dict[str, Any]) -> ScanResult:
    """The ScanResult of a ``shard_row`` (its metadata with the file's fingerprint)."""
    pred = Prediction.from_dict(json.loads(row["prediction"])) if row["prediction"] else None
    meta = metadata_from_dict(json.loads(row["metadata"])) if row["metadata"] else None
    if meta is not None:
        meta = dataclasses.replace(meta, fingerprint=_fingerprint(row))
    path, uri = _located(row["path"])
    return ScanResult(
        path,
        ScanStatus(row["status"]),
        pred,
        meta,
        row["error"] or "",
        row["reason"] or "",
        uri=uri,
    )


def shard_files(folder: Path) -> list[Path]:
    """The finished shards of ``folder``, by name."""
    return sorted(Path(folder).glob(SHARD_GLOB))


def read_shard(path: Path) -> Iterator[ScanResult]:
    """The results of one Parquet shard, in order (a batch of rows in memory at a time)."""
    _import_pyarrow()
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                yield shard_result(row)
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path} is not a GeoScope result shard: {e}") from e


def read_results(src: Path) -> Iterator[ScanResult]:
    """The results a scan wrote to ``src``: a .json file or a folder of Parquet shards
    (CSV and GeoJSON lack what writing needs: the fingerprint of each file scanned)."""
    src = Path(src)
    if not src.exists():
        raise DataError(f"{src} does not exist")
    fmt = format_of(src)
    if fmt == SHARDS:
        for shard in shard_files(src):
            yield from read_shard(shard)
        return
    if fmt != "json":
        raise DataError(
            f"{src.name}: results are read back from a scan's .json or Parquet shard "
            "folder (a CSV or GeoJSON lacks the fingerprint of each file scanned)"
        )
    try:
        rows = json.loads(src.read_text(encoding="utf-8"))
        for d in rows:
            yield _from_json_dict(d)
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{src} is not a GeoScope results file: {e}") from e
