"""``geoscope scan --write --fill-names``: photos that carry camera GPS get their place
names from their own point, the GPS untouched, in the same journal as the estimates."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from geoscope_core.cli import main
from geoscope_core.photos.metadata import read_metadata
from geoscope_core.photos.writer import metadata_dump
from tests.bundles import RED, anchors_of, make_bundle, write_jpeg


def _names(f: Path) -> tuple[str, str]:
    out = subprocess.run(
        ["exiftool", "-j", "-XMP:City", "-XMP:Country", str(f)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    (d,) = json.loads(out)
    return d.get("City", ""), d.get("Country", "")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSCOPE_CACHE_DIR", str(tmp_path / "cache"))


def test_fill_names_writes_the_names_of_camera_gps_only(tmp_path: Path, capsys) -> None:
    bundle = make_bundle(tmp_path / "tiny", anchors=anchors_of("HR", "JP"), logit_scale=50.0)
    root = tmp_path / "photos"
    write_jpeg(root / "zagreb.jpg", RED, gps=(45.815, 15.982))
    write_jpeg(root / "guess.jpg", RED)
    zagreb, guess = root / "zagreb.jpg", root / "guess.jpg"
    before = {p: p.read_bytes() for p in (zagreb, guess)}
    gps = {k: v for k, v in metadata_dump(before[zagreb]).items() if k.startswith("GPS ")}

    argv = ["scan", str(root), "--model", str(bundle), "--no-progress", "--no-neighbors"]
    assert main([*argv, "--fill-names"]) == 0  # without --write: only what it would do
    out = capsys.readouterr().out
    assert "would-write" in out and zagreb.read_bytes() == before[zagreb]

    assert main([*argv, "--write", "--fill-names"]) == 0
    out = capsys.readouterr().out
    assert _names(zagreb) == ("Zagreb", "Croatia")
    assert _names(guess)[1] == "Croatia"  # the estimate names its place as before
    after = {k: v for k, v in metadata_dump(zagreb.read_bytes()).items() if k.startswith("GPS ")}
    assert after == gps and not read_metadata(zagreb).gps_is_estimate
    assert read_metadata(guess).gps_is_estimate  # the estimate is written as before
    journal = out.split("journal: ")[1].split()[0]
    assert main(["undo", journal]) == 0
    assert {p: p.read_bytes() for p in before} == before
