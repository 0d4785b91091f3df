"""Capture-time fields read from real photos, checked against ExifTool."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime

from geoscope_core.photos.metadata import parse_utc_offset, read_metadata
from geoscope_core.settings import data_dir

PHOTOS = [
    "pixtrail_rome_2024-08-10/BDH_10_1I_0180.jpg",  # SubSecTimeOriginal, GPS time, no offset
    "marchyman_geotag_testimages/IMG_4949.jpeg",  # iPhone: OffsetTimeOriginal -08:00
    "marchyman_geotag_testimages/location+void.jpg",  # Olympus: +01:00
    "mapillary_portland_2018-06-08/DSC00001.JPG",  # Sony action cam: -07:00, GPS time
]


def test_subseconds_offset_and_gps_time_match_exiftool() -> None:
    root = data_dir() / "tracks" / "trips"
    paths = [root / p for p in PHOTOS]
    out = subprocess.run(
        [
            "exiftool",
            "-j",
            "-SubSecDateTimeOriginal",
            "-OffsetTimeOriginal",
            "-GPSDateTime",
            "-d",
            "%Y-%m-%dT%H:%M:%S",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ref = {d["SourceFile"]: d for d in json.loads(out)}
    for p in paths:
        m = read_metadata(p)
        r = ref[str(p)]
        assert m.taken_at is not None
        # SubSecDateTimeOriginal looks like "2024:08:10 14:34:15.694[+02:00]"
        sub = str(r["SubSecDateTimeOriginal"])[:23].replace(":", "-", 2)
        want = datetime.fromisoformat(sub.replace(" ", "T")) if "." in sub else None
        if want is not None:
            assert m.taken_at == want, (p, m.taken_at, want)
        off = r.get("OffsetTimeOriginal")
        assert m.utc_offset_min == (parse_utc_offset(off) if off else None), p
        gps = r.get("GPSDateTime")
        if gps:
            assert m.gps_utc is not None
            assert m.gps_utc.replace(microsecond=0) == datetime.fromisoformat(gps[:19]), p
    assert parse_utc_offset("+05:30") == 330 and parse_utc_offset("   :  ") is None
