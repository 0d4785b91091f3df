"""CSV track logs: a header row naming a time column and latitude/longitude columns
(``time,lat,lon``; My Tracks' ``"Latitude (deg)"``; ``date`` + ``time``), found among the
first 50 lines, with ``,``, ``;`` or tab between values. Times are ISO 8601 (no zone
means UTC) or epoch seconds/milliseconds.

DJI flight logs exported as CSV (``Time(seconds),Time(text),Latitude,Longitude``) count
seconds from the start of the flight, whose time is only in the file name
(``..._2020-12-02_[07-50-31].csv``). That time is taken as UTC, as ExifTool does when its
computer's zone is UTC (it reads it in the computer's zone); a warning says so."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from geoscope_core.evidence.formats.base import (
    RawTrack,
    TrackError,
    parse_any_time,
    text_lines,
    to_float,
    utc_epoch,
    utc_text,
)

_COLS = {
    "time": re.compile(r"^(gps ?)?(date ?time|time ?stamp|time|datetime|utc|when)\b", re.I),
    "date": re.compile(r"^(gps ?)?date\b", re.I),
    "lat": re.compile(r"^(pos ?)?lat(itude)?\b", re.I),
    "lon": re.compile(r"^(pos ?)?(lon|lng|long|longitude)\b", re.I),
    "ele": re.compile(r"^(ele|elevation|alt|altitude)\b", re.I),
}
#: DJI's seconds since the start of the flight (its "Time(text)" column is "0m 0.3s")
_RUNTIME = re.compile(r"^time ?\(seconds\)$", re.I)
#: The flight's start in a DJI log's file name: YYYY-MM-DD, anything, HH-MM-SS
_DJI_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[^/\\]+(\d{2})-(\d{2})-(\d{2})[^/\\]*$")


def _header(row: list[str]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for i, name in enumerate(row):
        name = name.strip()
        if _RUNTIME.match(name) and "runtime" not in found:
            found["runtime"] = i
            continue
        for key, rx in _COLS.items():
            low = name.lower()
            if (
                key not in found
                and rx.match(name)
                and not low.endswith("ref")
                and "second" not in low
            ):
                if key == "date" and _COLS["time"].match(name):
                    continue
                found[key] = i
                break
    if "runtime" in found:  # a DJI log: the other time columns are the same seconds
        found.pop("time", None)
        found.pop("date", None)
    if "lat" in found and "lon" in found and ({"time", "date", "runtime"} & found.keys()):
        return found
    return None


def _dji_start(name: str) -> float:
    """Epoch seconds of the flight start in a DJI log's file name (read as UTC)."""
    m = _DJI_NAME.search(Path(name).name)
    if not m:
        raise TrackError(
            "DJI CSV (Time(seconds) column): its start time is only in the file name "
            f"(e.g. ..._2020-12-02_[07-50-31].csv), and {Path(name).name!r} has none"
        )
    try:
        return utc_epoch(*(int(x) for x in m.groups()))
    except ValueError as e:
        raise TrackError(
            f"DJI CSV: start time in the file name {Path(name).name!r} out of range"
        ) from e


def read(stream: BinaryIO, name: str = "") -> RawTrack:
    first = list(itertools.islice(text_lines(stream), 50))
    stream.seek(0)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            "\n".join(first), delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    rows = csv.reader(text, dialect)
    raw = RawTrack("CSV")
    try:
        cols = _rows(rows, raw, name)
    except csv.Error as e:
        raise TrackError(f"line {rows.line_num}: unreadable CSV: {e}") from e
    finally:
        text.detach()
    if cols is None:
        raise TrackError(
            "no CSV header with time, latitude and longitude columns in the first 50 lines"
        )
    return raw


def _when(row: list[str], cols: dict[str, int]) -> str:
    """The time text of ``row``: its time column, with the date column's date before it."""
    if "time" not in cols:
        return row[cols["date"]]
    when = row[cols["time"]]
    if "date" in cols and cols["date"] != cols["time"] and not re.search(r"\d{4}-", when):
        when = f"{row[cols['date']].strip()}T{when.strip()}"
    return when


def _rows(rows: Iterable[list[str]], raw: RawTrack, name: str) -> dict[str, int] | None:
    cols: dict[str, int] | None = None
    start = 0.0
    for n, row in enumerate(rows, 1):
        if cols is None:
            if n > 50:
                break
            cols = _header(row)
            if cols is not None and "runtime" in cols:
                start = _dji_start(name)
                raw.format = "DJI CSV"
                raw.warn(
                    f"start time {utc_text(start)} from the file name, taken as UTC (DJI names "
                    "its logs in the phone's clock time; --time-offset corrects a difference)"
                )
            continue
        if not row or not any(c.strip() for c in row):
            continue
        where = f"line {n}"
        try:
            if "runtime" in cols:
                t = start + to_float(row[cols["runtime"]], "Time(seconds)")
            else:
                t = parse_any_time(_when(row, cols))
            lat = to_float(row[cols["lat"]], "latitude")
            lon = to_float(row[cols["lon"]], "longitude")
            ele_s = row[cols["ele"]].strip() if "ele" in cols and cols["ele"] < len(row) else ""
            ele = to_float(ele_s, "altitude") if ele_s else None
        except (ValueError, IndexError) as e:
            raw.warn(f"{where}: {e if isinstance(e, ValueError) else 'too few columns'}; skipped")
            continue
        raw.add(t, lat, lon, ele, where=where)
    return cols
