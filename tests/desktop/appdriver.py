"""Driving the desktop app in tests: a stand-in for its dialogs, real photos copied from the
shared data, and waiting for a scan.

Photos are real: copies of the shared geotagged set (their GPS stripped long ago) and
of the camera fixtures. Dialogs are answered by a stand-in so nothing modal blocks.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path
from typing import Any

import exifread
import pytest

from geoscope_core.settings import data_dir
from geoscope_desktop.main_window import MainWindow

SCAN_TIMEOUT_MS = 120_000
FIXTURE_JPEGS = ("Canon_40D.jpg", "Nikon_D70.jpg", "Fujifilm_FinePix_E500.jpg")


class FakeDialogs:
    """Answers the window's dialogs and records what it was asked."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []
        self.infos: list[tuple[str, str, str]] = []
        self.confirms: list[tuple[str, str, str]] = []
        self.answer = True
        self.folder: Path | None = None
        self.save_to: Path | None = None
        self.open_path: Path | None = None
        self.open_paths: list[Path] = []
        self.markdowns: list[str] = []
        self.unwritten_answer = "quit"
        self.unwritten_asked: list[int] = []
        self.number_answer: int | None = None
        self.numbers_asked: list[tuple[str, int]] = []

    def choose_folder(self, title: str, start: Path | None = None) -> Path | None:
        return self.folder

    def save_file(self, title: str, start: Path, filters: str) -> Path | None:
        return self.save_to

    def open_file(self, title: str, filters: str) -> Path | None:
        return self.open_path

    def open_files(self, title: str, filters: str = "") -> list[Path]:
        return self.open_paths

    def confirm(self, title: str, text: str, details: str = "", ok_text: str = "OK") -> bool:
        self.confirms.append((title, text, details))
        return self.answer

    def number(self, title: str, text: str, value: int, maximum: int, step: int) -> int | None:
        self.numbers_asked.append((title, value))
        return self.number_answer

    def error(self, title: str, text: str, details: str = "") -> None:
        self.errors.append((title, text, details))

    def info(self, title: str, text: str, details: str = "") -> None:
        self.infos.append((title, text, details))

    def markdown(self, title: str, markdown: str) -> None:
        self.markdowns.append(markdown)

    def unwritten(self, n: int) -> str:
        self.unwritten_asked.append(n)
        return self.unwritten_answer


def _geo_rows() -> list[dict[str, str]]:
    labels = data_dir() / "geo" / "labels.csv"
    if not labels.is_file():
        pytest.fail(f"shared data missing: {labels} (set $GEOSCOPE_DATA)")
    with open(labels, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def copy_geo_photos(dest: Path, n: int, start: int = 0) -> list[Path]:
    """``n`` real photos from the shared geotagged set, spread over its sets."""
    rows = _geo_rows()
    step = max(1, len(rows) // max(n, 1))
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for row in rows[start::step][:n]:
        src = data_dir() / "geo" / row["path"]
        target = dest / src.name
        shutil.copyfile(src, target)  # copyfile: the shared files are read-only
        out.append(target)
    return out


def copy_fixture(dest: Path, rel: str) -> Path:
    src = data_dir() / "fixtures" / "exif-samples" / "jpg" / rel
    if not src.is_file():
        pytest.fail(f"shared fixture missing: {src}")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / Path(rel).name
    shutil.copyfile(src, target)
    return target


def scan(qtbot: Any, win: MainWindow) -> bool:
    """Start a scan and wait for it; returns ``cancelled``."""
    with qtbot.waitSignal(win.scan_finished, timeout=SCAN_TIMEOUT_MS) as blocker:
        assert win.start_scan()
    return bool(blocker.args[0])


def gps_of(path: Path) -> tuple[float, float] | None:
    with open(path, "rb") as f:
        tags = exifread.process_file(f, details=False)
    if "GPS GPSLatitude" not in tags:
        return None

    def deg(tag: Any) -> float:
        d, m, s = (float(x.num) / float(x.den) for x in tag.values)
        return d + m / 60 + s / 3600

    lat = deg(tags["GPS GPSLatitude"]) * (-1 if str(tags["GPS GPSLatitudeRef"]) == "S" else 1)
    lon = deg(tags["GPS GPSLongitude"]) * (-1 if str(tags["GPS GPSLongitudeRef"]) == "W" else 1)
    return lat, lon


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
