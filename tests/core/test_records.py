"""Labels-CSV and GPS-photo-folder readers."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from geoscope_core.errors import DataError
from geoscope_core.records import (
    GeoRecord,
    read_labels_csv,
    records_from_folder,
    shared_geo_records,
)
from geoscope_core.settings import data_dir


def _jpeg(path: Path, gps: tuple[float, float] | None = None) -> Path:
    """A small JPEG, with a GPS IFD when ``gps`` (lat, lon degrees) is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (16, 16), (90, 120, 30))
    exif = Image.Exif()
    if gps is not None:
        lat, lon = gps

        def dms(v: float) -> tuple[IFDRational, IFDRational, IFDRational]:
            v = abs(v)
            d, m = int(v), int((abs(v) - int(v)) * 60)
            s = round(((v - d) * 60 - m) * 60 * 1000)
            return IFDRational(d), IFDRational(m), IFDRational(s, 1000)

        exif.get_ifd(0x8825).update(
            {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}
        )
    img.save(path, exif=exif)
    return path


def test_labels_csv_reports_bad_rows_with_line_numbers(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        _jpeg(tmp_path / "img" / name)
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(
        "path,lat,lon,country_code,split\n"  # line 1
        "img/a.jpg,45.815,15.982,hr,train\n"  # 2 ok (code upper-cased)
        "img/b.jpg,north,15.9,HR,train\n"  # 3 lat not a number
        "img/c.jpg,95.0,15.9,HR,val\n"  # 4 lat out of range
        "\n"  # 5 blank: ignored
        "img/missing.jpg,45.0,15.0,HR,val\n"  # 6 photo not found
        "img/d.jpg,45.0,15.0,CRO,val\n"  # 7 bad country code
        ",45.0,15.0,HR,val\n"  # 8 no path
        "img/d.jpg,45.0\n"  # 9 no lon
        "img/d.jpg,45.0,15.0,HR,val,extra\n"  # 10 too many fields
        "img/d.jpg,-33.9,151.2,,val\n",  # 11 ok, no country
        encoding="utf-8",
    )
    records, problems = read_labels_csv(csv_path)
    assert records == [
        GeoRecord(tmp_path / "img/a.jpg", 45.815, 15.982, "HR", "train"),
        GeoRecord(tmp_path / "img/d.jpg", -33.9, 151.2, "", "val"),
    ]
    lines = [p.where.rsplit(":", 1)[1] for p in problems]
    assert lines == ["3", "4", "6", "7", "8", "9", "10"]
    assert all(p.where.startswith(str(csv_path)) for p in problems)
    reasons = [p.reason for p in problems]
    assert "not a number" in reasons[0]
    assert "outside" in reasons[1]
    assert "not found" in reasons[2]
    assert "alpha-2" in reasons[3]
    assert "missing path" in reasons[4]
    assert "missing lon" in reasons[5]
    assert "fields" in reasons[6]


def test_labels_csv_root_bom_and_header_case(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    _jpeg(root / "x.jpg")
    csv_path = tmp_path / "meta" / "labels.csv"
    csv_path.parent.mkdir()
    csv_path.write_text("\ufeffLon, Lat ,PATH\n2.35,48.86,x.jpg\n", encoding="utf-8")
    records, problems = read_labels_csv(csv_path, root=root)
    assert problems == []
    assert records == [GeoRecord(root / "x.jpg", 48.86, 2.35)]
    # without the root, the path is relative to the CSV's folder and is missing
    records, problems = read_labels_csv(csv_path)
    assert records == [] and len(problems) == 1
    records, problems = read_labels_csv(csv_path, check_files=False)
    assert records == [GeoRecord(csv_path.parent / "x.jpg", 48.86, 2.35)]


def test_labels_csv_missing_file_or_columns_raise(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_labels_csv(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("path,latitude,lon\nx.jpg,1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="lat"):
        read_labels_csv(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        read_labels_csv(empty)


def test_records_from_folder_reports_unusable_photos(tmp_path: Path) -> None:
    _jpeg(tmp_path / "zagreb.jpg", gps=(45.815, 15.982))
    _jpeg(tmp_path / "sub" / "sydney.jpg", gps=(-33.8688, 151.2093))
    _jpeg(tmp_path / "no_gps.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe1garbage")
    (tmp_path / "notes.txt").write_text("not a photo", encoding="utf-8")
    records, problems = records_from_folder(tmp_path)
    by_name = {r.path.name: r for r in records}
    assert set(by_name) == {"zagreb.jpg", "sydney.jpg"}
    assert by_name["zagreb.jpg"].lat == pytest.approx(45.815, abs=1e-5)
    assert by_name["zagreb.jpg"].lon == pytest.approx(15.982, abs=1e-5)
    assert by_name["sydney.jpg"].lat == pytest.approx(-33.8688, abs=1e-5)
    assert by_name["sydney.jpg"].lon == pytest.approx(151.2093, abs=1e-5)
    reported = {Path(p.where).name: p.reason for p in problems}
    assert reported["no_gps.jpg"] == "no GPS position"
    assert "broken.jpg" in reported
    assert "notes.txt" not in reported  # not a photo at all
    with pytest.raises(DataError):
        records_from_folder(tmp_path / "missing")


def test_shared_geo_labels_read_completely() -> None:
    """Every row of the shared labels CSV becomes a record with its set, scope and place,
    and the split is grouped by place (the data grows: properties, not counts)."""
    csv_path = data_dir() / "geo" / "labels.csv"
    assert csv_path.is_file(), f"shared data missing at {csv_path} (set GEOSCOPE_DATA)"
    with csv_path.open(encoding="utf-8") as fh:
        rows = sum(1 for line in fh if line.strip()) - 1
    records = shared_geo_records()
    assert len(records) == rows
    assert {r.split for r in records} == {"train", "val"}
    assert {r.scope for r in records} == {"world", "regional", "one_place"}
    assert all(r.set and r.location_id and r.country_code for r in records)
    assert len({r.country_code for r in records}) >= 80
    # views of one place never straddle the split, and each set has both splits
    split_of: dict[str, set[str]] = {}
    for r in records:
        split_of.setdefault(r.location_id, set()).add(r.split)
    assert all(len(s) == 1 for s in split_of.values())
    for name in {r.set for r in records}:
        assert {r.split for r in records if r.set == name} == {"train", "val"}, name
    train, val = shared_geo_records("train"), shared_geo_records("val")
    assert len(train) + len(val) == len(records)
    assert all(r.path.is_file() for r in val[:50])
    with pytest.raises(DataError):
        shared_geo_records("test")


def test_shared_geo_records_fail_loudly_without_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GEOSCOPE_DATA", str(tmp_path))
    with pytest.raises(DataError, match="GEOSCOPE_DATA"):
        shared_geo_records()
