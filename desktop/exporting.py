"""Export the app's results through the runtime's result writers (CSV, JSON, GeoJSON).

The app keeps each photo's scanner result; the exported location is the one
shown (a correction the user made included), and a rejected estimate is
exported without a location.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from geoscope_desktop.items import PhotoItem, PhotoStatus

#: file-dialog filters per export kind
FILE_FILTERS = {"csv": "CSV (*.csv)", "geojson": "GeoJSON (*.geojson *.json)"}


def export_items(items: Sequence[PhotoItem], target: Path) -> Path:
    """Write the scanned ``items`` to ``target`` (.csv, .json or .geojson); returns the path.

    Raises ConfigError for another suffix and OSError when the file cannot be written.
    """
    from geoscope_core.scan.output import write_results

    results = []
    for it in items:
        if it.result is None:
            continue
        prediction = None if it.status is PhotoStatus.REJECTED else it.prediction
        results.append(replace(it.result, prediction=prediction))
    return write_results(results, Path(target))
