from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest

from geoscope_core.errors import ConfigError, DataError
from geoscope_core.photos.metadata import FileFingerprint, PhotoMetadata
from geoscope_core.prediction import Candidate, Prediction, Source
from geoscope_core.scan.output import (
    ResultWriter,
    feature,
    read_results,
    result_dict,
    shard_files,
    write_results,
)
from geoscope_core.scan.types import ScanResult, ScanStatus


def _results(root: Path, n: int = 5) -> list[ScanResult]:
    out = []
    for i in range(n):
        path = root / f"ph\u00f6to{i}.jpg"
        fp = FileFingerprint(100 + i, 10**18 + i, f"{i:064x}")
        meta = PhotoMetadata(
            path, taken_at=datetime(2024, 5, 1, 10, i), camera="Canon EOS", fingerprint=fp
        )
        if i == 3:
            out.append(ScanResult(path, ScanStatus.ERROR, None, None, "cannot decode"))
            continue
        top = Candidate(45.0 + i, 15.0, 0.6, "HR", "Croatia", "Zagreb", "Zagreb", 30.0)
        pred = Prediction(
            45.0 + i, 15.0, 0.6, 30.0, "HR", "Croatia", "Zagreb", "Zagreb", (top,),
            Source.MODEL, "tiny@abc",
        )  # fmt: skip
        out.append(ScanResult(path, ScanStatus.PREDICTED, pred, meta, reason="model"))
    return out


def test_streamed_files_equal_whole_documents(tmp_path: Path) -> None:
    results = _results(tmp_path)
    js = write_results(iter(results), tmp_path / "r.json")
    whole = json.dumps([result_dict(r) for r in results], indent=1, ensure_ascii=False)
    assert js.read_text(encoding="utf-8") == whole + "\n"
    gj = json.loads(write_results(results, tmp_path / "r.geojson").read_text(encoding="utf-8"))
    assert gj["type"] == "FeatureCollection"
    assert gj["features"] == [f for r in results if (f := feature(r)) is not None]
    assert len(gj["features"]) == 4
    with open(write_results(results, tmp_path / "r.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["predicted"] * 3 + ["error", "predicted"]
    assert rows[3]["error"] == "cannot decode" and rows[0]["camera"] == "Canon EOS"
    # an empty scan writes valid, empty documents
    assert json.loads(write_results([], tmp_path / "e.json").read_text()) == []
    assert json.loads(write_results([], tmp_path / "e.geojson").read_text())["features"] == []


def test_results_read_back_from_json_and_shards(tmp_path: Path) -> None:
    results = _results(tmp_path)
    with ResultWriter(tmp_path / "shards", rows_per_shard=2) as w:
        for r in results:
            w.add(r)
    assert len(shard_files(tmp_path / "shards")) == 3
    write_results(results, tmp_path / "r.json")
    for src in (tmp_path / "shards", tmp_path / "r.json"):
        back = list(read_results(src))
        # each photo's fingerprint comes back: what `geoscope write` checks the file by
        assert [(b.path, b.status, b.prediction, b.error, _fp(b)) for b in back] == [
            (r.path, r.status, r.prediction, r.error, _fp(r)) for r in results
        ]
        assert _fp(back[0]) is not None
    shard_back = list(read_results(tmp_path / "shards"))
    assert shard_back[0].metadata == results[0].metadata  # shards keep the metadata whole
    with pytest.raises(DataError, match="lacks"):
        list(read_results(write_results(results, tmp_path / "r.csv")))


def _fp(r: ScanResult) -> FileFingerprint | None:
    return r.metadata.fingerprint if r.metadata is not None else None


def test_shards_keep_camera_serials_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    meta = PhotoMetadata(path, camera="Canon EOS 012345", serial="012345")
    r = ScanResult(path, ScanStatus.ERROR, None, meta, "cannot decode")
    for include, camera in ((False, "Canon EOS"), (True, "Canon EOS 012345")):
        write_results([r], tmp_path / f"s{include}", include_serials=include)
        (back,) = read_results(tmp_path / f"s{include}")
        assert back.metadata is not None and back.metadata.camera == camera


def test_failed_scan_leaves_the_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    write_results(_results(tmp_path, 2), out)
    before = out.read_bytes()
    with pytest.raises(RuntimeError), ResultWriter(out) as w:
        w.add(_results(tmp_path, 1)[0])
        raise RuntimeError("killed")
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must end in"):
        ResultWriter(tmp_path / "r.txt")
