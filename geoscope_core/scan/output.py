"""Scan results as CSV, JSON or GeoJSON files (GeoJSON opens in QGIS and geojson.io)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geoscope_core.errors import ConfigError
from geoscope_core.fsio import path_text
from geoscope_core.scan.types import ScanResult

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
FORMATS = {".csv": "csv", ".json": "json", ".geojson": "geojson"}


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
    row.update(path=path_text(r.path), status=r.status.value, error=r.error, reason=r.reason)
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


def result_dict(r: ScanResult, include_serials: bool = False) -> dict[str, Any]:
    """JSON object of one result: path, status, error, prediction (with top_k), metadata
    (the camera without its body serial number unless ``include_serials``)."""
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
        "path": path_text(r.path),
        "status": r.status.value,
        "reason": r.reason,
        "error": r.error,
        "prediction": r.prediction.to_dict() if r.prediction else None,
        "metadata": meta,
    }


def geojson(results: Sequence[ScanResult]) -> dict[str, Any]:
    """FeatureCollection of Points ([lon, lat], WGS84) for results that have a location;
    properties = path, status and the prediction's fields (top_k as a list)."""
    features = []
    for r in results:
        if r.prediction is None:
            continue
        props = {"path": path_text(r.path), "status": r.status.value, "reason": r.reason}
        props.update(r.prediction.to_dict())
        props.pop("lat")
        props.pop("lon")
        if r.metadata is not None and r.metadata.taken_at:
            props["taken_at"] = r.metadata.taken_at.isoformat()
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(r.prediction.lon, 7), round(r.prediction.lat, 7)],
                },
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def write_results(results: Sequence[ScanResult], out: Path, include_serials: bool = False) -> Path:
    """Write ``results`` to ``out``; the format follows the suffix (.csv, .json, .geojson).
    Camera body serial numbers are left out unless ``include_serials``; CSV cells that a
    spreadsheet would run as formulas are written as text (see :func:`csv_cell`)."""
    out = Path(out)
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(f"--out must end in .csv, .json or .geojson, not {out.name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if fmt == "csv":
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            w.writeheader()
            for r in results:
                w.writerow({k: csv_cell(v) for k, v in result_row(r, include_serials).items()})
    elif fmt == "json":
        tmp.write_text(
            json.dumps(
                [result_dict(r, include_serials) for r in results], indent=1, ensure_ascii=False
            )
            + "\n",
            encoding="utf-8",
        )
    else:
        tmp.write_text(json.dumps(geojson(results), ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out
