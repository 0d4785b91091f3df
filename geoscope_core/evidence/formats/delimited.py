"""CSV track logs: a header row naming a time column and latitude/longitude columns
(``time,lat,lon``; My Tracks' ``"Latitude (deg)"``; ``date`` + ``time``), found among the
first 50 lines, with ``,``, ``;`` or tab between values. Times are ISO 8601 (no zone
means UTC) or epoch seconds/milliseconds."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from geoscope_core.evidence.formats.base import RawTrack, TrackError, parse_any_time, to_float

_COLS = {
    "time": re.compile(r"^(gps ?)?(date ?time|time ?stamp|time|datetime|utc|when)\b", re.I),
    "date": re.compile(r"^(gps ?)?date\b", re.I),
    "lat": re.compile(r"^(pos ?)?lat(itude)?\b", re.I),
    "lon": re.compile(r"^(pos ?)?(lon|lng|long|longitude)\b", re.I),
    "ele": re.compile(r"^(ele|elevation|alt|altitude)\b", re.I),
}


def _header(row: list[str]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for i, name in enumerate(row):
        name = name.strip()
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
    if "lat" in found and "lon" in found and ("time" in found or "date" in found):
        return found
    return None


def read(data: bytes, name: str = "") -> RawTrack:
    text = data.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            "\n".join(lines[:50]), delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    raw = RawTrack("CSV")
    try:
        cols = _rows(rows, raw)
    except csv.Error as e:
        raise TrackError(f"line {rows.line_num}: unreadable CSV: {e}") from e
    if cols is None:
        raise TrackError(
            "no CSV header with time, latitude and longitude columns in the first 50 lines"
        )
    return raw


def _rows(rows: Iterable[list[str]], raw: RawTrack) -> dict[str, int] | None:
    cols: dict[str, int] | None = None
    for n, row in enumerate(rows, 1):
        if cols is None:
            if n > 50:
                break
            cols = _header(row)
            continue
        if not row or not any(c.strip() for c in row):
            continue
        where = f"line {n}"
        try:
            if "time" in cols:
                when = row[cols["time"]]
                if (
                    "date" in cols
                    and cols["date"] != cols["time"]
                    and not re.search(r"\d{4}-", when)
                ):
                    when = f"{row[cols['date']].strip()}T{when.strip()}"
            else:
                when = row[cols["date"]]
            t = parse_any_time(when)
            lat = to_float(row[cols["lat"]], "latitude")
            lon = to_float(row[cols["lon"]], "longitude")
            ele_s = row[cols["ele"]].strip() if "ele" in cols and cols["ele"] < len(row) else ""
            ele = to_float(ele_s, "altitude") if ele_s else None
        except (ValueError, IndexError) as e:
            raw.warn(f"{where}: {e if isinstance(e, ValueError) else 'too few columns'}; skipped")
            continue
        raw.add(t, lat, lon, ele, where=where)
    return cols
