"""Regenerate ``desktop/resources/world_outlines.json`` from Natural Earth 1:110m countries.

The source is the ``naturalearth_lowres`` shapefile that geopandas 0.14 ships
(Natural Earth, public domain), read with pyshp. Both are needed only to
regenerate the resource, never at run time::

    pip download --no-deps geopandas==0.14.4 pyshp
    unzip geopandas-0.14.4-py3-none-any.whl 'geopandas/datasets/*' -d ne
    unzip pyshp-*.whl -d pyshp
    PYTHONPATH=pyshp python packaging/make_world_outlines.py \
        ne/geopandas/datasets/naturalearth_lowres/naturalearth_lowres

Output: ``{"source", "license", "countries": [{"name", "iso_a2", "iso_a3",
"continent", "rings": [[lon, lat, lon, lat, ...], ...]}]}`` with coordinates
in degrees rounded to 0.01 (about 1 km).
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pycountry
import shapefile  # pyshp

OUT = Path(__file__).resolve().parent.parent / "desktop" / "resources" / "world_outlines.json"


def _iso_a2(iso_a3: str, name: str) -> str:
    country = pycountry.countries.get(alpha_3=iso_a3) if iso_a3 != "-99" else None
    if country is None:
        special = {
            "Kosovo": "XK",
            "France": "FR",
            "Norway": "NO",
            "N. Cyprus": "",
            "Somaliland": "",
        }
        return special.get(name, "")
    return str(country.alpha_2)


def main(argv: list[str]) -> int:
    reader = shapefile.Reader(argv[0])
    countries = []
    for shape_rec in reader.iterShapeRecords():
        rec = shape_rec.record.as_dict()
        shape = shape_rec.shape
        starts = [*list(shape.parts), len(shape.points)]
        rings = []
        for a, b in itertools.pairwise(starts):
            flat: list[float] = []
            for lon, lat in shape.points[a:b]:
                flat += [round(lon, 2), round(lat, 2)]
            rings.append(flat)
        countries.append(
            {
                "name": rec["name"],
                "iso_a2": _iso_a2(rec["iso_a3"], rec["name"]),
                "iso_a3": rec["iso_a3"],
                "continent": rec["continent"],
                "rings": rings,
            }
        )
    payload = {
        "source": "Natural Earth 1:110m Admin 0 countries (naturalearth_lowres, geopandas 0.14.4)",
        "license": "public domain (Natural Earth terms of use)",
        "countries": countries,
    }
    OUT.write_text(json.dumps(payload, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(countries)} countries, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
