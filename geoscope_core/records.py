"""Geotagged photo records: from a labels CSV or from a folder of GPS-tagged photos.

Both readers return ``(records, problems)``: every row or file that cannot
become a record is reported as a :class:`RecordProblem` naming its line or path,
never dropped silently. Coordinates are WGS84 degrees.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from geoscope_core import settings
from geoscope_core.errors import DataError, MetadataError

log = logging.getLogger(__name__)

#: Columns a labels CSV must have; the other :class:`GeoRecord` fields are optional.
REQUIRED_COLUMNS: tuple[str, ...] = ("path", "lat", "lon")
#: Optional text columns copied as they are (stripped) into the record field of that name.
TEXT_COLUMNS: tuple[str, ...] = ("split", "set", "scope", "location_id")


@dataclass(frozen=True)
class GeoRecord:
    """One photo with its true location: ``lat``/``lon`` in degrees, ``country_code``
    ISO alpha-2 ("" when unknown), ``split`` e.g. "train"/"val", ``set`` the data set it
    comes from, ``scope`` how widely that set is spread ("world", "regional",
    "one_place") and ``location_id`` the place it shows (views of one place share it);
    each "" when not given."""

    path: Path
    lat: float
    lon: float
    country_code: str = ""
    split: str = ""
    set: str = ""
    scope: str = ""
    location_id: str = ""


@dataclass(frozen=True)
class RecordProblem:
    """Why a row or file gave no record; ``where`` is ``"file.csv:line"`` or a photo path."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _parse_coordinate(text: str | None, name: str, limit: float) -> float:
    if text is None or not text.strip():
        raise ValueError(f"missing {name}")
    try:
        value = float(text)
    except ValueError as e:
        raise ValueError(f"{name} {text.strip()!r} is not a number") from e
    if not math.isfinite(value) or abs(value) > limit:
        raise ValueError(f"{name} {value} is outside [-{limit:g}, {limit:g}]")
    return value


def read_labels_csv(
    csv_path: Path, root: Path | None = None, check_files: bool = True
) -> tuple[list[GeoRecord], list[RecordProblem]]:
    """Read a labels CSV with columns ``path,lat,lon`` and optionally ``country_code``,
    ``split``, ``set``, ``scope``, ``location_id`` (any order, extra columns ignored,
    header names case-insensitive).

    Paths are relative to ``root`` (default: the CSV's folder) unless absolute. Rows
    with a missing or malformed field, a bad country code, too many fields or (with
    ``check_files``) a photo that does not exist become problems ``"<csv>:<line>"``.
    Raises DataError when the CSV is missing, unreadable or lacks a required column.
    """
    csv_path = Path(csv_path)
    base = Path(root) if root is not None else csv_path.parent
    records: list[GeoRecord] = []
    problems: list[RecordProblem] = []
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DataError(
                    f"{csv_path} is empty: expected a header {','.join(REQUIRED_COLUMNS)}"
                )
            columns = [h.strip().lower() for h in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise DataError(
                    f"{csv_path} lacks column(s) {', '.join(missing)}; "
                    f"found {', '.join(columns) or 'none'}"
                )
            col = {name: columns.index(name) for name in columns if name}
            for row in reader:
                where = f"{csv_path}:{reader.line_num}"
                if not row or all(not cell.strip() for cell in row):
                    continue
                try:
                    records.append(_row_record(row, col, len(columns), base, check_files))
                except ValueError as e:
                    problems.append(RecordProblem(where, str(e)))
    except FileNotFoundError as e:
        raise DataError(f"labels CSV {csv_path} not found") from e
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read labels CSV {csv_path}: {e}") from e
    if problems:
        log.warning("%s: %d row(s) skipped, first: %s", csv_path, len(problems), problems[0])
    return records, problems


def _row_record(
    row: list[str], col: dict[str, int], n_columns: int, base: Path, check_files: bool
) -> GeoRecord:
    """One CSV row as a record; ValueError with the reason when it is not valid."""
    if len(row) > n_columns:
        raise ValueError(f"{len(row)} fields for {n_columns} columns (unquoted comma?)")

    def cell(name: str) -> str | None:
        i = col.get(name)
        return row[i] if i is not None and i < len(row) else None

    rel = (cell("path") or "").strip()
    if not rel:
        raise ValueError("missing path")
    lat = _parse_coordinate(cell("lat"), "lat", 90.0)
    lon = _parse_coordinate(cell("lon"), "lon", 180.0)
    cc = (cell("country_code") or "").strip().upper()
    if cc and not (len(cc) == 2 and cc.isalpha() and cc.isascii()):
        raise ValueError(f"country_code {cc!r} is not an ISO 3166-1 alpha-2 code")
    path = Path(rel) if Path(rel).is_absolute() else base / rel
    if check_files and not path.is_file():
        raise ValueError(f"photo {path} not found")
    text = {name: (cell(name) or "").strip() for name in TEXT_COLUMNS}
    return GeoRecord(path=path, lat=lat, lon=lon, country_code=cc, **text)


def records_from_folder(folder: Path) -> tuple[list[GeoRecord], list[RecordProblem]]:
    """Records from the photos under ``folder`` (recursive) that carry a GPS position
    (EXIF or XMP sidecar), e.g. a user's own library as training or reference data.

    Unreadable photos, photos without GPS and photos whose GPS GeoScope itself
    estimated (never ground truth) are reported as problems with their path.
    Raises DataError when ``folder`` is not a directory.
    """
    from geoscope_core.photos.metadata import read_metadata
    from geoscope_core.photos.walk import iter_photos

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"photo folder {folder} not found or not a directory")
    records: list[GeoRecord] = []
    problems: list[RecordProblem] = []
    for path in iter_photos(folder):
        try:
            meta = read_metadata(path)
        except MetadataError as e:
            problems.append(RecordProblem(str(path), f"unreadable metadata: {e}"))
            continue
        if meta.gps is None:
            problems.append(RecordProblem(str(path), "no GPS position"))
        elif meta.gps_is_estimate:
            problems.append(RecordProblem(str(path), "GPS is a GeoScope estimate, not a fix"))
        else:
            records.append(GeoRecord(path=path, lat=meta.gps[0], lon=meta.gps[1]))
    return records, problems


def shared_geo_records(split: str | None = None) -> list[GeoRecord]:
    """The development data set ``data_dir()/geo/labels.csv`` (see its README: photos
    with ``set``, ``scope`` and ``location_id``), optionally only one ``split``
    ("train" or "val").

    Raises DataError when the data is missing (set $GEOSCOPE_DATA), when a row is
    invalid, or when no record has the requested split.
    """
    csv_path = settings.data_dir() / "geo" / "labels.csv"
    if not csv_path.is_file():
        raise DataError(
            f"shared geo data not found at {csv_path}; point ${settings.DATA_ENV} at the "
            "folder holding geo/labels.csv"
        )
    records, problems = read_labels_csv(csv_path)
    if problems:
        shown = "; ".join(str(p) for p in problems[:3])
        raise DataError(f"{len(problems)} invalid row(s) in {csv_path}: {shown}")
    if split is not None:
        records = [r for r in records if r.split == split]
        if not records:
            raise DataError(f"no records with split {split!r} in {csv_path}")
    return records
